/**
 * What other parts of the platform use from auth: the service itself, the CLI's bootstrap, and the names the
 * gateway shares with it; the cache contract, the internal-token header and its dev file are the kit's.
 */
export { issueKeyForEmail } from "./bootstrap.ts";
export { start, startAuth } from "./main.ts";
export { loadInternalToken } from "./signing.ts";
