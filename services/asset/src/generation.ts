import { type Budgets, HttpError, type Identity, unprocessable } from "@gaia/kit";
import type { AssetConfig } from "./config.ts";
import type { JobRunner } from "./jobs.ts";
import { type Plan, plan, unsupported } from "./plan.ts";
import type { PriceBook } from "./prices.ts";
import type { AssetProvider } from "./providers/types.ts";
import { type GenerateBody, requestHash, specOf } from "./spec.ts";
import type { Asset, AssetStore, JobWithAsset } from "./store.ts";
import { TERMINAL } from "./store.ts";

/**
 * A generation request, cheapest way first: the same request already made (the caller's, or anyone's public
 * asset) is the cache at cost 0; a public asset that matches the prompt is offered, or taken with "reuse":
 * "prefer"; otherwise the plan's cheapest provider within the caller's limit and budget gets a job. A request
 * that repeats an Idempotency-Key, or a job for the same request still running, attaches to that job.
 */

/** A reuse candidate's ts_rank at or above this is good enough to take instead of generating. */
const REUSE_THRESHOLD = 0.05;

export interface Outcome {
  job: JobWithAsset;
  /** The request named a job that existed already (Idempotency-Key, or the same request still running). */
  attached: boolean;
  offers: (Asset & { rank: number })[];
}

export class Generation {
  readonly #store: AssetStore;
  readonly #providers: readonly AssetProvider[];
  readonly #prices: PriceBook;
  readonly #budgets: Budgets;
  readonly #runner: JobRunner;
  readonly #config: AssetConfig;
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(deps: {
    store: AssetStore;
    providers: readonly AssetProvider[];
    prices: PriceBook;
    budgets: Budgets;
    runner: JobRunner;
    config: AssetConfig;
  }) {
    this.#store = deps.store;
    this.#providers = deps.providers;
    this.#prices = deps.prices;
    this.#budgets = deps.budgets;
    this.#runner = deps.runner;
    this.#config = deps.config;
    deps.runner.onEvent = (jobId) => {
      for (const wake of this.#waiters.get(jobId) ?? []) wake();
    };
  }

  /** The plan for a request, without spending (the cost estimator). */
  async estimate(
    identity: Identity,
    body: GenerateBody,
  ): Promise<Plan & { remaining_budget_usd: number | null }> {
    this.#checkRequest(body);
    const spec = specOf(body);
    const remainingUsd = await this.#budgets.remainingUsd(identity);
    const p = plan(spec, this.#providers, await this.#prices.priceOf(), {
      maxCostUsd: body.max_cost_usd,
      remainingUsd,
      only: body.provider,
      placeholder: this.#config.placeholder,
    });
    return { ...p, remaining_budget_usd: remainingUsd };
  }

  /** Unsupported type, format or size, or an unknown provider: 422 naming what is allowed. */
  #checkRequest(body: GenerateBody) {
    if (body.provider && !this.#providers.some((p) => p.id === body.provider)) {
      throw unprocessable(
        `provider: ${body.provider} is not configured here; configured: ${this.#providers.map((p) => p.id).join(", ") || "none"}`,
      );
    }
    const spec = specOf(body);
    const able = this.#providers.filter((p) => p.capabilities.types.includes(spec.type));
    if (able.length === 0) throw unprocessable(`type: no configured provider makes ${spec.type}`);
    if (able.every((p) => unsupported(p, spec) !== undefined)) {
      const formats = [...new Set(able.flatMap((p) => p.capabilities.formats[spec.type] ?? []))];
      const sizes = able.some((p) => !p.capabilities.sizes)
        ? undefined
        : [...new Set(able.flatMap((p) => p.capabilities.sizes ?? []))];
      const problems = [
        ...(spec.format && !formats.includes(spec.format)
          ? [`format: ${spec.type} comes as ${formats.join(", ")}`]
          : []),
        ...(spec.size && sizes && !sizes.includes(spec.size) ? [`size: one of ${sizes.join(", ")}`] : []),
      ];
      throw unprocessable(
        problems.join("; ") || able.map((p) => `${p.id} ${unsupported(p, spec)}`).join("; "),
      );
    }
  }

  async generate(identity: Identity, body: GenerateBody, idempotencyKey?: string): Promise<Outcome> {
    const spec = specOf(body);
    const hash = requestHash(spec);
    const attached = await this.#store.findAttachable(identity.userId, idempotencyKey, hash);
    if (attached) return { job: attached, attached: true, offers: [] };
    const base = {
      identity,
      spec,
      hash,
      visibility: body.visibility,
      idempotencyKey,
      webhookUrl: body.webhook_url,
    };
    const deadline = new Date(Date.now() + this.#config.jobTimeoutMs);
    const none: Plan = { candidates: [], rejected: [], explanation: "" };

    const cached = await this.#store.findCached(identity.userId, hash);
    if (cached) {
      const explanation = `the same request was made before (asset ${cached.id}): served from the cache at no cost`;
      const job = await this.#store.createJob({
        ...base,
        plan: { ...none, explanation },
        strategy: "cache",
        deadline,
        finished: { from: cached },
      });
      // Finished at once, never through the runner: its webhook (if it has one) is fired from here.
      if (job.webhookUrl) this.#runner.onFinished(job.id);
      return { job, attached: false, offers: [] };
    }
    const offers =
      body.reuse === "off"
        ? []
        : await this.#store.reuseCandidates(spec.type, [spec.prompt, spec.style].filter(Boolean).join(" "));
    const best = offers[0];
    if (body.reuse === "prefer" && best && best.rank >= REUSE_THRESHOLD) {
      const explanation = `public asset ${best.id} matches the prompt (rank ${best.rank.toFixed(3)}): reused at no cost`;
      const job = await this.#store.createJob({
        ...base,
        plan: { ...none, explanation },
        strategy: "reuse",
        deadline,
        finished: { from: best },
      });
      if (job.webhookUrl) this.#runner.onFinished(job.id);
      return { job, attached: false, offers };
    }

    await this.#budgets.assertWithinBudget(identity);
    const estimate = await this.estimate(identity, body);
    if (estimate.candidates.length === 0) {
      const overBudget = estimate.rejected.some((r) => r.reason.includes("left in your budget"));
      throw new HttpError(overBudget ? 402 : 422, estimate.explanation, {
        extra: { rejected: estimate.rejected, remaining_budget_usd: estimate.remaining_budget_usd },
      });
    }
    const job = await this.#store.createJob({ ...base, plan: estimate, strategy: "generate", deadline });
    void this.#runner.tick();
    return { job, attached: false, offers };
  }

  /** Whether the first provider the plan chose is quick (answered within the request unless told otherwise). */
  quick(job: JobWithAsset): boolean {
    return this.#providers.find((p) => p.id === job.provider)?.capabilities.slow === false;
  }

  /** The job once it is finished, or as it stands after `ms`. */
  async waitFor(userId: string, job: JobWithAsset, ms: number): Promise<JobWithAsset> {
    const until = Date.now() + ms;
    let current = job;
    while (!(TERMINAL as readonly string[]).includes(current.status) && Date.now() < until) {
      const set = this.#waiters.get(job.id) ?? new Set<() => void>();
      this.#waiters.set(job.id, set);
      let wake = () => {};
      await new Promise<void>((resolve) => {
        wake = resolve;
        set.add(wake);
        // Another replica may be the one working on it: look again now and then.
        setTimeout(wake, Math.min(500, Math.max(0, until - Date.now()))).unref();
      });
      // Only this waiter leaves; others waiting on the same job stay.
      set.delete(wake);
      if (set.size === 0) this.#waiters.delete(job.id);
      current = (await this.#store.findJob(userId, job.id)) ?? current;
    }
    return current;
  }
}
