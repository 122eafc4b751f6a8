/** A Server-Sent Event as a client reads it. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** Parse an SSE body as it arrives; ends when the server closes the stream. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event.event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0 && !event.event) continue;
      event.data = data.join("\n");
      yield event;
    }
  }
}

/** Every event of a stream, with `data` parsed as JSON where it is JSON. */
export async function collectSse(
  response: Response,
): Promise<{ event?: string; data: unknown; raw: string }[]> {
  const events: { event?: string; data: unknown; raw: string }[] = [];
  for await (const e of readSse(response.body!))
    events.push({ event: e.event, data: parseMaybe(e.data), raw: e.data });
  return events;
}

export function parseMaybe(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
