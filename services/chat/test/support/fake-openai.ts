import type { IncomingMessage, ServerResponse } from "node:http";
import { type FakeProvider, startFake, type TextOrTools, type Wire } from "./fake-provider.ts";

export const FAKE_OPENAI_KEY = "sk-fake-openai";

/** OpenAI's chat-completions wire format: `data:` lines of chat.completion.chunk, `data: [DONE]` last. */
const openai: Wire = {
  completionPath: "/v1/chat/completions",
  modelsPath: "/v1/models",
  models: () => ({
    object: "list",
    data: ["gpt-4o-mini", "gpt-4o", "local-llama"].map((id) => ({
      id,
      object: "model",
      created: 0,
      owned_by: "fake",
    })),
  }),
  authorized: (req: IncomingMessage, key: string) => req.headers.authorization === `Bearer ${key}`,
  unauthorized(res: ServerResponse) {
    res.writeHead(401, { "content-type": "application/json" }).end(
      JSON.stringify({
        error: {
          message: "Incorrect API key provided",
          type: "invalid_request_error",
          code: "invalid_api_key",
        },
      }),
    );
  },
  error(res, status, message, retryAfter) {
    res
      .writeHead(status, {
        "content-type": "application/json",
        ...(retryAfter ? { "retry-after": retryAfter } : {}),
      })
      .end(
        JSON.stringify({
          error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", code: null },
        }),
      );
  },
  whole(body, script: TextOrTools) {
    const text = script.kind === "text" ? script.chunks.join("") : null;
    const completion = script.kind === "text" ? (script.usage?.completion ?? script.chunks.length) : 10;
    const prompt = script.kind === "text" && script.usage ? script.usage.prompt : 20;
    return {
      id: "chatcmpl-fake",
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: text,
            refusal: null,
            ...(script.kind === "tools"
              ? {
                  tool_calls: script.calls.map((c) => ({
                    id: c.id,
                    type: "function",
                    function: { name: c.name, arguments: c.arguments },
                  })),
                }
              : {}),
          },
          finish_reason: script.kind === "tools" ? "tool_calls" : "stop",
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    };
  },
  open(res, body) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    const base = {
      id: "chatcmpl-fake",
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: body.model,
    };
    const send = (choice: Record<string, unknown> | null, extra: Record<string, unknown> = {}) =>
      res.write(
        `data: ${JSON.stringify({ ...base, choices: choice ? [{ index: 0, logprobs: null, finish_reason: null, ...choice }] : [], ...extra })}\n\n`,
      );
    let first = true;
    const delta = (d: Record<string, unknown>) => {
      send({ delta: first ? { role: "assistant", ...d } : d });
      first = false;
    };
    return {
      text: (chunk) => delta({ content: chunk }),
      toolCalls(calls) {
        for (const [index, call] of calls.entries()) {
          delta({
            tool_calls: [
              { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } },
            ],
          });
          const half = Math.ceil(call.arguments.length / 2);
          for (const piece of [call.arguments.slice(0, half), call.arguments.slice(half)]) {
            if (piece) delta({ tool_calls: [{ index, function: { arguments: piece } }] });
          }
        }
      },
      finish(reason, usage) {
        send({ delta: {}, finish_reason: reason });
        const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
        if (streamOptions?.include_usage) {
          send(null, {
            usage: {
              prompt_tokens: usage.prompt,
              completion_tokens: usage.completion,
              total_tokens: usage.prompt + usage.completion,
            },
          });
        }
        res.write("data: [DONE]\n\n");
      },
    };
  },
};

export function startFakeOpenAI(key = FAKE_OPENAI_KEY): Promise<FakeProvider> {
  return startFake("openai", openai, key);
}
