import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { badGateway, gatewayTimeout, HttpError, type Logger, serviceUnavailable } from "@gaia/kit";
import type { Dispatcher } from "undici";
import { Client, Pool } from "undici";
import { skipResponseHeader } from "../headers.ts";
import type { Target } from "../route-table.ts";

/**
 * The backends, one keep-alive connection pool each (undici), and the one way the gateway talks to them:
 * request and response bodies flow through as streams, nothing is buffered, and each chunk of a response
 * (an SSE event) is written to the client the moment it arrives.
 */

export class BodyTooLarge extends Error {
  constructor() {
    super("Request body too large");
    this.name = "BodyTooLarge";
  }
}

/** Errors that mean "nobody answered": the backend is down, not misbehaving. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

export interface ForwardRequest {
  method: string;
  /** Upstream path with its query string. */
  path: string;
  headers: OutgoingHttpHeaders;
  timeoutMs: number;
  bodyLimit: number;
}

/** Count the bytes of a body of unknown length (chunked) and stop at the limit. */
async function* limited(body: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of body) {
    seen += (chunk as Buffer).length;
    if (seen > limit) throw new BodyTooLarge();
    yield chunk as Buffer;
  }
}

/** A body with a declared length was checked against the limit already; only a chunked one needs counting. */
function requestBody(req: IncomingMessage, limit: number): Readable | null {
  const length = req.headers["content-length"];
  if (length !== undefined) return length === "0" ? null : req;
  return req.headers["transfer-encoding"] ? Readable.from(limited(req, limit), { objectMode: false }) : null;
}

/** One factory for every response: the ServerResponse travels as undici's `opaque`, so nothing is allocated. */
function intoResponse({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<ServerResponse>) {
  const res = opaque;
  res.statusCode = statusCode;
  for (const name in headers) {
    if (!skipResponseHeader(name)) res.setHeader(name, headers[name]!);
  }
  // An answer of unknown length (an event stream, above all) sends its headers at once; each chunk follows
  // as the backend writes it. A sized answer goes out in one write with its body.
  if (headers["content-length"] === undefined) res.flushHeaders();
  return res;
}

export function describeFailure(target: Target, error: unknown): HttpError {
  if (error instanceof BodyTooLarge) return new HttpError(413, error.message);
  const code = (error as { code?: string }).code ?? "";
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? "";
  if (UNREACHABLE.has(code) || UNREACHABLE.has(cause))
    return serviceUnavailable(`${target} service is unavailable`);
  if (code === "UND_ERR_HEADERS_TIMEOUT") return gatewayTimeout(`${target} service timed out`);
  return badGateway(`${target} service failed to answer`);
}

export interface BackendHealth {
  /** "healthy", the backend's own word ("degraded", ...), "unhealthy" (not 200) or "unreachable". */
  status: string;
  ms: number;
  detail?: string;
}

export class Upstreams {
  readonly #pools = new Map<Target, Pool>();
  /** Health probes have a connection of their own, so a pool busy with long streams cannot make them late. */
  readonly #probes = new Map<Target, Client>();
  readonly #log: Logger;

  constructor(urls: Record<Target, string>, log: Logger) {
    this.#log = log;
    for (const [target, url] of Object.entries(urls) as [Target, string][]) {
      this.#pools.set(
        target,
        new Pool(url, {
          // One upstream connection per request in flight, as many as clients hold open (SSE streams last
          // minutes): queueing here would only add waiting to every request behind them.
          connections: null,
          pipelining: 1,
          connectTimeout: 5_000,
          keepAliveTimeout: 30_000,
          keepAliveMaxTimeout: 60_000,
        }),
      );
      this.#probes.set(target, new Client(url, { connectTimeout: 2_000 }));
    }
  }

  pool(target: Target): Pool {
    return this.#pools.get(target)!;
  }

  /**
   * Send the client's request to a backend and stream the answer back. A client that leaves aborts the
   * upstream request; a failure before the answer starts is thrown as an HttpError (503 unreachable, 504 slow,
   * 413 body too large, 502 otherwise); one after it started cuts the client's connection, so a broken stream
   * never looks like a finished one.
   */
  async forward(target: Target, req: IncomingMessage, res: ServerResponse, request: ForwardRequest) {
    const controller = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) controller.abort(new Error("client went away"));
    };
    res.once("close", onClose);
    // The client may have left while the gateway was still authenticating it: then nothing is sent at all.
    if (req.socket.destroyed) controller.abort(new Error("client went away"));
    try {
      await this.pool(target).stream(
        {
          method: request.method as Dispatcher.HttpMethod,
          path: request.path,
          headers: request.headers as Record<string, string | string[]>,
          body: requestBody(req, request.bodyLimit),
          signal: controller.signal,
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
          opaque: res,
        },
        intoResponse,
      );
    } catch (error) {
      if (controller.signal.aborted) return;
      if (res.headersSent) {
        this.#log.warn({ target, err: String(error) }, "upstream broke off an answer in flight");
        res.destroy(error as Error);
        return;
      }
      const failure = describeFailure(target, error);
      if (failure.status === 502) this.#log.warn({ target, err: String(error) }, "upstream failed");
      throw failure;
    } finally {
      res.off("close", onClose);
    }
  }

  /** GET <backend>/health within the deadline; never throws. */
  async health(target: Target, timeoutMs: number): Promise<BackendHealth> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    try {
      const { statusCode, body } = await this.#probes.get(target)!.request({
        method: "GET",
        path: "/health",
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const answer = (await body.json().catch(() => ({}))) as { status?: unknown; detail?: unknown };
      if (statusCode !== 200) {
        const detail = typeof answer.detail === "string" ? answer.detail : `answered ${statusCode}`;
        return { status: "unhealthy", ms: ms(), detail };
      }
      // A backend may call itself degraded (e.g. its cache is away); its word is passed on.
      return { status: typeof answer.status === "string" ? answer.status : "healthy", ms: ms() };
    } catch (error) {
      const reason =
        (error as Error).name === "TimeoutError" ? "timed out" : describeFailure(target, error).detail;
      return { status: "unreachable", ms: ms(), detail: reason };
    }
  }

  /** After the server has stopped: whatever is still open upstream has no client left to answer. */
  async close() {
    const all = [...this.#pools.values(), ...this.#probes.values()];
    await Promise.all(all.map((dispatcher) => dispatcher.destroy()));
  }
}
