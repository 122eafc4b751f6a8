import {
  type Bus,
  HttpError,
  type Identity,
  identityOf,
  type Logger,
  notFound,
  openSse,
  parseInput,
  requirePermission,
  type SseStream,
} from "@gaia/kit";
import { completionRequest } from "@gaia/kit/contracts/chat";
import type { Express, RequestHandler } from "express";
import type { z } from "zod";
import { CATALOGUE, ECHO_MODEL } from "../catalogue.ts";
import { providerHttpError } from "../chat.ts";
import type { ChatConfig } from "../config.ts";
import { ChunkBuilder, completionBody, openAIError } from "../formats/openai.ts";
import { estimateTokens, messageTokens } from "../history.ts";
import type { ModelRequest, ModelRouter, Selected } from "../router.ts";
import { StreamTally } from "../tally.ts";
import type { ChatMessage, ToolChoice, Usage } from "../types.ts";
import type { Accounting } from "../usage.ts";
import { clientSignal } from "./http.ts";

export interface CompletionRouteDeps {
  router: ModelRouter;
  accounting: Accounting;
  config: ChatConfig;
  bus: Bus;
  log: Logger;
}

type CompletionInput = z.output<typeof completionRequest>;

function toModelRequest(body: CompletionInput): ModelRequest {
  const messages: ChatMessage[] = body.messages.map((m) => {
    switch (m.role) {
      case "developer":
        return { role: "system", content: m.content };
      case "assistant":
        return {
          role: "assistant",
          content: m.content,
          toolCalls: m.tool_calls?.map((c) => ({
            id: c.id,
            name: c.function.name,
            arguments: c.function.arguments,
          })),
        };
      case "tool":
        return { role: "tool", toolCallId: m.tool_call_id, content: m.content };
      default:
        return { role: m.role, content: m.content };
    }
  });
  const toolChoice: ToolChoice | undefined =
    typeof body.tool_choice === "object" ? { name: body.tool_choice.function.name } : body.tool_choice;
  return {
    messages,
    tools: body.tools?.map((t) => ({
      name: t.function.name,
      description: t.function.description,
      parameters: t.function.parameters,
    })),
    toolChoice,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    stop: typeof body.stop === "string" ? [body.stop] : (body.stop ?? undefined),
  };
}

/** A failure in the shape OpenAI clients read (`error.message`) as well as Gaia's `detail`. */
function openAIHttpError(error: unknown): HttpError {
  const http = providerHttpError(error);
  return new HttpError(http.status, http.detail, {
    headers: http.headers,
    extra: {
      ...http.extra,
      ...openAIError(http.detail, http.status === 429 ? "rate_limit_exceeded" : "upstream_error"),
    },
  });
}

/**
 * POST /api/v1/chat/completions: OpenAI's API in front of every configured provider, so the official SDK (and
 * anything built on it) works against Gaia unchanged. Stateless: the client sends the whole conversation, and
 * its own tools' calls are passed back to it to run.
 */
function completions(deps: CompletionRouteDeps): RequestHandler {
  return async (req, res) => {
    const identity = identityOf(res.locals);
    const body = parseInput(completionRequest, req.body);
    const request = toModelRequest(body);
    deps.router.resolve(body.model);
    try {
      await deps.accounting.assertWithinBudget(identity);
    } catch (error) {
      throw openAIHttpError(error);
    }
    // Stops the upstream call when the client leaves, and (once streaming) when the server shuts down.
    const shutdown = new AbortController();
    const signal = AbortSignal.any([clientSignal(res), shutdown.signal]);
    const promptTokens = request.messages.reduce((n, m) => n + messageTokens(m), 0);

    if (!body.stream) {
      const { completion, selected } = await deps.router
        .complete(request, body.model, signal)
        .catch((error) => {
          throw openAIHttpError(error);
        });
      const usage = {
        promptTokens: completion.usage.promptTokens || promptTokens,
        completionTokens: completion.usage.completionTokens || estimateTokens(completion.text),
      };
      await bill(deps, identity, selected, usage, false);
      res.json(
        completionBody({
          model: selected.model,
          text: completion.text,
          toolCalls: completion.toolCalls,
          finishReason: completion.finishReason,
          usage,
          extra: { provider: selected.provider },
        }),
      );
      return;
    }

    // The stream opens with the first token, so a provider failing before it is an HTTP error the SDK raises.
    let sse: SseStream | undefined;
    let chunks: ChunkBuilder | undefined;
    let selected: Selected | undefined;
    const tally = new StreamTally();
    let roleSent = false;
    try {
      for await (const event of deps.router.stream(request, body.model, signal)) {
        if (event.type === "selected") {
          selected = event;
          sse = openSse(req, res);
          sse.signal.addEventListener("abort", () => shutdown.abort(), { once: true });
          chunks = new ChunkBuilder(event.model, { provider: event.provider });
          continue;
        }
        if (!sse || !chunks) continue;
        // The role rides on the first text chunk; a tool call or a silent answer gets a role chunk of its own.
        if (!roleSent && event.type !== "text" && event.type !== "usage") {
          sse.send(chunks.role());
          roleSent = true;
        }
        tally.add(event);
        switch (event.type) {
          case "text":
            sse.send(roleSent ? chunks.content(event.text) : chunks.role(event.text));
            roleSent = true;
            break;
          case "tool_call_start":
            sse.send(chunks.toolCallStart(event.index, event.id, event.name));
            break;
          case "tool_call_delta":
            sse.send(chunks.toolCallArguments(event.index, event.arguments));
            break;
        }
      }
      const total = {
        promptTokens: tally.usage?.promptTokens || promptTokens,
        completionTokens:
          tally.usage?.completionTokens ||
          estimateTokens(
            tally.text +
              tally
                .toolCalls()
                .map((c) => c.arguments)
                .join(""),
          ),
      };
      if (sse && chunks) {
        if (!roleSent) sse.send(chunks.role());
        const separateUsage = body.stream_options?.include_usage === true;
        sse.send(chunks.finish(tally.finishReason, separateUsage ? undefined : total));
        if (separateUsage) sse.send(chunks.usage(total));
        sse.send("[DONE]");
      }
      if (selected) await bill(deps, identity, selected, total, true);
    } catch (error) {
      if (!sse) throw openAIHttpError(error);
      if (selected) {
        await bill(
          deps,
          identity,
          selected,
          {
            promptTokens: tally.usage?.promptTokens || promptTokens,
            completionTokens: tally.usage?.completionTokens || estimateTokens(tally.text),
          },
          true,
        );
      }
      if (!sse.closed) {
        const detail = providerHttpError(error).detail;
        sse.send({ ...openAIError(detail), detail });
      }
    } finally {
      sse?.end();
    }
  };
}

async function bill(
  deps: CompletionRouteDeps,
  identity: Identity,
  selected: Selected,
  usage: Usage,
  streamed: boolean,
) {
  try {
    const cost = await deps.accounting.record(identity, selected.provider, selected.model, usage);
    void deps.bus
      .publish("gaia.chat.completion.completed", {
        user_id: identity.userId,
        key_id: identity.keyId ?? null,
        provider: selected.provider,
        model: selected.model,
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        cost_usd: cost,
        streamed,
        at: new Date().toISOString(),
      })
      .catch(() => {});
  } catch (error) {
    deps.log.error({ err: error }, "could not record usage of a completion");
  }
}

/** The models a client may name here, as OpenAI lists them. */
export function availableModels(router: ModelRouter, config: ChatConfig) {
  const ids = new Map<string, string>();
  for (const model of CATALOGUE) {
    if (router.configured(model.provider) && model.provider !== "offline") ids.set(model.id, model.provider);
  }
  for (const provider of config.providers) {
    const bare = provider.defaultModel;
    let routed: string | undefined;
    try {
      routed = router.resolve(bare).provider;
    } catch {
      routed = undefined;
    }
    ids.set(routed === provider.id ? bare : `${provider.id}/${bare}`, provider.id);
  }
  ids.set(ECHO_MODEL, "offline");
  return [...ids.entries()].map(([id, owner]) => ({
    id,
    object: "model" as const,
    created: 0,
    owned_by: owner,
  }));
}

export function mountCompletions(app: Express, deps: CompletionRouteDeps) {
  app.post("/api/v1/chat/completions", requirePermission("chat:create"), completions(deps));
  app.get("/api/v1/models", (_req, res) => {
    res.json({ object: "list", data: availableModels(deps.router, deps.config) });
  });
  app.get("/api/v1/models/*model", (req, res) => {
    const id = ([] as string[]).concat(req.params.model ?? []).join("/");
    const found = availableModels(deps.router, deps.config).find((m) => m.id === id);
    if (!found) throw notFound(`Model ${id} is not available here`);
    res.json(found);
  });
}
