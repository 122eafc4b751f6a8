import type { IncomingHttpHeaders } from "node:http";

/**
 * What a client presents: `X-API-Key: <key>`, or `Authorization: Bearer <jwt>`. OpenAI SDKs send their key
 * as a bearer token, so a bearer that looks like a Gaia key (`gaia_...`) is an API key too.
 */
export interface Credential {
  kind: "api_key" | "bearer";
  value: string;
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export function credentialOf(headers: IncomingHttpHeaders): Credential | undefined {
  const key = first(headers["x-api-key"])?.trim();
  if (key) return { kind: "api_key", value: key };
  const authorization = headers.authorization;
  if (!authorization || authorization.length < 8) return undefined;
  if (authorization.slice(0, 7).toLowerCase() !== "bearer ") return undefined;
  const token = authorization.slice(7).trim();
  if (!token) return undefined;
  return { kind: token.startsWith("gaia_") ? "api_key" : "bearer", value: token };
}
