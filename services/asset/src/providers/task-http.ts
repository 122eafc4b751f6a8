import { retryAfterMs } from "@gaia/kit";
import { ProviderError } from "./types.ts";

/**
 * HTTP for the task providers (Meshy, Mubert, Freesound, Midjourney-compatible): one call with a timeout, its
 * failure as a ProviderError, and result downloads. Nothing here keeps state between calls: a task is polled and
 * fetched from its saved Task alone.
 *
 * `charged` follows one rule. Once a task exists at the provider (poll, fetch, cancel) every failure is
 * `charged: true`: the work was already paid for. While submitting, an HTTP error answer means the provider
 * refused the work (`charged: false`); no answer at all (a timeout, a connection cut after the request was sent)
 * may hide a task that was created (`charged: true`).
 *
 * A free API (Freesound) is never charged.
 *
 * An abort by the caller's own signal is not a provider failure: its reason is thrown unchanged.
 */

/** No result file is bigger than this (a model with textures, a long WAV). */
export const MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024;

export interface CallContext {
  provider: string;
  signal: AbortSignal;
  timeoutMs: number;
  /** Values that must never appear in an error message (the key, or the parts it is made of). */
  secrets: readonly string[];
  /** True while creating the work: an HTTP error then means nothing was created. */
  submitting?: boolean;
  /** A free API: no failure is ever charged. */
  free?: boolean;
}

export interface CallOptions {
  method?: "GET" | "POST" | "DELETE";
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** What the call is for, said in its error message ("creating the preview task"). */
  what: string;
}

/** The message with every secret (and anything that looks like a query-string token) blanked out. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
  return out.replace(/([?&](?:token|key|api_key|access_token)=)[^&\s"']+/gi, "$1[redacted]");
}

function statusRetryable(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

/** The human part of an error body: the shapes these providers answer with, else the start of the text. */
function bodyMessage(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return "";
  try {
    const body = JSON.parse(trimmed) as Record<string, unknown>;
    for (const key of ["message", "detail", "description", "error", "failReason"]) {
      const value = body[key];
      if (typeof value === "string" && value) return value;
      if (value && typeof value === "object" && typeof (value as { message?: unknown }).message === "string")
        return (value as { message: string }).message;
    }
  } catch {
    // not JSON: the text itself
  }
  return trimmed.replace(/\s+/g, " ");
}

/** A failed HTTP answer as a ProviderError. */
export function errorFromResponse(
  ctx: CallContext,
  what: string,
  status: number,
  headers: Headers,
  text: string,
): ProviderError {
  const detail = bodyMessage(text).slice(0, 300);
  const message = redact(`${what}: HTTP ${status}${detail ? `: ${detail}` : ""}`, ctx.secrets);
  return new ProviderError(ctx.provider, message, {
    status,
    retryable: statusRetryable(status),
    charged: !ctx.free && !ctx.submitting,
    retryAfterMs: status === 429 || status === 503 ? retryAfterMs(headers) : undefined,
  });
}

/** A malformed answer to a call that succeeded: the work may exist, so it is charged. */
export function badAnswer(
  ctx: CallContext,
  what: string,
  why: string,
  retryable = !ctx.submitting,
): ProviderError {
  return new ProviderError(ctx.provider, redact(`${what}: unexpected answer (${why})`, ctx.secrets), {
    retryable,
    charged: !ctx.free,
  });
}

/** The answer, and the timeout that also bounds reading its body. */
async function send(
  ctx: CallContext,
  url: string,
  init: RequestInit,
  what: string,
): Promise<{ response: Response; timeout: AbortSignal }> {
  ctx.signal.throwIfAborted();
  const timeout = AbortSignal.timeout(ctx.timeoutMs);
  try {
    return {
      response: await fetch(url, { ...init, signal: AbortSignal.any([ctx.signal, timeout]) }),
      timeout,
    };
  } catch (error) {
    throw failure(ctx, what, error, timeout);
  }
}

/** A call that did not get an answer: the caller's abort as it is, anything else as a ProviderError. */
function failure(ctx: CallContext, what: string, error: unknown, timeout: AbortSignal): unknown {
  if (ctx.signal.aborted) return ctx.signal.reason;
  if (error instanceof ProviderError) return error;
  const timedOut = timeout.aborted;
  const cause = error instanceof Error ? (error.cause instanceof Error ? error.cause : error) : undefined;
  const why = timedOut
    ? `timed out after ${ctx.timeoutMs} ms`
    : `connection failed (${cause?.message ?? "no answer"})`;
  return new ProviderError(ctx.provider, redact(`${what}: ${why}`, ctx.secrets), {
    retryable: true,
    charged: !ctx.free,
  });
}

/** One JSON call; a non-2xx answer is thrown as a ProviderError. An empty 2xx body is `undefined`. */
export async function callJson<T>(
  ctx: CallContext,
  url: string,
  options: CallOptions,
): Promise<T | undefined> {
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  if (options.json !== undefined) headers["content-type"] = "application/json";
  const init: RequestInit = {
    method: options.method ?? (options.json === undefined ? "GET" : "POST"),
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
  };
  const { response, timeout } = await send(ctx, url, init, options.what);
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw failure(ctx, options.what, error, timeout);
  }
  if (!response.ok) throw errorFromResponse(ctx, options.what, response.status, response.headers, text);
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw badAnswer(ctx, options.what, "not JSON");
  }
}

export interface Downloaded {
  bytes: Buffer;
  contentType: string | undefined;
}

/** A result file. Headers (a key) are only given where the file lives at the provider itself. */
export async function download(
  ctx: CallContext,
  url: string,
  what: string,
  headers: Record<string, string> = {},
): Promise<Downloaded> {
  const { response, timeout } = await send(ctx, url, { headers }, what);
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    throw errorFromResponse(ctx, what, response.status, response.headers, text);
  }
  const length = Number(response.headers.get("content-length") ?? 0);
  if (length > MAX_DOWNLOAD_BYTES) {
    await response.body?.cancel();
    throw badAnswer(ctx, what, `${length} bytes is over the ${MAX_DOWNLOAD_BYTES} limit`, false);
  }
  let bytes: Buffer;
  try {
    bytes = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    throw failure(ctx, what, error, timeout);
  }
  if (bytes.length === 0) throw badAnswer(ctx, what, "an empty file");
  if (bytes.length > MAX_DOWNLOAD_BYTES) throw badAnswer(ctx, what, "file too large", false);
  return { bytes, contentType: response.headers.get("content-type")?.split(";")[0]?.trim() || undefined };
}

/** True when `url` is on the same host as `base` (a file the provider itself serves, so its key may go along). */
export function sameHost(url: string, base: string): boolean {
  try {
    return new URL(url).host === new URL(base).host;
  } catch {
    return false;
  }
}

/** An absolute URL (a provider may answer with a path on itself). */
export function absolute(url: string, base: string): string {
  return new URL(url, base.endsWith("/") ? base : `${base}/`).toString();
}

/** The base URL without a trailing slash. */
export function trimBase(base: string): string {
  return base.replace(/\/+$/, "");
}

const IMAGE_MAGIC: { format: string; contentType: string; test: (b: Buffer) => boolean }[] = [
  {
    format: "png",
    contentType: "image/png",
    test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  },
  {
    format: "webp",
    contentType: "image/webp",
    test: (b) =>
      b.subarray(0, 4).toString("latin1") === "RIFF" && b.subarray(8, 12).toString("latin1") === "WEBP",
  },
  { format: "jpeg", contentType: "image/jpeg", test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
];

/**
 * Whether a request that failed without an answer can have reached the provider: a refused connection or an
 * unknown host never did (safe to try again or elsewhere); a timeout or a connection dropped mid-answer may have,
 * and the provider may be making — and billing — the work, so it counts as charged and is not asked again.
 */
export function neverSent(error: unknown): boolean {
  // SDKs and fetch wrap the socket's error: look down the chain of causes.
  let e = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === "string" && NOT_SENT.has(e.code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** The media type of each format a provider delivers. */
export const CONTENT_TYPES: Record<string, string> = {
  png: "image/png",
  webp: "image/webp",
  jpeg: "image/jpeg",
  svg: "image/svg+xml",
  glb: "model/gltf-binary",
  fbx: "application/octet-stream",
  wav: "audio/wav",
  mp3: "audio/mpeg",
};

/** The caller's signal joined with a deadline of the provider's timeout; says afterwards which one fired. */
export function deadline(
  signal: AbortSignal,
  timeoutMs: number,
): { signal: AbortSignal; timedOut: () => boolean } {
  const timer = AbortSignal.timeout(timeoutMs);
  return { signal: AbortSignal.any([signal, timer]), timedOut: () => timer.aborted && !signal.aborted };
}

/** The format an image's bytes really are, from their magic numbers; undefined when unrecognised. */
export const sniffFormat = (bytes: Buffer): string | undefined => imageFormat(bytes)?.format;

/** What an image's bytes are, whatever its URL or header claims. */
export function imageFormat(bytes: Buffer): { format: string; contentType: string } | undefined {
  const found = IMAGE_MAGIC.find((m) => m.test(bytes));
  return found ? { format: found.format, contentType: found.contentType } : undefined;
}

/** A string field of a JSON object, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The request's price: ProviderPricing when it has one, else the provider's list price. */
export function priced(price: number | undefined, list: number): number {
  return price !== undefined && Number.isFinite(price) && price >= 0 ? price : list;
}
