import { type Bus, identityOf, type Logger, openSse, parseInput, requirePermission } from "@gaia/kit";
import { chatBody } from "@gaia/kit/contracts/chat";
import type { Express, Request, RequestHandler, Response } from "express";
import {
  type ChatService,
  type Emit,
  type PreparedTurn,
  providerHttpError,
  type TurnResult,
} from "../chat.ts";
import { completionBody, usageBody } from "../formats/openai.ts";
import { chunkWriter, cleanWriter, scenarioWriter, type TurnWriter } from "../formats/streams.ts";
import { SCENARIO_IDS, SCENARIOS, type ScenarioId } from "../scenarios.ts";
import type { ChatStore } from "../store.ts";
import { followWorld } from "../world.ts";
import { clientSignal, identityToken, iso } from "./http.ts";

export interface ChatRouteDeps {
  chat: ChatService;
  store: ChatStore;
  bus: Bus;
  log: Logger;
}

type Format = "v1" | "v0.2" | "v0.3";

function nonStreamBody(format: Format, result: TurnResult, ms: number) {
  const usage = usageBody(result.usage);
  if (format === "v0.3") return { response: result.text, conversation_id: result.conversationId };
  if (format === "v0.2") {
    return {
      response: result.text,
      conversation_id: result.conversationId,
      provider: result.provider,
      model: result.model,
      usage,
      response_time_ms: ms,
      fallback_used: result.fallbackUsed,
    };
  }
  // v1 also carries OpenAI's `choices`, which older clients read.
  return completionBody({
    model: result.model,
    text: result.text,
    finishReason: result.finishReason,
    usage: result.usage,
    extra: {
      response: result.text,
      conversation_id: result.conversationId,
      provider: result.provider,
      fallback_used: result.fallbackUsed,
      response_time_ms: ms,
    },
  });
}

/**
 * Run a prepared turn on an SSE stream: the user's world updates are interleaved while it runs, and the
 * subscription ends with the stream however it ends. A failure after the stream opened is its last event.
 */
async function streamTurn(
  req: Request,
  res: Response,
  deps: ChatRouteDeps,
  turn: PreparedTurn,
  writerFor: (sse: ReturnType<typeof openSse>) => TurnWriter,
  run: (emit: Emit, signal: AbortSignal) => Promise<TurnResult>,
) {
  const sse = openSse(req, res);
  const writer = writerFor(sse);
  const unsubscribe = followWorld(deps.bus, turn.request.identity.userId, (payload) =>
    writer.worldUpdate(payload),
  );
  try {
    const result = await run((event) => writer.event(event), sse.signal);
    writer.done(result);
  } catch (error) {
    if (!sse.closed) writer.error(providerHttpError(error).detail);
    else deps.log.debug({ conversationId: turn.conversationId }, "client left during a stream");
  } finally {
    unsubscribe();
    sse.end();
  }
}

/** The turn a chat request asks for, checked and loaded for its caller. */
async function prepareTurn(deps: ChatRouteDeps, req: Request, res: Response) {
  const identity = identityOf(res.locals);
  const body = parseInput(chatBody, req.body);
  const turn = await deps.chat.prepare({
    identity,
    identityToken: identityToken(req),
    message: body.message,
    conversationId: body.conversation_id,
    personaId: body.persona_id,
    model: body.model,
  });
  return { body, turn };
}

/** A turn run without streaming: a provider's failure is the request's HTTP error. */
function answered(result: Promise<TurnResult>): Promise<TurnResult> {
  return result.catch((error) => {
    throw providerHttpError(error);
  });
}

function converse(deps: ChatRouteDeps, format: Format, forceStream = false): RequestHandler {
  return async (req, res) => {
    const started = performance.now();
    const { body, turn } = await prepareTurn(deps, req, res);
    if (!(body.stream || forceStream)) {
      const result = await answered(deps.chat.reply(turn, () => {}, clientSignal(res), false));
      res.json(nonStreamBody(format, result, Math.round(performance.now() - started)));
      return;
    }
    await streamTurn(
      req,
      res,
      deps,
      turn,
      (sse) =>
        format === "v0.3"
          ? cleanWriter(sse, turn.conversationId)
          : chunkWriter(sse, turn.conversationId, turn.target.model),
      (emit, signal) => deps.chat.reply(turn, emit, signal, true),
    );
  };
}

function scenario(deps: ChatRouteDeps, id: ScenarioId): RequestHandler {
  const definition = SCENARIOS[id];
  return async (req, res) => {
    const started = performance.now();
    const { body, turn } = await prepareTurn(deps, req, res);
    if (!body.stream) {
      const result = await answered(deps.chat.scenario(turn, definition, () => {}, clientSignal(res), false));
      res.json({
        response: result.text,
        scenario: id,
        agents: result.agents ?? [],
        conversation_id: result.conversationId,
        provider: result.provider,
        model: result.model,
        usage: usageBody(result.usage),
        response_time_ms: Math.round(performance.now() - started),
      });
      return;
    }
    await streamTurn(
      req,
      res,
      deps,
      turn,
      (sse) => scenarioWriter(sse, turn.conversationId, id),
      (emit, signal) => deps.chat.scenario(turn, definition, emit, signal, true),
    );
  };
}

async function status(deps: ChatRouteDeps, res: Response, apiVersion: string) {
  const identity = identityOf(res.locals);
  const stats = await deps.store.conversationStats(identity.userId);
  res.json({
    status: "ok",
    api_version: apiVersion,
    user_id: identity.userId,
    conversations: stats.conversations,
    message_count: stats.messages,
    last_activity: iso(stats.lastActivity),
  });
}

async function clearHistory(deps: ChatRouteDeps, res: Response) {
  const identity = identityOf(res.locals);
  const deleted = await deps.store.deleteAllConversations(identity.userId);
  res.json({ status: "cleared", conversations_deleted: deleted });
}

export function mountChat(app: Express, deps: ChatRouteDeps) {
  const create = requirePermission("chat:create");

  // The gateway sends the first implementation's experimental variants (ultrafast, direct, ...) here too.
  app.post("/api/v1/chat", create, converse(deps, "v1"));
  app.post("/api/v0.2/chat", create, converse(deps, "v0.2"));
  app.post("/api/v0.2/chat/stream", create, converse(deps, "v0.2", true));
  app.post("/api/v0.3/chat", create, converse(deps, "v0.3"));
  for (const id of SCENARIO_IDS) app.post(`/api/v1/chat/${id}`, create, scenario(deps, id));

  app.get("/api/v1/chat/scenarios", (_req, res) => {
    res.json({
      scenarios: SCENARIO_IDS.map((id) => ({
        id,
        title: SCENARIOS[id].title,
        description: SCENARIOS[id].description,
        agents: [...new Set(SCENARIOS[id].turns.map((t) => t.name))],
        path: `/api/v1/chat/${id}`,
      })),
    });
  });

  for (const [prefix, version] of [
    ["/api/v1/chat", "v1"],
    ["/api/v0.2/chat", "v0.2"],
    ["/api/v0.3/chat", "v0.3"],
  ] as const) {
    app.get(`${prefix}/status`, (_req, res) => status(deps, res, version));
    app.delete(`${prefix}/history`, (_req, res) => clearHistory(deps, res));
    // Prompts are read from the database per turn; only the default persona is cached, so dropping it reloads.
    app.post(`${prefix}/reload-prompt`, (_req, res) => {
      deps.chat.forgetPrompts();
      res.json({ status: "reloaded", detail: "Personas are read afresh on the next message" });
    });
  }
}

/** The v0.2 API's self-description and health, which clients may read without credentials. */
export function mountInfo(app: Express, info: { version: string; defaultModel: string }) {
  app.get("/api/v0.2", (_req, res) => {
    res.json({
      api_version: info.version,
      service: "chat",
      default_model: info.defaultModel,
      endpoints: {
        chat: "/api/v0.2/chat",
        stream: "/api/v0.2/chat/stream",
        providers: "/api/v0.2/providers",
        models: "/api/v0.2/models",
        personas: "/api/v0.2/personas",
        usage: "/api/v0.2/usage/current",
      },
    });
  });
  app.get("/api/v0.2/health", (_req, res) => {
    res.json({ status: "healthy", api_version: info.version, service: "chat" });
  });
}
