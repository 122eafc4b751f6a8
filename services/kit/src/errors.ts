/**
 * An error a client may see. Everything else is reported as a plain 500 with no detail from inside.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly code: string | undefined;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(
    status: number,
    detail: string,
    options: { code?: string; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(detail);
    this.name = "HttpError";
    this.status = status;
    this.detail = detail;
    this.code = options.code;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { detail: this.detail, ...(this.code ? { code: this.code } : {}), ...this.extra };
  }
}

export const badRequest = (detail: string, code?: string) => new HttpError(400, detail, { code });
export const unauthorized = (detail = "Not authenticated", code?: string) =>
  new HttpError(401, detail, { code, headers: { "WWW-Authenticate": "Bearer" } });
export const forbidden = (detail = "Not permitted", code?: string) => new HttpError(403, detail, { code });
export const notFound = (detail = "Not found") => new HttpError(404, detail);
export const conflict = (detail: string) => new HttpError(409, detail);
export const unprocessable = (detail: string, extra?: Record<string, unknown>) =>
  new HttpError(422, detail, { extra });
export const tooManyRequests = (detail: string, retryAfterSeconds: number) =>
  new HttpError(429, detail, {
    headers: { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
export const serviceUnavailable = (detail: string) => new HttpError(503, detail);
export const badGateway = (detail: string) => new HttpError(502, detail);
export const gatewayTimeout = (detail: string) => new HttpError(504, detail);

/** Start-up stops on this, with one line naming the variable and what it expects. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
