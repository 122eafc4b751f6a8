/**
 * What other parts of the platform use from auth: the service itself, the CLI's bootstrap, and the names the
 * gateway shares with it (cache keys, the revocation subject); the internal-token header and its dev file are the
 * kit's.
 */
export { issueKeyForEmail } from "./bootstrap.ts";
export { AUTHN_PREFIX, CREDENTIAL_REVOKED_SUBJECT, credentialHash } from "./credentials.ts";
export { start, startAuth } from "./main.ts";
export { loadInternalToken } from "./signing.ts";
