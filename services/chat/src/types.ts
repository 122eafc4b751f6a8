/** The conversation shapes every provider adapter translates to and from its own wire format. */

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments, as the model wrote it (it may not parse). */
  arguments: string;
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ToolCall[] }
  | { role: "tool"; toolCallId: string; content: string };

/** A function the model may call, described by a JSON Schema of its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export type ToolChoice = "auto" | "none" | "required" | { name: string };

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/** What one model call is asked to do; the model id is the provider's own name for it. */
export interface CompletionRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
}

/** A finished, non-streamed answer. */
export interface Completion {
  text: string;
  toolCalls: ToolCall[];
  usage: Usage;
  finishReason: FinishReason;
}

/**
 * One piece of a streamed answer. Tool calls arrive as a start (id and name) and argument fragments, both
 * keyed by the call's position in the answer, as OpenAI streams them.
 */
export type StreamEvent =
  | { type: "text"; text: string }
  | { type: "tool_call_start"; index: number; id: string; name: string }
  | { type: "tool_call_delta"; index: number; arguments: string }
  | { type: "usage"; usage: Usage }
  | { type: "finish"; reason: FinishReason };
