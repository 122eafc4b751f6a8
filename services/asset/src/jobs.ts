import type { Bus, Logger } from "@gaia/kit";
import type { AssetConfig } from "./config.ts";
import type { FileStore } from "./files.ts";
import type { Candidate } from "./plan.ts";
import type { PriceBook } from "./prices.ts";
import { neverSent } from "./providers/task-http.ts";
import {
  type AssetProvider,
  type AssetSpec,
  type Progress,
  ProviderError,
  type Task,
} from "./providers/types.ts";
import type { AssetStore, JobWithAsset } from "./store.ts";

/**
 * The job runner: each replica claims due jobs from PostgreSQL (SKIP LOCKED, with a lease it renews while it
 * works), so a job is worked on by one replica at a time and taken over when its replica dies. A provider task is
 * saved the moment the provider accepts it; a job that already has one is polled, never submitted again, so a
 * crash or a restart never pays twice. Provider failures before a charge are retried with backoff, then the next
 * candidate of the plan is tried (the same kind of output by construction); a hang ends at the job's deadline.
 */

const TICK_MS = 250;

export type Notify = (jobId: string) => void;

export class JobRunner {
  readonly #store: AssetStore;
  readonly #files: FileStore;
  readonly #providers: ReadonlyMap<string, AssetProvider>;
  readonly #prices: PriceBook;
  readonly #bus: Bus;
  readonly #log: Logger;
  readonly #config: AssetConfig;
  readonly #replica: string;
  readonly #running = new Map<string, AbortController>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #stopped = false;
  /** Called after each job event, so requests waiting on the job in this process answer at once. */
  onEvent: Notify = () => {};
  /** Called once when a job completes or fails (its webhook is delivered from here). */
  onFinished: Notify = () => {};

  constructor(deps: {
    store: AssetStore;
    files: FileStore;
    providers: ReadonlyMap<string, AssetProvider>;
    prices: PriceBook;
    bus: Bus;
    log: Logger;
    config: AssetConfig;
    replica: string;
  }) {
    this.#store = deps.store;
    this.#files = deps.files;
    this.#providers = deps.providers;
    this.#prices = deps.prices;
    this.#bus = deps.bus;
    this.#log = deps.log;
    this.#config = deps.config;
    this.#replica = deps.replica;
  }

  start() {
    this.#timer = setInterval(() => void this.tick(), TICK_MS);
    this.#timer.unref();
    void this.tick();
  }

  /** Claim what this replica has room for and start on it. */
  async tick(): Promise<void> {
    if (this.#ticking || this.#stopped) return;
    this.#ticking = true;
    try {
      const room = this.#config.workers - this.#running.size;
      if (room <= 0) return;
      const jobs = await this.#store.claim(this.#replica, room, this.#config.leaseMs);
      for (const job of jobs) {
        if (this.#running.has(job.id)) continue;
        const controller = new AbortController();
        this.#running.set(job.id, controller);
        // A finished job frees a worker: claim the next one now rather than at the next tick.
        void this.#work(job, controller.signal).finally(() => {
          this.#running.delete(job.id);
          if (!this.#stopped) void this.tick();
        });
      }
    } catch (error) {
      this.#log.warn({ err: String(error) }, "could not claim asset jobs; trying again");
    } finally {
      this.#ticking = false;
    }
  }

  /** Stop claiming; jobs in hand are let go (their lease lapses and another replica, or a restart, takes them). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const controller of this.#running.values()) controller.abort(new Error("shutting down"));
    const deadline = Date.now() + 5_000;
    while (this.#running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Cancel a job: at the provider where it can be, and here. */
  async cancel(job: JobWithAsset): Promise<boolean> {
    await this.#store.update(job.id, { cancelRequested: true });
    this.#running.get(job.id)?.abort(new Error("canceled"));
    const task = taskOf(job);
    const provider = this.#providers.get(job.provider);
    if (task && provider?.cancel) {
      await provider
        .cancel(task, AbortSignal.timeout(10_000))
        .catch((error) =>
          this.#log.warn({ err: String(error), job: job.id }, "the provider did not cancel its task"),
        );
    }
    const done = await this.#store.finish(job, "canceled", "canceled by its owner");
    if (done) await this.#announce(job, "failed", { error: "canceled", canceled: true });
    this.onEvent(job.id);
    return done;
  }

  async #event(job: JobWithAsset, type: string, data: Record<string, unknown>) {
    await this.#store.event(job.id, type, data);
    this.onEvent(job.id);
  }

  /** gaia.asset.generation.<stage> on JetStream (the kit's outbox keeps it while NATS is away). */
  async #announce(job: JobWithAsset, stage: string, data: Record<string, unknown>) {
    await this.#bus
      .publish(`gaia.asset.generation.${stage}`, {
        job_id: job.id,
        asset_id: job.assetId,
        user_id: job.userId,
        type: job.asset.kind,
        provider: job.provider,
        at: new Date().toISOString(),
        ...data,
      })
      .catch((error) => this.#log.warn({ err: String(error) }, "asset lifecycle event not published"));
  }

  async #work(claimed: JobWithAsset, signal: AbortSignal): Promise<void> {
    let job = claimed;
    const keepClaim = setInterval(() => {
      void this.#store.renew(job.id, this.#replica, this.#config.leaseMs).then((held) => {
        if (!held) this.#running.get(job.id)?.abort(new Error("claim lost"));
      });
    }, this.#config.leaseMs / 3);
    try {
      if (job.cancelRequested) return;
      const deadline = job.deadline?.getTime() ?? Date.now() + this.#config.jobTimeoutMs;
      if (job.status === "queued") {
        await this.#store.update(job.id, { status: "running", startedAt: new Date() });
        await this.#event(job, "started", { provider: job.provider });
        await this.#announce(job, "started", {});
      }
      const spec = specOfJob(job);
      const candidates = ((job.plan as { candidates?: Candidate[] }).candidates ?? []).map((c) => c.provider);
      let task = taskOf(job);
      if (!task && (job.providerState as { submitting?: boolean } | null)?.submitting) {
        // A replica died while the provider was being asked: it may have accepted (and charged). Not asked again.
        await this.#fail(
          job,
          `interrupted while ${job.provider} was being asked; not asked again so as not to pay twice — request it anew`,
        );
        return;
      }
      while (!task) {
        if (Date.now() > deadline) {
          await this.#fail(job, `not submitted within ${Math.round(this.#config.jobTimeoutMs / 1000)} s`);
          return;
        }
        const provider = this.#providers.get(job.provider);
        if (!provider) {
          await this.#fail(job, `provider ${job.provider} is not configured here`);
          return;
        }
        await this.#store.saveTask(job.id, provider.id, { submitting: true });
        // The job's deadline cuts the call short after it was sent: the adapter sees only an abort, so the runner
        // says what it was — a request that may be making (and billing) the work.
        const jobDeadline = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
        try {
          task = await provider.submit(spec, AbortSignal.any([signal, jobDeadline]));
          await this.#store.saveTask(job.id, provider.id, task);
          job = { ...job, providerTaskId: task.id };
        } catch (error) {
          if (signal.aborted) throw error;
          const failure = jobDeadline.aborted
            ? new ProviderError(provider.id, "did not answer in time", { retryable: false, charged: true })
            : asProviderError(provider.id, error);
          await this.#store.saveTask(job.id, provider.id, null);
          if (failure.options.charged) {
            await this.#fail(job, `${failure.message} (it may have charged, so no other provider is tried)`);
            return;
          }
          if (failure.options.retryable && job.attempts + 1 < this.#config.maxAttempts) {
            const wait =
              failure.options.retryAfterMs ??
              this.#config.retryBaseMs * 2 ** job.attempts * (0.5 + Math.random());
            await this.#store.update(job.id, {
              attempts: { increment: 1 },
              runAfter: new Date(Date.now() + wait),
              lockedUntil: null,
              error: failure.message,
            });
            await this.#event(job, "retrying", {
              provider: provider.id,
              error: failure.message,
              in_ms: Math.round(wait),
            });
            return;
          }
          const next = candidates[candidates.indexOf(provider.id) + 1];
          if (!next) {
            await this.#fail(job, failure.message);
            return;
          }
          await this.#store.update(job.id, { provider: next, attempts: 0, error: failure.message });
          await this.#event(job, "fallback", { from: provider.id, to: next, error: failure.message });
          job = { ...job, provider: next, attempts: 0 };
        }
      }
      const provider = this.#providers.get(job.provider);
      if (!provider) {
        await this.#fail(
          job,
          `provider ${job.provider} is not configured here, and its task ${task.id} cannot be polled`,
        );
        return;
      }
      let lastProgress = -1;
      for (;;) {
        if (Date.now() > deadline) {
          await provider.cancel?.(task, AbortSignal.timeout(5_000)).catch(() => {});
          await this.#fail(
            job,
            `${provider.id} did not finish within ${Math.round(this.#config.jobTimeoutMs / 1000)} s`,
          );
          return;
        }
        // A provider may move its task on while polling (Meshy starts the refine): saved at once, like a submit.
        const stateBefore = JSON.stringify(task.state);
        const progress: Progress = await provider
          .poll(task, AbortSignal.any([signal, AbortSignal.timeout(this.#config.pollMs * 10 + 10_000)]))
          .catch((error): Progress => {
            if (signal.aborted) throw error;
            // Asking again how a task stands costs nothing: only the adapter's own "it will not do" ends it.
            if (error instanceof ProviderError && !error.options.retryable) throw error;
            return { status: "running" };
          });
        if (JSON.stringify(task.state) !== stateBefore) await this.#store.saveTask(job.id, provider.id, task);
        if (progress.status === "failed") {
          await this.#fail(job, `${provider.id}: ${progress.error}`);
          return;
        }
        if (progress.status === "succeeded") break;
        const percent = Math.round(progress.progress ?? 0);
        if (percent !== lastProgress) {
          lastProgress = percent;
          await this.#store.update(job.id, { progress: percent });
          await this.#event(job, "progress", {
            progress: percent,
            ...(progress.previewReady ? { preview_ready: true } : {}),
          });
          await this.#announce(job, "progress", { progress: percent });
        }
        await sleep(this.#config.pollMs, signal);
      }
      const files = await provider.fetch(
        task,
        AbortSignal.any([signal, AbortSignal.timeout(Math.max(1_000, deadline - Date.now()))]),
      );
      const [main, thumbnail] = files;
      if (!main) {
        await this.#fail(job, `${provider.id} finished without a file`);
        return;
      }
      if (main.bytes.length > this.#config.maxFileBytes) {
        await this.#fail(
          job,
          `${provider.id} answered ${main.bytes.length} bytes, over the ${this.#config.maxFileBytes}-byte limit`,
        );
        return;
      }
      let content: Awaited<ReturnType<FileStore["put"]>>;
      let thumb: Awaited<ReturnType<FileStore["put"]>> | undefined;
      try {
        content = await this.#files.put(job.assetId, "content", main.format, main.bytes);
        if (thumbnail)
          thumb = await this.#files.put(job.assetId, "thumbnail", thumbnail.format, thumbnail.bytes);
      } catch (error) {
        await this.#files.removeAll(job.assetId);
        await this.#fail(job, `the result could not be stored: ${(error as Error).message}`);
        return;
      }
      const cost = provider.estimateUsd(spec, await this.#prices.priceOf());
      const done = await this.#store.complete(job, {
        provider: provider.id,
        costUsd: cost,
        content: { ...content, contentType: main.contentType, format: main.format },
        thumbnailKey: thumb?.key,
        metadata: {
          ...(provider.offline ? { offline_placeholder: true } : {}),
          ...(main.licence ? { licence: main.licence } : {}),
        },
      });
      if (!done) await this.#files.removeAll(job.assetId);
      else {
        await this.#announce(job, "completed", { cost_usd: cost, provider: provider.id });
        this.onFinished(job.id);
      }
      this.onEvent(job.id);
    } catch (error) {
      if (signal.aborted) return;
      const message =
        error instanceof ProviderError ? error.message : `unexpected failure: ${(error as Error).message}`;
      this.#log.error({ err: String(error), job: job.id }, "asset job failed");
      await this.#fail(job, message).catch(() => {});
    } finally {
      clearInterval(keepClaim);
    }
  }

  async #fail(job: JobWithAsset, reason: string) {
    if (await this.#store.finish(job, "failed", reason)) {
      await this.#announce(job, "failed", { error: reason });
      this.onFinished(job.id);
    }
    this.onEvent(job.id);
  }
}

/**
 * An error an adapter did not classify, as the runner meets it (its own deadline, a fault in the adapter): only a
 * connection that never reached the provider is safe to repeat; anything else may have started paid work there.
 */
function asProviderError(provider: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (neverSent(error)) {
    return new ProviderError(provider, `is unreachable: ${(error as Error)?.message ?? error}`, {
      retryable: true,
      charged: false,
    });
  }
  const name = (error as Error)?.name;
  const timedOut = name === "TimeoutError" || name === "AbortError";
  return new ProviderError(
    provider,
    timedOut ? "did not answer in time" : `failed: ${(error as Error)?.message ?? error}`,
    { retryable: false, charged: true },
  );
}

function taskOf(job: { providerTaskId: string | null; providerState: unknown }): Task | undefined {
  const saved = job.providerState as { id?: string; state?: Record<string, unknown> } | null;
  return job.providerTaskId && saved?.id ? { id: saved.id, state: saved.state ?? {} } : undefined;
}

export function specOfJob(job: JobWithAsset): AssetSpec {
  const a = job.asset;
  const meta = (a.metadata ?? {}) as { duration_s?: number; negative_prompt?: string };
  return {
    type: a.kind as AssetSpec["type"],
    prompt: a.prompt,
    ...(a.style ? { style: a.style } : {}),
    ...(meta.negative_prompt ? { negativePrompt: meta.negative_prompt } : {}),
    ...(a.size ? { size: a.size } : {}),
    ...(meta.duration_s !== undefined ? { durationS: meta.duration_s } : {}),
    ...(a.format ? { format: a.format } : {}),
    quality: a.quality as AssetSpec["quality"],
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
