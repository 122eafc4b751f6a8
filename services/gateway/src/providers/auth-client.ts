import {
  badGateway,
  HttpError,
  type Identity,
  INTERNAL_TOKEN_HEADER,
  INTERNAL_TOKEN_REFUSED,
  parseIdentity,
  serviceUnavailable,
  unauthorized,
} from "@gaia/kit";
import type { Pool } from "undici";
import type { Credential } from "../credentials.ts";

/**
 * Auth's internal endpoints, as the gateway uses them (both need X-Gaia-Internal-Token):
 *   POST /internal/authenticate {api_key} | {bearer} → {identity, token, expires_at}  (401/403 {detail})
 *   POST /internal/service-token {identity}         → {token, expires_at}
 * `expires_at` is in epoch seconds.
 */

const TIMEOUT_MS = 5_000;

export interface ServiceToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface AuthClientOptions {
  pool: Pool;
  /** The shared secret for auth's /internal endpoints; undefined when this process does not hold it. */
  internalToken: () => Promise<string | undefined>;
}

const unavailable = () => serviceUnavailable("auth service is unavailable");
// Misconfiguration, not the client's fault: say which setting, so whoever reads the 503 can fix it.
const noSecret = () =>
  serviceUnavailable(
    "The gateway cannot authenticate: GAIA_INTERNAL_TOKEN is not set (give it auth's value)",
  );
const secretRefused = () =>
  serviceUnavailable(
    "The gateway cannot authenticate: auth refused its GAIA_INTERNAL_TOKEN (they must match)",
  );

function tokenOf(body: { token?: unknown; expires_at?: unknown }): ServiceToken | undefined {
  if (typeof body.token !== "string" || typeof body.expires_at !== "number") return undefined;
  return { token: body.token, expiresAt: body.expires_at * 1000 };
}

export class AuthClient {
  readonly #pool: Pool;
  readonly #internalToken: () => Promise<string | undefined>;

  constructor(options: AuthClientOptions) {
    this.#pool = options.pool;
    this.#internalToken = options.internalToken;
  }

  /** Every internal endpoint needs the shared secret; auth refusing it is this gateway's problem, not the client's. */
  async #post(path: string, payload: unknown, requestId: string) {
    const secret = await this.#internalToken();
    if (!secret) throw noSecret();
    let reply: { statusCode: number; answer: Record<string, unknown> };
    try {
      const { statusCode, body } = await this.#pool.request({
        method: "POST",
        path,
        headers: {
          "content-type": "application/json",
          "x-request-id": requestId,
          [INTERNAL_TOKEN_HEADER]: secret,
        },
        body: JSON.stringify(payload),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      reply = { statusCode, answer: (await body.json().catch(() => ({}))) as Record<string, unknown> };
    } catch {
      throw unavailable();
    }
    if (reply.statusCode === 401 && reply.answer.code === INTERNAL_TOKEN_REFUSED) throw secretRefused();
    return reply;
  }

  /** Prove a credential; auth's 401 and 403 reach the client with auth's own words. */
  async authenticate(
    credential: Credential,
    requestId: string,
  ): Promise<{ identity: Identity; token: ServiceToken }> {
    const payload =
      credential.kind === "api_key" ? { api_key: credential.value } : { bearer: credential.value };
    const { statusCode, answer } = await this.#post("/internal/authenticate", payload, requestId);
    if (statusCode === 200) {
      const identity = parseIdentity(answer.identity);
      const token = tokenOf(answer);
      if (identity && token) return { identity, token };
      throw badGateway("auth service answered without an identity");
    }
    const detail = typeof answer.detail === "string" ? answer.detail : undefined;
    const code = typeof answer.code === "string" ? answer.code : undefined;
    if (statusCode === 403) throw new HttpError(403, detail ?? "Not permitted", { code });
    if (statusCode >= 400 && statusCode < 500) throw unauthorized(detail ?? "Invalid credentials", code);
    throw statusCode === 503 ? unavailable() : badGateway("auth service failed to answer");
  }

  /**
   * A fresh service token for an identity the gateway already trusts (read from the shared cache). Undefined
   * when auth will not mint one for it: the caller then proves the credential again instead.
   */
  async serviceToken(identity: Identity, requestId: string): Promise<ServiceToken | undefined> {
    const { statusCode, answer } = await this.#post("/internal/service-token", { identity }, requestId);
    if (statusCode === 200) return tokenOf(answer);
    if (statusCode >= 500) throw unavailable();
    return undefined;
  }
}
