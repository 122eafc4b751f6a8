import type { Request, Response } from "express";

/**
 * A Server-Sent Events stream on an express response. `signal` aborts when the client goes away or the
 * server shuts down, so the producer can stop upstream work at once.
 */
export interface SseStream {
  readonly signal: AbortSignal;
  /**
   * Write `data: <json or text>`; with an event name, an `event:` line first; with an id, an `id:` line, which a
   * client sends back as Last-Event-ID when it reconnects. False once closed.
   */
  send(data: unknown, event?: string, id?: string | number): boolean;
  comment(text: string): void;
  end(): void;
  readonly closed: boolean;
}

type OpenStream = SseStream & { shutdown(): void };

/** Open streams are tracked per app, so shutting one service down leaves another's streams alone. */
function streamsOf(locals: Record<string, unknown>): Set<OpenStream> {
  locals.sseStreams ??= new Set<OpenStream>();
  return locals.sseStreams as Set<OpenStream>;
}

export function openSse(req: Request, res: Response): SseStream {
  const controller = new AbortController();
  res.status(200);
  res.setHeader("Content-Type", "text/event-stream; charset=utf-8");
  res.setHeader("Cache-Control", "no-cache, no-transform");
  res.setHeader("Connection", "keep-alive");
  // Tell nginx-like proxies not to buffer: each event must reach the client when it is written.
  res.setHeader("X-Accel-Buffering", "no");
  res.flushHeaders();
  req.socket.setNoDelay(true);

  const openStreams = streamsOf(req.app.locals);
  let closed = false;
  const stream: OpenStream = {
    signal: controller.signal,
    get closed() {
      return closed;
    },
    send(data: unknown, event?: string, id?: string | number) {
      if (closed) return false;
      const body = typeof data === "string" ? data : JSON.stringify(data);
      res.write(
        `${id !== undefined ? `id: ${id}\n` : ""}${event ? `event: ${event}\n` : ""}${body
          .split("\n")
          .map((line) => `data: ${line}`)
          .join("\n")}\n\n`,
      );
      return true;
    },
    comment(text: string) {
      if (!closed) res.write(`: ${text}\n\n`);
    },
    end() {
      if (closed) return;
      closed = true;
      openStreams.delete(stream);
      res.end();
    },
    shutdown() {
      controller.abort(new Error("server shutting down"));
    },
  };
  openStreams.add(stream);
  res.on("close", () => {
    if (!closed) {
      closed = true;
      openStreams.delete(stream);
    }
    if (!controller.signal.aborted) controller.abort(new Error("client went away"));
  });
  return stream;
}

/** Ask every open stream of an app to finish: producers see their signal abort and end with a final event. */
export function shutdownStreams(locals: Record<string, unknown>): number {
  const streams = streamsOf(locals);
  for (const stream of streams) stream.shutdown();
  return streams.size;
}

export function openStreamCount(locals: Record<string, unknown>): number {
  return streamsOf(locals).size;
}
