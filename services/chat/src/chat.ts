import { randomUUID } from "node:crypto";
import {
  type Bus,
  badGateway,
  badRequest,
  gatewayTimeout,
  HttpError,
  hasPermission,
  type Identity,
  type Logger,
  notFound,
  serviceUnavailable,
  storableText,
} from "@gaia/kit";
import { modelInfo, type ProviderKind } from "./catalogue.ts";
import { estimateTokens, fitHistory, messageTokens, promptBudget } from "./history.ts";
import { KB_TOOLS, type KbTools } from "./kb.ts";
import { ProviderError } from "./providers/types.ts";
import type { ModelRequest, ModelRouter, Selected, Target } from "./router.ts";
import { type Scenario, transcript } from "./scenarios.ts";
import type { ChatStore, Persona } from "./store.ts";
import { StreamTally } from "./tally.ts";
import type { ChatMessage, FinishReason, ToolCall, ToolSpec, Usage } from "./types.ts";
import type { Accounting } from "./usage.ts";

/** What a client asks of a chat turn, in any of the API versions. */
export interface TurnRequest {
  identity: Identity;
  /** The caller's X-Gaia-Identity, forwarded to the KB so tools read with the caller's permissions. */
  identityToken: string;
  message: string;
  conversationId?: string | null;
  personaId?: string | null;
  model?: string | null;
}

/** A turn checked and loaded, ready to run: errors up to here are the client's (404, 422, 429). */
export interface PreparedTurn {
  request: TurnRequest;
  conversationId: string;
  /** Settles when the conversation row exists; a new one is written while the model is already working. */
  conversationReady: Promise<void>;
  persona: Persona;
  history: ChatMessage[];
  target: Target;
}

/** What a turn tells its client as it happens; each API version renders these in its own format. */
export type TurnEvent =
  | ({ type: "start"; conversationId: string } & Selected)
  | { type: "text"; text: string; agent?: string }
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "tool_result"; id: string; name: string; ok: boolean }
  | { type: "agent_start"; agent: string }
  | { type: "agent_end"; agent: string };

export type Emit = (event: TurnEvent) => void;

export interface TurnResult {
  conversationId: string;
  text: string;
  provider: ProviderKind;
  model: string;
  fallbackUsed: boolean;
  usage: Usage;
  finishReason: FinishReason;
  agents?: { agent: string; content: string }[];
}

/** A model call's share of a turn, for the usage records. */
interface CallRecord {
  target: Target;
  usage: Usage;
}

interface StepResult {
  text: string;
  toolCalls: ToolCall[];
  usage: Usage;
  finishReason: FinishReason;
  selected: Selected;
}

/** Rounds of tool use before the model must answer in words. */
const MAX_TOOL_ROUNDS = 4;
const TITLE_LENGTH = 60;

export function titleFrom(message: string): string {
  // By code points, so an emoji at the cut is kept or dropped whole, never left as half a surrogate pair.
  const line = [...message.trim().split("\n")[0]!.replace(/\s+/g, " ")];
  return line.length > TITLE_LENGTH
    ? `${line.slice(0, TITLE_LENGTH - 1).join("")}…`
    : line.join("") || "New conversation";
}

/** What a client hears when its turn ran but could not be kept: the reply is not in the conversation. */
export const REPLY_NOT_SAVED = "The reply could not be saved; try again";

/** Map a provider failure onto the HTTP error a client sees. */
export function providerHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (!(error instanceof ProviderError)) return new HttpError(500, "Internal server error");
  if (error.kind === "timeout") return gatewayTimeout(`The model did not answer in time: ${error.message}`);
  if (error.kind === "http" && error.status !== undefined && [400, 404, 413, 422].includes(error.status)) {
    return badRequest(`${error.provider} refused the request: ${error.message}`);
  }
  return badGateway(`The model provider failed: ${error.message}`);
}

export interface ChatDeps {
  store: ChatStore;
  router: ModelRouter;
  accounting: Accounting;
  kb: KbTools;
  bus: Bus;
  log: Logger;
  historyLimit: number;
  kbTools: boolean;
}

/**
 * Chat turns: load the conversation and persona, fit the history into the model's context, run the model (and
 * the KB tools it calls), then store both messages with provider, model and token usage, and bill them.
 */
export class ChatService {
  readonly #d: ChatDeps;
  #defaultPersona: Promise<Persona | null> | undefined;

  constructor(deps: ChatDeps) {
    this.#d = deps;
  }

  /** The built-in default persona, cached; `forgetPrompts` drops the cache after an edit. */
  defaultPersona(): Promise<Persona> {
    this.#defaultPersona ??= this.#d.store.defaultPersona().catch((error) => {
      this.#defaultPersona = undefined;
      throw error;
    });
    return this.#defaultPersona.then(async (persona) => {
      if (persona) return persona;
      this.#defaultPersona = undefined;
      return this.#d.store.ensureDefaultPersona();
    });
  }

  forgetPrompts(): void {
    this.#defaultPersona = undefined;
  }

  async prepare(request: TurnRequest): Promise<PreparedTurn> {
    const { identity } = request;
    if (!request.message.trim()) throw badRequest("message must not be empty");
    // Resolving the model first answers a bad model name before anything is written.
    const target = this.#d.router.resolve(request.model);
    const [, existing, history, requestedPersona, selectedPersona] = await Promise.all([
      this.#d.accounting.assertWithinBudget(identity),
      request.conversationId
        ? this.#d.store.findConversation(identity.userId, request.conversationId)
        : Promise.resolve(null),
      request.conversationId && this.#d.historyLimit > 0
        ? this.#d.store.recentMessages(request.conversationId, this.#d.historyLimit)
        : Promise.resolve([]),
      request.personaId
        ? this.#d.store.findPersona(identity.userId, request.personaId)
        : Promise.resolve(null),
      // A new conversation without a persona starts with the one the user chose (personas/set).
      request.conversationId || request.personaId
        ? Promise.resolve(null)
        : this.#d.store.selectedPersona(identity.userId),
    ]);
    if (request.conversationId && !existing) throw notFound("Conversation not found");
    if (request.personaId && !requestedPersona) throw notFound("Persona not found");

    const personaId = requestedPersona?.id ?? existing?.personaId ?? null;
    const persona =
      requestedPersona ??
      selectedPersona ??
      (personaId ? await this.#d.store.findPersona(identity.userId, personaId) : null) ??
      (await this.defaultPersona());

    if (existing) {
      const conversationReady =
        requestedPersona && existing.personaId !== requestedPersona.id
          ? this.#d.store
              .updateConversation(identity.userId, existing.id, { personaId: requestedPersona.id })
              .then(() => {})
          : Promise.resolve();
      return {
        request,
        conversationId: existing.id,
        conversationReady,
        persona,
        history: history.flatMap((m): ChatMessage[] =>
          m.role === "user" || m.role === "assistant" ? [{ role: m.role, content: m.content }] : [],
        ),
        target,
      };
    }
    const conversationId = randomUUID();
    const conversationReady = this.#d.store
      .createConversation({
        id: conversationId,
        userId: identity.userId,
        title: titleFrom(request.message),
        personaId: (requestedPersona ?? selectedPersona)?.id ?? null,
      })
      .then(() => {
        void this.#publish("gaia.chat.conversation.created", {
          conversation_id: conversationId,
          user_id: identity.userId,
        });
      });
    // Awaited before the messages are written; marked handled so a failure surfaces there, not as a crash.
    conversationReady.catch(() => {});
    return {
      request,
      conversationId,
      conversationReady,
      persona,
      history: [],
      target,
    };
  }

  #toolsFor(identity: Identity, target: Target): ToolSpec[] | undefined {
    if (!this.#d.kbTools || !hasPermission(identity, "kb:read")) return undefined;
    return modelInfo(target.provider, target.model).capabilities.tools ? KB_TOOLS : undefined;
  }

  #prompt(turn: PreparedTurn, system: string, extra: ChatMessage[] = []): ChatMessage[] {
    const info = modelInfo(turn.target.provider, turn.target.model);
    return fitHistory(
      [{ role: "system", content: system }],
      turn.history,
      [{ role: "user", content: turn.request.message }, ...extra],
      promptBudget(info.contextWindow, info.maxOutputTokens),
    );
  }

  /** One reply from the conversation's persona, with KB tools when the caller may read the KB. */
  async reply(turn: PreparedTurn, emit: Emit, signal: AbortSignal, stream: boolean): Promise<TurnResult> {
    const messages = this.#prompt(turn, turn.persona.systemPrompt);
    const calls: CallRecord[] = [];
    let text = "";
    const start = turnStart(turn, emit);
    let model = `${turn.target.provider}/${turn.target.model}`;
    // Finished once: a reply that could not be stored is not a second turn to store and bill.
    let finished = false;
    try {
      for (let round = 0; ; round++) {
        const tools =
          round < MAX_TOOL_ROUNDS ? this.#toolsFor(turn.request.identity, turn.target) : undefined;
        const step = await this.#step(
          { messages, tools },
          model,
          stream,
          signal,
          calls,
          start.announce,
          (piece) => {
            text += piece;
            emit({ type: "text", text: piece });
          },
        );
        // Later rounds stay with the model that answered the first, so the tool exchange stays in one voice.
        model = `${step.selected.provider}/${step.selected.model}`;
        if (step.toolCalls.length === 0) {
          finished = true;
          await this.#finish(turn, text, calls);
          return this.#result(turn, text, calls, start.selected ?? step.selected, step.finishReason);
        }
        messages.push({ role: "assistant", content: step.text, toolCalls: step.toolCalls });
        for (const call of step.toolCalls) {
          emit({ type: "tool_call", id: call.id, name: call.name, arguments: call.arguments });
          const outcome = this.#d.kb.handles(call.name)
            ? await this.#d.kb.run(call, turn.request.identityToken, signal)
            : { ok: false, content: JSON.stringify({ error: `Unknown tool ${call.name}` }) };
          emit({ type: "tool_result", id: call.id, name: call.name, ok: outcome.ok });
          messages.push({ role: "tool", toolCallId: call.id, content: outcome.content });
        }
      }
    } catch (error) {
      if (!finished) await this.#finish(turn, text, calls, error);
      throw error;
    }
  }

  /** A scenario: each agent speaks in turn, in its own voice, and sees what the others said before it. */
  async scenario(
    turn: PreparedTurn,
    scenario: Scenario,
    emit: Emit,
    signal: AbortSignal,
    stream: boolean,
  ): Promise<TurnResult> {
    const calls: CallRecord[] = [];
    const parts: { agent: string; content: string }[] = [];
    const start = turnStart(turn, emit);
    let model = `${turn.target.provider}/${turn.target.model}`;
    let finishReason: FinishReason = "stop";
    try {
      for (const agent of scenario.turns) {
        const heard = parts.length
          ? [
              {
                role: "user" as const,
                content: `What the others said so far:\n\n${transcript(parts)}\n\nNow speak as ${agent.name}.`,
              },
            ]
          : [];
        const system = `${scenario.setting}\n\n${agent.instructions}\n\nYou are ${agent.name}. Write only ${agent.name}'s part, without a name label.`;
        emit({ type: "agent_start", agent: agent.name });
        let said = "";
        const step = await this.#step(
          { messages: this.#prompt(turn, system, heard) },
          model,
          stream,
          signal,
          calls,
          start.announce,
          (piece) => {
            said += piece;
            emit({ type: "text", text: piece, agent: agent.name });
          },
        );
        model = `${step.selected.provider}/${step.selected.model}`;
        finishReason = step.finishReason;
        parts.push({ agent: agent.name, content: said });
        emit({ type: "agent_end", agent: agent.name });
      }
    } catch (error) {
      await this.#finish(turn, transcript(parts), calls, error);
      throw error;
    }
    const text = transcript(parts);
    await this.#finish(turn, text, calls);
    return { ...this.#result(turn, text, calls, start.selected!, finishReason), agents: parts };
  }

  /** One model call, streamed or not; text is handed to `onText` as it arrives. */
  async #step(
    request: ModelRequest,
    model: string,
    stream: boolean,
    signal: AbortSignal,
    calls: CallRecord[],
    onSelected: (selected: Selected) => void,
    onText: (text: string) => void,
  ): Promise<StepResult> {
    const promptTokens = request.messages.reduce((n, m) => n + messageTokens(m), 0);
    if (!stream) {
      const { completion, selected } = await this.#d.router.complete(request, model, signal);
      onSelected(selected);
      if (completion.text) onText(completion.text);
      const usage = withEstimates(completion.usage, promptTokens, completion.text);
      calls.push({ target: selected, usage });
      return { ...completion, usage, selected };
    }
    const tally = new StreamTally();
    let selected: Selected | undefined;
    try {
      for await (const event of this.#d.router.stream(request, model, signal)) {
        if (event.type === "selected") {
          selected = { provider: event.provider, model: event.model, fallbackUsed: event.fallbackUsed };
          onSelected(selected);
          continue;
        }
        tally.add(event);
        if (event.type === "text") onText(event.text);
      }
    } finally {
      // A cut or abandoned stream still cost tokens: bill what the provider reported, or an estimate.
      if (selected)
        calls.push({ target: selected, usage: withEstimates(tally.usage, promptTokens, tally.text) });
    }
    return {
      text: tally.text,
      // The tool exchange needs an id for every call, also when the model left it out.
      toolCalls: tally.toolCalls().map((call) => ({ ...call, id: call.id || `call_${randomUUID()}` })),
      usage: withEstimates(tally.usage, promptTokens, tally.text),
      finishReason: tally.finishReason,
      selected: selected!,
    };
  }

  #result(
    turn: PreparedTurn,
    text: string,
    calls: CallRecord[],
    selected: Selected,
    finishReason: FinishReason,
  ): TurnResult {
    return {
      conversationId: turn.conversationId,
      text,
      provider: selected.provider,
      model: selected.model,
      fallbackUsed: selected.fallbackUsed,
      usage: totalUsage(calls),
      finishReason,
    };
  }

  /**
   * Store the user's message and the reply (as far as it got) with provider, model and tokens, bill each model
   * call, and announce the outcome. A turn that ran but could not be stored is not a success: it fails with 503
   * (a turn that failed already keeps its own error). Billing does not depend on storing: the provider was paid
   * either way, so every call is recorded whether or not the messages were kept.
   */
  async #finish(turn: PreparedTurn, reply: string, calls: CallRecord[], error?: unknown): Promise<void> {
    const { identity } = turn.request;
    const usage = totalUsage(calls);
    const last = calls.at(-1)?.target;
    const stored = await this.#store(turn, reply, usage, last).then(
      () => true,
      (storeError) => {
        this.#d.log.error(
          { err: storeError, conversationId: turn.conversationId },
          "could not store a chat turn",
        );
        return false;
      },
    );
    const costUsd = await this.#bill(identity, calls);
    const base = {
      conversation_id: turn.conversationId,
      user_id: identity.userId,
      key_id: identity.keyId ?? null,
      provider: last?.provider ?? null,
      model: last?.model ?? null,
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      cost_usd: costUsd,
    };
    if (error !== undefined) {
      const aborted = error instanceof ProviderError && error.kind === "aborted";
      void this.#publish(aborted ? "gaia.chat.message.cancelled" : "gaia.chat.message.failed", {
        ...base,
        detail: providerHttpError(error).detail,
      });
    } else if (!stored) {
      void this.#publish("gaia.chat.message.failed", { ...base, detail: REPLY_NOT_SAVED });
      throw serviceUnavailable(REPLY_NOT_SAVED);
    } else void this.#publish("gaia.chat.message.completed", base);
  }

  async #store(turn: PreparedTurn, reply: string, usage: Usage, last: Target | undefined): Promise<void> {
    await turn.conversationReady;
    await this.#d.store.appendMessages(turn.conversationId, [
      {
        role: "user",
        content: turn.request.message,
        provider: last?.provider,
        model: last?.model,
        promptTokens: usage.promptTokens,
      },
      ...(reply
        ? [
            {
              role: "assistant" as const,
              // The client's text was refused at the boundary; the model's is kept, unstorable characters replaced.
              content: storableText(reply),
              provider: last?.provider,
              model: last?.model,
              completionTokens: usage.completionTokens,
            },
          ]
        : []),
    ]);
  }

  /** Record each call's cost; one that cannot be recorded is logged with what it cost, to be reconciled. */
  async #bill(identity: Identity, calls: CallRecord[]): Promise<number> {
    let costUsd = 0;
    for (const call of calls) {
      try {
        costUsd += await this.#d.accounting.record(
          identity,
          call.target.provider,
          call.target.model,
          call.usage,
        );
      } catch (billError) {
        this.#d.log.error(
          {
            err: billError,
            userId: identity.userId,
            keyId: identity.keyId,
            provider: call.target.provider,
            model: call.target.model,
            usage: call.usage,
          },
          "could not record the usage of a chat turn",
        );
      }
    }
    return costUsd;
  }

  #publish(subject: string, payload: Record<string, unknown>) {
    return this.#d.bus.publish(subject, { ...payload, at: new Date().toISOString() }).catch((error) => {
      this.#d.log.warn({ err: String(error), subject }, "event not published");
    });
  }
}

/** The turn's start, told to the client once: with the model that answered its first step. */
function turnStart(turn: PreparedTurn, emit: Emit) {
  let selected: Selected | undefined;
  return {
    get selected() {
      return selected;
    },
    announce(chosen: Selected) {
      if (selected) return;
      selected = chosen;
      emit({ type: "start", conversationId: turn.conversationId, ...chosen });
    },
  };
}

function withEstimates(usage: Usage | undefined, promptTokens: number, text: string): Usage {
  return {
    promptTokens: usage?.promptTokens || promptTokens,
    completionTokens: usage?.completionTokens || estimateTokens(text),
  };
}

function totalUsage(calls: CallRecord[]): Usage {
  return calls.reduce(
    (sum, c) => ({
      promptTokens: sum.promptTokens + c.usage.promptTokens,
      completionTokens: sum.completionTokens + c.usage.completionTokens,
    }),
    { promptTokens: 0, completionTokens: 0 },
  );
}
