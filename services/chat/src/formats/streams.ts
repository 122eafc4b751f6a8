import type { SseStream } from "@gaia/kit";
import type { TurnEvent, TurnResult } from "../chat.ts";
import { ChunkBuilder, openAIError } from "./openai.ts";

/** Renders a turn's events onto an SSE stream in one API version's format. */
export interface TurnWriter {
  event(event: TurnEvent): void;
  worldUpdate(payload: unknown): void;
  done(result: TurnResult): void;
  /** The last event of a stream that broke: never a clean close. */
  error(detail: string): void;
}

/** A world update as a JSON object: its own fields when it is one, else under `data`. */
export function worldUpdateBody(payload: unknown): Record<string, unknown> {
  const fields =
    payload && typeof payload === "object" && !Array.isArray(payload) ? payload : { data: payload };
  return { ...(fields as Record<string, unknown>), type: "world_update" };
}

/**
 * v1 and v0.2: `chat.completion.chunk` lines carrying the conversation_id, world updates as SSE events named
 * `world_update`, and `data: [DONE]` last. The KB tool exchange stays inside Gaia: a client seeing tool_calls
 * would think it had to run them.
 */
export function chunkWriter(sse: SseStream, conversationId: string, model: string): TurnWriter {
  const extra: Record<string, unknown> = { conversation_id: conversationId };
  const chunks = new ChunkBuilder(model, extra);
  let roleSent = false;
  const send = (text: string) => {
    sse.send(roleSent ? chunks.content(text) : chunks.role(text));
    roleSent = true;
  };
  return {
    event(event) {
      if (event.type === "start") {
        chunks.model = event.model;
        extra.provider = event.provider;
      } else if (event.type === "text") {
        send(event.text);
      }
    },
    worldUpdate(payload) {
      sse.send(payload ?? null, "world_update");
    },
    done(result) {
      if (!roleSent) send("");
      sse.send(chunks.finish(result.finishReason, result.usage));
      sse.send("[DONE]");
    },
    error(detail) {
      sse.send({ ...openAIError(detail), detail, conversation_id: conversationId });
    },
  };
}

/** v0.3, the clean format: no provider details, only what a game client needs. */
export function cleanWriter(sse: SseStream, conversationId: string): TurnWriter {
  sse.send({ type: "metadata", conversation_id: conversationId });
  return {
    event(event) {
      if (event.type === "text") sse.send({ type: "content", content: event.text });
    },
    worldUpdate(payload) {
      sse.send(worldUpdateBody(payload));
    },
    done() {
      sse.send({ type: "done", conversation_id: conversationId });
    },
    error(detail) {
      sse.send({ type: "error", detail });
    },
  };
}

/** Scenarios: each agent's part framed by agent_start and agent_end, its content chunks tagged with its name. */
export function scenarioWriter(sse: SseStream, conversationId: string, scenario: string): TurnWriter {
  sse.send({ type: "metadata", conversation_id: conversationId, scenario });
  return {
    event(event) {
      switch (event.type) {
        case "agent_start":
          sse.send({ type: "agent_start", agent: event.agent });
          break;
        case "text":
          sse.send({ type: "content", agent: event.agent, content: event.text });
          break;
        case "agent_end":
          sse.send({ type: "agent_end", agent: event.agent });
          break;
      }
    },
    worldUpdate(payload) {
      sse.send(worldUpdateBody(payload));
    },
    done(result) {
      sse.send({
        type: "done",
        conversation_id: conversationId,
        agents: (result.agents ?? []).map((a) => a.agent),
        usage: { prompt_tokens: result.usage.promptTokens, completion_tokens: result.usage.completionTokens },
      });
    },
    error(detail) {
      sse.send({ type: "error", detail });
    },
  };
}
