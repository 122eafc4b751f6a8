import { randomUUID } from "node:crypto";
import { createServer, type Server, STATUS_CODES } from "node:http";
import { type AddressInfo, isIPv6, type Socket } from "node:net";
import type { Express } from "express";
import type { Logger } from "../log.ts";
import { openStreamCount, shutdownStreams } from "./sse.ts";

/** Where a client on this machine reaches a server listening on `host`: loopback stands in for every interface. */
export function reachableUrl(host: string, port: number): string {
  const address = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/** Listen, failing with the server's own error (EADDRINUSE names the port); answers the port bound. */
export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export interface Listening {
  server: Server;
  port: number;
  url: string;
  /** Stop accepting, let in-flight requests and streams finish (streams are asked to end), then close. */
  close(deadlineMs?: number): Promise<void>;
}

const FRAMING = "Invalid or conflicting Content-Length and Transfer-Encoding";
/**
 * What Node's HTTP parser refuses never reaches the app, and Node's own answer has an empty body: give it the
 * platform's {"detail"} shape. Statuses are the ones Node itself would send for each error.
 */
const PARSER_ERRORS: Record<string, [status: number, detail: string]> = {
  HPE_HEADER_OVERFLOW: [431, "Request headers too large"],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, "Chunk extensions too large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "The request's headers did not arrive in time"],
  HPE_INVALID_METHOD: [400, "Unknown HTTP method"],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, FRAMING],
  HPE_INVALID_CONTENT_LENGTH: [400, FRAMING],
  HPE_INVALID_TRANSFER_ENCODING: [400, FRAMING],
};
const MALFORMED: [number, string] = [400, "Malformed HTTP request"];

/** The whole HTTP/1.1 answer to a client error, or undefined when nothing should be written back. */
export function parserErrorAnswer(error: Error & { code?: string }): string | undefined {
  if (error.code === "ECONNRESET") return undefined;
  const [status, detail] = PARSER_ERRORS[error.code ?? ""] ?? MALFORMED;
  const body = JSON.stringify({ detail });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    "Content-Type: application/json; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${randomUUID()}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  );
}

function answerClientError(error: Error & { code?: string }, socket: Socket) {
  // As Node's own handler does: never write into a response already under way on this connection.
  const current = (socket as { _httpMessage?: { headersSent: boolean } })._httpMessage;
  const answer = socket.writable && !current?.headersSent ? parserErrorAnswer(error) : undefined;
  if (answer) socket.end(answer, () => socket.destroy());
  else socket.destroy();
}

export async function listen(app: Express, port: number, log: Logger, host: string): Promise<Listening> {
  const server = createServer(app);
  // Streams may run for minutes; the per-route timeouts live in the handlers.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  server.on("clientError", answerClientError);
  let inFlight = 0;
  server.on("request", (_req, res) => {
    inFlight++;
    res.on("close", () => inFlight--);
  });
  const actual = await listenOn(server, port, host);
  let closing: Promise<void> | undefined;
  return {
    server,
    port: actual,
    url: reachableUrl(host, actual),
    close(deadlineMs = 10_000) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + deadlineMs;
        // Give plain requests most of the deadline; open streams are asked to wrap up halfway through.
        const streamCutoff = Date.now() + deadlineMs / 2;
        let asked = false;
        while (inFlight > 0 && Date.now() < deadline) {
          if (!asked && (Date.now() >= streamCutoff || inFlight === openStreamCount(app.locals))) {
            asked = true;
            if (shutdownStreams(app.locals) > 0) log.info("asked open streams to finish");
          }
          await new Promise((r) => setTimeout(r, 25));
          server.closeIdleConnections();
        }
        if (inFlight > 0) log.warn({ inFlight }, "shutdown deadline reached; closing remaining connections");
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}

/** Run `stop` once on SIGTERM or SIGINT; a second signal exits at once. */
export function onShutdownSignal(stop: (signal: string) => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal; exiting now");
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    const exit = (code: number) => log.flush(() => process.exit(code));
    stop(signal).then(
      () => exit(0),
      (error) => {
        log.error({ err: error }, "shutdown failed");
        exit(1);
      },
    );
  };
  process.once("SIGTERM", handler);
  process.once("SIGINT", handler);
}
