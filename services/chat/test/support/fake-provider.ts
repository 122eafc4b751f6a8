import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type Exchange, readBody, recordExchange } from "../../../../test/support/exchange.ts";

/**
 * What a fake provider does with the next request. Each wire format (OpenAI, Anthropic) renders these in its
 * own shapes; both stream when the request asks for it and answer whole otherwise.
 */
export type Script =
  /** A text answer, streamed chunk by chunk; a delay before the first token and between chunks if given. */
  | {
      kind: "text";
      chunks: string[];
      usage?: { prompt: number; completion: number };
      firstTokenDelayMs?: number;
      delayMs?: number;
    }
  /** The model calls tools (arguments streamed in two pieces). */
  | { kind: "tools"; calls: { id: string; name: string; arguments: string }[] }
  /** An HTTP error in the provider's error shape. */
  | { kind: "error"; status: number; message?: string; retryAfter?: string }
  /** Streams these chunks, then the connection drops without the end of the answer. */
  | { kind: "cut"; chunks: string[] }
  /** Streams these chunks (a delay between them if given), then waits until `release` settles to finish. */
  | { kind: "hold"; chunks: string[]; release: Promise<void>; delayMs?: number }
  /** The connection is closed before any response. */
  | { kind: "drop" };

export interface Recorded extends Exchange {
  body: Record<string, unknown>;
}

export interface Wire {
  /** Paths (after the server root) this format answers, e.g. /v1/chat/completions. */
  completionPath: string;
  modelsPath: string;
  models(): unknown;
  authorized(req: IncomingMessage, key: string): boolean;
  unauthorized(res: ServerResponse): void;
  error(res: ServerResponse, status: number, message: string, retryAfter?: string): void;
  /** The answer to a non-streaming request. */
  whole(body: Record<string, unknown>, script: TextOrTools): unknown;
  /** Start a stream: headers and any preamble events. */
  open(res: ServerResponse, body: Record<string, unknown>): StreamState;
}

export type TextOrTools = Extract<Script, { kind: "text" } | { kind: "tools" }>;

export interface StreamState {
  text(chunk: string): void;
  toolCalls(calls: { id: string; name: string; arguments: string }[]): void;
  finish(reason: "stop" | "tool_calls", usage: { prompt: number; completion: number }): void;
}

export interface FakeProvider {
  /** Root URL of the server. */
  url: string;
  requests: Recorded[];
  /** Queue scripts for the next requests; when the queue is empty, the default answer is given. */
  enqueue(...scripts: Script[]): void;
  /** The answer when nothing is queued: `<name> says: <last user message>`, streamed word by word. */
  name: string;
  close(): Promise<void>;
}

/** The last user message of an OpenAI- or Anthropic-shaped request, as text. */
export function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages as { role: string; content: unknown }[] | undefined) ?? [];
  const last = [...messages].reverse().find((m) => m.role === "user");
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  if (Array.isArray(last.content)) {
    return last.content
      .map((part: { type?: string; text?: string; content?: unknown }) =>
        part.type === "text"
          ? (part.text ?? "")
          : part.type === "tool_result"
            ? String(part.content ?? "")
            : "",
      )
      .join("");
  }
  return "";
}

export const words = (text: string) => text.split(/(?<= )/);

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(req)).toString("utf8");
  return raw ? JSON.parse(raw) : {};
}

/** An HTTP server speaking one provider's wire format, scripted by the test. */
export async function startFake(name: string, wire: Wire, apiKey: string): Promise<FakeProvider> {
  const queue: Script[] = [];
  const requests: Recorded[] = [];
  const server: Server = createServer(async (req, res) => {
    const record: Recorded = Object.assign(recordExchange(req, res), { body: {} as Record<string, unknown> });
    try {
      record.body = await readJson(req);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (record.path.startsWith(wire.modelsPath) && req.method === "GET") {
      if (!wire.authorized(req, apiKey)) return wire.unauthorized(res);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(wire.models()));
      return;
    }
    if (record.path !== wire.completionPath || req.method !== "POST") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
      return;
    }
    requests.push(record);
    if (!wire.authorized(req, apiKey)) return wire.unauthorized(res);
    const script: Script = queue.shift() ?? {
      kind: "text",
      chunks: words(`${name} says: ${lastUserText(record.body)}`),
    };
    await play(wire, script, record.body, res);
  });
  server.keepAliveTimeout = 1000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    name,
    enqueue: (...scripts) => queue.push(...scripts),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function play(wire: Wire, script: Script, body: Record<string, unknown>, res: ServerResponse) {
  const gone = () => res.destroyed || res.writableEnded;
  switch (script.kind) {
    case "drop":
      res.socket?.destroy();
      return;
    case "error":
      wire.error(res, script.status, script.message ?? `fake ${script.status}`, script.retryAfter);
      return;
    default:
      break;
  }
  if (body.stream !== true) {
    if (script.kind === "text" || script.kind === "tools") {
      if (script.kind === "text" && script.firstTokenDelayMs) await sleep(script.firstTokenDelayMs);
      if (gone()) return;
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(wire.whole(body, script)));
    } else {
      res.socket?.destroy();
    }
    return;
  }
  const stream = wire.open(res, body);
  const prompt = Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4));
  switch (script.kind) {
    case "text": {
      if (script.firstTokenDelayMs) await sleep(script.firstTokenDelayMs);
      for (const [i, chunk] of script.chunks.entries()) {
        if (gone()) return;
        if (i > 0 && script.delayMs) await sleep(script.delayMs);
        stream.text(chunk);
      }
      if (gone()) return;
      const usage = script.usage ?? { prompt, completion: script.chunks.length };
      stream.finish("stop", usage);
      res.end();
      return;
    }
    case "tools":
      stream.toolCalls(script.calls);
      stream.finish("tool_calls", { prompt, completion: 10 });
      res.end();
      return;
    case "cut":
      for (const chunk of script.chunks) stream.text(chunk);
      // Let the chunks reach the client, then break the connection mid-answer.
      await sleep(20);
      res.socket?.destroy();
      return;
    case "hold": {
      for (const [i, chunk] of script.chunks.entries()) {
        if (i > 0 && script.delayMs) await sleep(script.delayMs);
        if (gone()) return;
        stream.text(chunk);
      }
      await Promise.race([script.release, once(res, "close")]);
      if (gone()) return;
      stream.finish("stop", { prompt, completion: script.chunks.length });
      res.end();
      return;
    }
  }
}
