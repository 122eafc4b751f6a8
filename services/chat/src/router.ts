import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@gaia/kit";
import { unprocessable } from "@gaia/kit";
import { ECHO_MODEL, findModel, guessProvider, type ProviderKind } from "./catalogue.ts";
import type { ChatConfig } from "./config.ts";
import { type ChatProvider, ProviderError, toProviderError } from "./providers/types.ts";
import type { ProviderStats } from "./stats.ts";
import type { Completion, CompletionRequest, StreamEvent } from "./types.ts";

export interface Target {
  provider: ProviderKind;
  model: string;
}

/** Which model answered, and whether it was the one asked for. */
export interface Selected extends Target {
  fallbackUsed: boolean;
}

export type RoutedEvent = StreamEvent | ({ type: "selected" } & Selected);

export type ModelRequest = Omit<CompletionRequest, "model">;

/** Names that mean "whatever this deployment answers with by default". */
const DEFAULT_NAMES = new Set(["", "default", "gaia", "auto"]);
const BACKOFF_CAP_MS = 4_000;

/**
 * Sends a model call to the right provider and keeps it alive: retries with backoff while the provider is
 * briefly unwell, falls back along the configured chain while nothing has reached the client, and reports a
 * failure once something has (a stream is never silently replayed).
 */
export class ModelRouter {
  readonly #providers: ReadonlyMap<ProviderKind, ChatProvider>;
  readonly #config: ChatConfig;
  readonly #stats: ProviderStats;
  readonly #log: Logger;

  constructor(
    providers: ReadonlyMap<ProviderKind, ChatProvider>,
    config: ChatConfig,
    stats: ProviderStats,
    log: Logger,
  ) {
    this.#providers = providers;
    this.#config = config;
    this.#stats = stats;
    this.#log = log;
  }

  configured(provider: ProviderKind): boolean {
    return this.#providers.has(provider);
  }

  /** The provider and model a requested name means here; a 422 names the problem when none fits. */
  resolve(requested?: string | null): Target {
    const name = (requested ?? "").trim();
    if (DEFAULT_NAMES.has(name.toLowerCase())) return this.#parse(this.#config.defaultModel);
    const target = this.#parse(name);
    if (target.provider === "offline" && target.model !== ECHO_MODEL) {
      throw unprocessable(`The offline provider has only the "${ECHO_MODEL}" model`);
    }
    if (!this.#providers.has(target.provider)) {
      throw unprocessable(
        `Model "${name}" belongs to the ${target.provider} provider, which is not configured here; ` +
          `see GET /api/v1/models for the models available`,
      );
    }
    return target;
  }

  #parse(name: string): Target {
    const slash = name.indexOf("/");
    if (slash > 0) {
      const provider = name.slice(0, slash);
      if (provider === "openai" || provider === "anthropic" || provider === "offline") {
        return { provider, model: name.slice(slash + 1) };
      }
    }
    const known = findModel(name);
    if (known) return { provider: known.provider, model: known.id };
    const guessed = guessProvider(name);
    if (guessed) return { provider: guessed, model: name };
    // Any other name is a model of an OpenAI-compatible server (vLLM, Ollama), when one is configured.
    if (this.#providers.has("openai")) return { provider: "openai", model: name };
    throw unprocessable(`Unknown model "${name}"; see GET /api/v1/models for the models available`);
  }

  /** The requested model, then the configured fallbacks (the offline echo never stands in for a real model). */
  chain(requested?: string | null): Target[] {
    const first = this.resolve(requested);
    if (first.provider === "offline") return [first];
    const chain = [first];
    for (const name of this.#config.fallbackModels) {
      let target: Target;
      try {
        target = this.#parse(name);
      } catch {
        continue;
      }
      if (target.provider === "offline" || !this.#providers.has(target.provider)) continue;
      if (!chain.some((t) => t.provider === target.provider && t.model === target.model)) chain.push(target);
    }
    return chain;
  }

  #provider(target: Target): ChatProvider {
    const provider = this.#providers.get(target.provider);
    if (!provider) throw unprocessable(`The ${target.provider} provider is not configured here`);
    return provider;
  }

  /**
   * Stream from the first target in the chain that produces a first token in time. The first event yielded
   * is `selected`; errors after the first token are thrown as they come (the caller ends its stream with an
   * error event).
   */
  async *stream(
    request: ModelRequest,
    requested: string | null | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<RoutedEvent> {
    const chain = this.chain(requested);
    let lastError: ProviderError | undefined;
    for (const [position, target] of chain.entries()) {
      const provider = this.#provider(target);
      for (let attempt = 0; ; attempt++) {
        if (signal.aborted) throw new ProviderError(target.provider, "aborted", "The request was cancelled");
        const controller = new AbortController();
        const deadline = AbortSignal.timeout(this.#config.requestTimeoutMs);
        const attemptSignal = AbortSignal.any([signal, controller.signal, deadline]);
        const firstTokenTimer = setTimeout(() => controller.abort(), this.#config.firstTokenTimeoutMs);
        const started = performance.now();
        this.#stats.attempt(target.provider, attempt > 0);
        const iterator = provider
          .stream({ ...request, model: target.model }, attemptSignal)
          [Symbol.asyncIterator]();
        let first: IteratorResult<StreamEvent>;
        try {
          first = await iterator.next();
        } catch (error) {
          clearTimeout(firstTokenTimer);
          const timedOut = controller.signal.aborted && !signal.aborted;
          controller.abort();
          const failure = attemptFailure(
            target,
            error,
            signal,
            timedOut && `sent no first token within ${this.#config.firstTokenTimeoutMs} ms`,
          );
          lastError = failure;
          const next = await this.#afterFailure(
            failure,
            target,
            attempt,
            position < chain.length - 1,
            signal,
          );
          if (next === "retry") continue;
          if (next === "fallback") break;
          throw failure;
        }
        clearTimeout(firstTokenTimer);
        this.#stats.success(target.provider, performance.now() - started);
        try {
          yield { type: "selected", ...target, fallbackUsed: position > 0 };
          if (!first.done) yield first.value;
          while (true) {
            const next = await iterator.next();
            if (next.done) return;
            yield next.value;
          }
        } catch (error) {
          throw attemptFailure(
            target,
            error,
            signal,
            deadline.aborted &&
              !signal.aborted &&
              `did not finish within ${this.#config.requestTimeoutMs} ms`,
          );
        } finally {
          // Stop the upstream request whether the stream ended, broke, or the consumer walked away.
          controller.abort();
          await iterator.return?.().catch(() => {});
        }
      }
    }
    throw lastError ?? new ProviderError("offline", "connection", "No provider is available");
  }

  /** A whole answer from the first target in the chain that gives one. */
  async complete(
    request: ModelRequest,
    requested: string | null | undefined,
    signal: AbortSignal,
  ): Promise<{ completion: Completion; selected: Selected }> {
    const chain = this.chain(requested);
    let lastError: ProviderError | undefined;
    for (const [position, target] of chain.entries()) {
      const provider = this.#provider(target);
      for (let attempt = 0; ; attempt++) {
        if (signal.aborted) throw new ProviderError(target.provider, "aborted", "The request was cancelled");
        const timeout = AbortSignal.timeout(this.#config.requestTimeoutMs);
        const started = performance.now();
        this.#stats.attempt(target.provider, attempt > 0);
        try {
          const completion = await provider.complete(
            { ...request, model: target.model },
            AbortSignal.any([signal, timeout]),
          );
          this.#stats.success(target.provider, performance.now() - started);
          return { completion, selected: { ...target, fallbackUsed: position > 0 } };
        } catch (error) {
          const failure = attemptFailure(
            target,
            error,
            signal,
            timeout.aborted && !signal.aborted && `did not answer within ${this.#config.requestTimeoutMs} ms`,
          );
          lastError = failure;
          const next = await this.#afterFailure(
            failure,
            target,
            attempt,
            position < chain.length - 1,
            signal,
          );
          if (next === "retry") continue;
          if (next === "fallback") break;
          throw failure;
        }
      }
    }
    throw lastError ?? new ProviderError("offline", "connection", "No provider is available");
  }

  async #afterFailure(
    failure: ProviderError,
    target: Target,
    attempt: number,
    hasNext: boolean,
    signal: AbortSignal,
  ): Promise<"retry" | "fallback" | "fail"> {
    if (failure.kind === "aborted") return "fail";
    const wait = backoffMs(attempt, this.#config.retryBaseMs, failure.retryAfterMs);
    const retry = failure.retryable && attempt < this.#config.maxRetries && wait !== null;
    const fallback = !retry && failure.fallback && hasNext;
    this.#stats.failure(target.provider, failure.message, fallback);
    this.#log.warn(
      {
        provider: target.provider,
        model: target.model,
        attempt,
        status: failure.status,
        kind: failure.kind,
        retry,
        fallback,
      },
      `model call failed: ${failure.message}`,
    );
    if (retry) {
      await sleep(wait, undefined, { signal }).catch(() => {});
      return "retry";
    }
    return fallback ? "fallback" : "fail";
  }
}

/**
 * Why an attempt failed: a timeout when one of the router's own timers fired (`timedOut` says which, never the
 * caller's signal), else what the provider's error means.
 */
function attemptFailure(target: Target, error: unknown, signal: AbortSignal, timedOut: string | false) {
  return timedOut
    ? new ProviderError(target.provider, "timeout", `${target.provider} ${timedOut}`, { cause: error })
    : toProviderError(target.provider, error, signal);
}

/**
 * Exponential backoff with jitter; a server's Retry-After is honoured when it is short, and a long one means
 * "try elsewhere" (null).
 */
export function backoffMs(
  attempt: number,
  baseMs: number,
  retryAfterMs?: number,
  random = Math.random,
): number | null {
  const exponential = Math.min(BACKOFF_CAP_MS, baseMs * 2 ** attempt) * (0.5 + random() / 2);
  if (retryAfterMs === undefined) return Math.round(exponential);
  if (retryAfterMs > BACKOFF_CAP_MS) return null;
  return Math.round(Math.max(exponential, retryAfterMs));
}
