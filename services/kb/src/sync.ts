import type { Logger } from "@gaia/kit";
import type { KbConfig } from "./config.ts";
import type { GitStore } from "./storage/git-store.ts";
import type { HybridStore } from "./storage/hybrid-store.ts";

/**
 * The KB's background work: open the working copy (again and again, with backoff, until the remote answers),
 * index it in hybrid mode, then pull the remote every KB_SYNC_INTERVAL_S and whenever another replica says it
 * changed something. Never throws: a failure is logged, shown in /ready or git/status, and tried again.
 */

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface SyncLoop {
  /** Pull as soon as possible (coalesced with a pull already waiting). */
  soon(): void;
  stop(): Promise<void>;
}

export function startSync(deps: {
  git: GitStore | undefined;
  hybrid: HybridStore | undefined;
  config: KbConfig;
  log: Logger;
}): SyncLoop {
  const { git, hybrid, config, log } = deps;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let opened = false;
  let pending = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void tick(), ms);
    timer.unref();
  };

  let delay = RETRY_MIN_MS;
  const tick = () => {
    running = running.then(async () => {
      if (stopped || !git) return;
      pending = false;
      try {
        if (!opened) {
          await git.open();
          opened = true;
          log.info({ mode: config.mode, remote: git.remoteUrl ?? null }, "knowledge base ready");
          if (hybrid) {
            const { indexed } = await hybrid.reindex((await git.status()).head ?? "");
            log.info({ indexed }, "hybrid index up to date");
          }
        } else {
          await git.sync();
        }
        delay = RETRY_MIN_MS;
        if (config.remote && config.syncIntervalMs > 0) schedule(config.syncIntervalMs);
      } catch (error) {
        log.warn(
          { err: (error as Error).message, retryInMs: delay },
          opened ? "sync failed" : "knowledge base not ready yet",
        );
        schedule(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    });
    return running;
  };
  void tick();

  return {
    soon() {
      if (!opened || !config.remote || pending) return;
      pending = true;
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
