import OpenAI from "openai";
import type {
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletionToolChoiceOption,
} from "openai/resources/chat/completions/completions";
import type { ProviderConfig } from "../config.ts";
import type {
  ChatMessage,
  Completion,
  CompletionRequest,
  FinishReason,
  StreamEvent,
  ToolChoice,
  ToolSpec,
} from "../types.ts";
import { type ChatProvider, ProviderError, toProviderError } from "./types.ts";

/**
 * OpenAI and every server that speaks its chat-completions API (vLLM, Ollama, Azure's compatible endpoint,
 * LiteLLM). Retries are the router's job, so the SDK makes exactly one attempt.
 */
export class OpenAIProvider implements ChatProvider {
  readonly id = "openai" as const;
  readonly #client: OpenAI;

  constructor(config: ProviderConfig, timeoutMs: number) {
    this.#client = new OpenAI({
      // A local server without authentication still needs a non-empty key for the SDK.
      apiKey: config.apiKey ?? "unused",
      baseURL: config.baseURL ?? "https://api.openai.com/v1",
      maxRetries: 0,
      timeout: timeoutMs,
    });
  }

  async *stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<StreamEvent> {
    // The finish is held back until the stream ends: OpenAI sends the usage after the finishing chunk.
    let finish: FinishReason | undefined;
    try {
      const stream = await this.#client.chat.completions.create(
        { ...toOpenAI(request), stream: true, stream_options: { include_usage: true } },
        { signal },
      );
      for await (const chunk of stream) {
        if (chunk.usage) {
          yield {
            type: "usage",
            usage: {
              promptTokens: chunk.usage.prompt_tokens ?? 0,
              completionTokens: chunk.usage.completion_tokens ?? 0,
            },
          };
        }
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const delta = choice.delta;
        if (delta?.content) yield { type: "text", text: delta.content };
        for (const call of delta?.tool_calls ?? []) {
          if (call.id || call.function?.name) {
            yield {
              type: "tool_call_start",
              index: call.index,
              id: call.id ?? "",
              name: call.function?.name ?? "",
            };
          }
          if (call.function?.arguments) {
            yield { type: "tool_call_delta", index: call.index, arguments: call.function.arguments };
          }
        }
        if (choice.finish_reason) finish = finishReason(choice.finish_reason);
      }
    } catch (error) {
      throw toProviderError(this.id, error, signal);
    }
    // The SDK ends its iteration quietly on abort; a stream without a finish was cancelled or cut.
    if (signal.aborted) throw new ProviderError(this.id, "aborted", "The request was cancelled");
    if (!finish) throw new ProviderError(this.id, "interrupted", "openai ended the stream without finishing");
    yield { type: "finish", reason: finish };
  }

  async complete(request: CompletionRequest, signal: AbortSignal): Promise<Completion> {
    try {
      const response = await this.#client.chat.completions.create(
        { ...toOpenAI(request), stream: false },
        { signal },
      );
      const choice = response.choices[0];
      const message = choice?.message;
      return {
        text: message?.content ?? "",
        toolCalls: (message?.tool_calls ?? []).flatMap((call) =>
          call.type === "function"
            ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
            : [],
        ),
        usage: {
          promptTokens: response.usage?.prompt_tokens ?? 0,
          completionTokens: response.usage?.completion_tokens ?? 0,
        },
        finishReason: finishReason(choice?.finish_reason ?? "stop"),
      };
    } catch (error) {
      throw toProviderError(this.id, error, signal);
    }
  }

  async listModels(signal: AbortSignal): Promise<string[]> {
    try {
      const ids: string[] = [];
      for await (const model of this.#client.models.list({ signal })) ids.push(model.id);
      return ids;
    } catch (error) {
      throw toProviderError(this.id, error, signal);
    }
  }
}

function finishReason(reason: string): FinishReason {
  if (reason === "length" || reason === "tool_calls" || reason === "content_filter") return reason;
  return reason === "function_call" ? "tool_calls" : "stop";
}

function toOpenAI(request: CompletionRequest): Omit<ChatCompletionCreateParamsBase, "stream"> {
  return {
    model: request.model,
    messages: request.messages.map(toOpenAIMessage),
    ...(request.tools?.length ? { tools: request.tools.map(toOpenAITool) } : {}),
    ...(request.tools?.length && request.toolChoice
      ? { tool_choice: toOpenAIToolChoice(request.toolChoice) }
      : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.topP !== undefined ? { top_p: request.topP } : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    ...(request.stop?.length ? { stop: request.stop } : {}),
  };
}

function toOpenAIMessage(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case "assistant":
      return {
        role: "assistant",
        content: message.content || (message.toolCalls?.length ? null : ""),
        ...(message.toolCalls?.length
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: "function" as const,
                function: { name: call.name, arguments: call.arguments },
              })),
            }
          : {}),
      };
    case "tool":
      return { role: "tool", tool_call_id: message.toolCallId, content: message.content };
    default:
      return { role: message.role, content: message.content };
  }
}

function toOpenAITool(tool: ToolSpec) {
  return {
    type: "function" as const,
    function: { name: tool.name, description: tool.description, parameters: tool.parameters },
  };
}

function toOpenAIToolChoice(choice: ToolChoice): ChatCompletionToolChoiceOption {
  return typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
}
