import { createServer, type Server } from "node:http";
import { type AddressInfo, isIPv6 } from "node:net";
import type { Express } from "express";
import type { Logger } from "../log.ts";
import { openStreamCount, shutdownStreams } from "./sse.ts";

/** Where a client on this machine reaches a server listening on `host`: loopback stands in for every interface. */
export function reachableUrl(host: string, port: number): string {
  const address = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

export interface Listening {
  server: Server;
  port: number;
  url: string;
  /** Stop accepting, let in-flight requests and streams finish (streams are asked to end), then close. */
  close(deadlineMs?: number): Promise<void>;
}

export async function listen(app: Express, port: number, log: Logger, host: string): Promise<Listening> {
  const server = createServer(app);
  // Streams may run for minutes; the per-route timeouts live in the handlers.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  let inFlight = 0;
  server.on("request", (_req, res) => {
    inFlight++;
    res.on("close", () => inFlight--);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
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
