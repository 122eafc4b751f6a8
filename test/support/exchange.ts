import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

/** What the local provider servers record of each request: its line, headers, and whether the client gave up. */

export interface Exchange {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** True when the client closed the connection before the answer was complete. */
  aborted: boolean;
  /** Settles when the exchange is over, either way. */
  finished: Promise<void>;
}

/** The record of one exchange, kept up to date as it ends (add fields with Object.assign to keep it live). */
export function recordExchange(req: IncomingMessage, res: ServerResponse, path = req.url ?? "/"): Exchange {
  let settle!: () => void;
  const record: Exchange = {
    method: req.method ?? "GET",
    path,
    headers: req.headers,
    aborted: false,
    finished: new Promise<void>((resolve) => {
      settle = resolve;
    }),
  };
  res.on("close", () => {
    if (!res.writableFinished) record.aborted = true;
    settle();
  });
  return record;
}

/** The whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
