import type { FinishReason, StreamEvent, ToolCall, Usage } from "./types.ts";

/** What a model's stream said so far, gathered event by event: text, tool calls, usage and finish reason. */
export class StreamTally {
  text = "";
  usage: Usage | undefined;
  finishReason: FinishReason = "stop";
  readonly #calls = new Map<number, ToolCall>();

  add(event: StreamEvent): void {
    switch (event.type) {
      case "text":
        this.text += event.text;
        break;
      case "tool_call_start":
        this.#calls.set(event.index, { id: event.id, name: event.name, arguments: "" });
        break;
      case "tool_call_delta": {
        const call = this.#calls.get(event.index);
        if (call) call.arguments += event.arguments;
        break;
      }
      case "usage":
        this.usage = event.usage;
        break;
      case "finish":
        this.finishReason = event.reason;
        break;
    }
  }

  /** The tool calls in the order the model numbered them. */
  toolCalls(): ToolCall[] {
    return [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
  }
}
