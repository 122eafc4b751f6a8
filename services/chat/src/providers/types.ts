import { retryAfterMs } from "@gaia/kit";
import type { ProviderKind } from "../catalogue.ts";
import type { Completion, CompletionRequest, StreamEvent } from "../types.ts";

/** One LLM vendor behind its official SDK (or the offline echo), speaking Gaia's neutral shapes. */
export interface ChatProvider {
  readonly id: ProviderKind;
  /**
   * Stream an answer. Only events that carry something are yielded (no empty deltas), and the stream ends
   * with a `finish` event or throws: an answer that stops without one was cut.
   */
  stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<StreamEvent>;
  complete(request: CompletionRequest, signal: AbortSignal): Promise<Completion>;
  /** The models the provider's server lists; used as its health probe. */
  listModels(signal: AbortSignal): Promise<string[]>;
}

export type FailureKind = "http" | "connection" | "timeout" | "aborted" | "interrupted";

/** A provider failure in terms the router can act on: retry, fall back, or report. */
export class ProviderError extends Error {
  readonly provider: ProviderKind;
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    provider: ProviderKind,
    kind: FailureKind,
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.provider = provider;
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * Worth another try at the same model: the server was busy, broken or unreachable for a moment. (The router
   * only retries before the first token; a cut after it is reported, never replayed.)
   */
  get retryable(): boolean {
    if (this.kind === "aborted") return false;
    if (this.kind !== "http") return true;
    return this.status !== undefined && (this.status >= 500 || [408, 409, 429].includes(this.status));
  }

  /**
   * Worth trying the next model: the provider, not the request, is at fault (down, overloaded, slow, or its
   * credentials refused). A request the provider found malformed would fail the same way elsewhere.
   */
  get fallback(): boolean {
    if (this.kind === "aborted") return false;
    if (this.kind !== "http") return true;
    return this.status !== undefined && (this.status >= 500 || [401, 403, 408, 429].includes(this.status));
  }
}

/**
 * Both official SDKs throw the same family of errors (APIError with a status and headers, APIConnectionError,
 * APIConnectionTimeoutError, APIUserAbortError); a body cut mid-read surfaces from fetch as a TypeError.
 */
export function toProviderError(provider: ProviderKind, error: unknown, signal?: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  const e = error as {
    name?: string;
    message?: string;
    status?: unknown;
    headers?: { get(name: string): string | null };
  };
  const message = e?.message ?? String(error);
  if (signal?.aborted || e?.name === "APIUserAbortError" || e?.name === "AbortError") {
    return new ProviderError(provider, "aborted", "The request was cancelled", { cause: error });
  }
  if (typeof e?.status === "number") {
    return new ProviderError(provider, "http", message, {
      status: e.status,
      retryAfterMs: retryAfterMs(e.headers),
      cause: error,
    });
  }
  if (e?.name === "APIConnectionTimeoutError") {
    return new ProviderError(provider, "timeout", `${provider} did not answer in time`, { cause: error });
  }
  if (e?.name === "APIConnectionError") {
    return new ProviderError(provider, "connection", `${provider} is unreachable: ${message}`, {
      cause: error,
    });
  }
  return new ProviderError(provider, "interrupted", `${provider} stream broke: ${message}`, { cause: error });
}
