import {
  badGateway,
  HttpError,
  type Identity,
  INTERNAL_TOKEN_HEADER,
  parseIdentity,
  serviceUnavailable,
  unauthorized,
} from "@gaia/kit";
import type { Pool } from "undici";
import type { Credential } from "../credentials.ts";

/**
 * Auth's internal endpoints, as the gateway uses them:
 *   POST /internal/authenticate {api_key} | {bearer} → {identity, token, expires_at}  (401/403 {detail})
 *   POST /internal/service-token {identity}         → {token, expires_at}  (needs X-Gaia-Internal-Token)
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
  /** The shared secret for /internal/service-token; undefined when this process does not hold it. */
  internalToken: () => Promise<string | undefined>;
}

const unavailable = () => serviceUnavailable("auth service is unavailable");

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

  async #post(path: string, payload: unknown, requestId: string, extra: Record<string, string> = {}) {
    try {
      const { statusCode, body } = await this.#pool.request({
        method: "POST",
        path,
        headers: { "content-type": "application/json", "x-request-id": requestId, ...extra },
        body: JSON.stringify(payload),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      const answer = (await body.json().catch(() => ({}))) as Record<string, unknown>;
      return { statusCode, answer };
    } catch {
      throw unavailable();
    }
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
   * when this gateway cannot mint tokens (no internal secret, or auth refuses it): the caller then proves the
   * credential again instead.
   */
  async serviceToken(identity: Identity, requestId: string): Promise<ServiceToken | undefined> {
    const secret = await this.#internalToken();
    if (!secret) return undefined;
    const { statusCode, answer } = await this.#post("/internal/service-token", { identity }, requestId, {
      [INTERNAL_TOKEN_HEADER]: secret,
    });
    if (statusCode === 200) return tokenOf(answer);
    if (statusCode >= 500) throw unavailable();
    return undefined;
  }
}
