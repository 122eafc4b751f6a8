import type { IncomingMessage, ServerResponse } from "node:http";
import { type FakeProvider, startFake, type TextOrTools, type Wire } from "./fake-provider.ts";

export const FAKE_ANTHROPIC_KEY = "sk-ant-fake";

/**
 * Anthropic's Messages wire format. Every SSE event has an `event:` line and a `type` in its payload (the SDK
 * drops data without them). The key may come as x-api-key or, as SDK 1.14 sends it, a bearer token.
 */
const anthropic: Wire = {
  completionPath: "/v1/messages",
  modelsPath: "/v1/models",
  models: () => ({
    data: ["claude-sonnet-4-5", "claude-haiku-4-5"].map((id) => ({
      id,
      type: "model",
      display_name: id,
      created_at: "2025-01-01T00:00:00Z",
    })),
    has_more: false,
    first_id: "claude-sonnet-4-5",
    last_id: "claude-haiku-4-5",
  }),
  authorized: (req: IncomingMessage, key: string) =>
    req.headers["x-api-key"] === key || req.headers.authorization === `Bearer ${key}`,
  unauthorized(res: ServerResponse) {
    res.writeHead(401, { "content-type": "application/json" }).end(
      JSON.stringify({
        type: "error",
        error: { type: "authentication_error", message: "invalid x-api-key" },
      }),
    );
  },
  error(res, status, message, retryAfter) {
    const type =
      status === 529
        ? "overloaded_error"
        : status >= 500
          ? "api_error"
          : status === 429
            ? "rate_limit_error"
            : "invalid_request_error";
    res
      .writeHead(status, {
        "content-type": "application/json",
        ...(retryAfter ? { "retry-after": retryAfter } : {}),
      })
      .end(JSON.stringify({ type: "error", error: { type, message } }));
  },
  whole(body, script: TextOrTools) {
    const content =
      script.kind === "text"
        ? [{ type: "text", text: script.chunks.join("") }]
        : script.calls.map((c) => ({
            type: "tool_use",
            id: c.id,
            name: c.name,
            input: JSON.parse(c.arguments || "{}"),
          }));
    return {
      id: "msg_fake",
      type: "message",
      role: "assistant",
      model: body.model,
      content,
      stop_reason: script.kind === "tools" ? "tool_use" : "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: script.kind === "text" && script.usage ? script.usage.prompt : 20,
        output_tokens: script.kind === "text" ? (script.usage?.completion ?? script.chunks.length) : 10,
      },
    };
  },
  open(res, body) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    const send = (payload: { type: string } & Record<string, unknown>) =>
      res.write(`event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`);
    send({
      type: "message_start",
      message: {
        id: "msg_fake",
        type: "message",
        role: "assistant",
        content: [],
        model: body.model,
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4)),
          output_tokens: 1,
        },
      },
    });
    let block = -1;
    let textOpen = false;
    const closeText = () => {
      if (textOpen) send({ type: "content_block_stop", index: block });
      textOpen = false;
    };
    return {
      text(chunk) {
        if (!textOpen) {
          block++;
          textOpen = true;
          send({ type: "content_block_start", index: block, content_block: { type: "text", text: "" } });
        }
        send({ type: "content_block_delta", index: block, delta: { type: "text_delta", text: chunk } });
      },
      toolCalls(calls) {
        closeText();
        for (const call of calls) {
          block++;
          send({
            type: "content_block_start",
            index: block,
            content_block: { type: "tool_use", id: call.id, name: call.name, input: {} },
          });
          const half = Math.ceil(call.arguments.length / 2);
          for (const piece of [call.arguments.slice(0, half), call.arguments.slice(half)]) {
            if (piece)
              send({
                type: "content_block_delta",
                index: block,
                delta: { type: "input_json_delta", partial_json: piece },
              });
          }
          send({ type: "content_block_stop", index: block });
        }
      },
      finish(reason, usage) {
        closeText();
        send({
          type: "message_delta",
          delta: { stop_reason: reason === "tool_calls" ? "tool_use" : "end_turn", stop_sequence: null },
          usage: { input_tokens: usage.prompt, output_tokens: usage.completion },
        });
        send({ type: "message_stop" });
      },
    };
  },
};

export function startFakeAnthropic(key = FAKE_ANTHROPIC_KEY): Promise<FakeProvider> {
  return startFake("anthropic", anthropic, key);
}
