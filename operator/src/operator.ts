import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { createLogger, type Logger } from "@gaia/kit/log";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "./controller/client.ts";
import { Controller } from "./controller/controller.ts";
import { EventRecorder } from "./controller/events.ts";
import { LeaderElector } from "./controller/leader.ts";
import { OperatorMetrics, serveMetrics } from "./controller/metrics.ts";
import type { Backoff } from "./controller/queue.ts";

/**
 * The operator as a value: metrics and health served at once, the controller running only while this instance
 * holds the leader Lease. main.ts runs one; tests run several in one process.
 */

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Watch only this namespace; all namespaces when undefined. */
  namespace?: string;
  /** This instance's name in the Lease (the pod's name in a cluster). */
  identity?: string;
  /** Where the Lease lives. */
  leaseNamespace: string;
  leaseName?: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  /** Port of /metrics and /healthz; 0 picks a free one. */
  metricsPort?: number;
  resyncSeconds?: number;
  workers?: number;
  backoff?: Backoff;
  logger?: Logger;
}

export interface RunningOperator {
  readonly identity: string;
  readonly metricsPort: number;
  readonly metrics: OperatorMetrics;
  isLeader(): boolean;
  /**
   * Stops: the controller finishes reconciles in progress and stops, and the Lease is released so a successor
   * takes over at once. With `abandon`, stops the way a crash would: reconciles in progress are cut off at their
   * next API call and the Lease is left to run out (chaos tests use this).
   */
  stop(options?: { abandon?: boolean }): Promise<void>;
}

export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const log = options.logger ?? createLogger("gaia-operator");
  const identity = options.identity ?? `${hostname()}-${randomBytes(4).toString("hex")}`;
  const metrics = new OperatorMetrics();
  const client = new KubeClient(options.kubeConfig, (verb, kind) => metrics.recordWrite(verb, kind));
  const recorder = new EventRecorder(client, identity, log);

  let controller: Controller | undefined;
  let failed = false;
  const elector = new LeaderElector(
    client,
    {
      namespace: options.leaseNamespace,
      name: options.leaseName ?? "gaia-operator",
      identity,
      leaseDurationSeconds: options.leaseDurationSeconds ?? 15,
      renewDeadlineSeconds: options.renewDeadlineSeconds ?? 10,
      retryPeriodSeconds: options.retryPeriodSeconds ?? 2,
    },
    {
      onStartedLeading: () => {
        metrics.leader.set(1);
        controller = new Controller({
          kubeConfig: options.kubeConfig,
          client,
          recorder,
          metrics,
          log,
          namespace: options.namespace,
          workers: options.workers ?? 4,
          resyncMs: (options.resyncSeconds ?? 300) * 1000,
          backoff: options.backoff ?? { baseMs: 500, maxMs: 300_000 },
        });
        controller.start().catch((error: unknown) => {
          failed = true;
          log.error({ err: error }, "controller failed to start");
        });
      },
      onStoppedLeading: async () => {
        metrics.leader.set(0);
        const stopping = controller;
        controller = undefined;
        await stopping?.stop();
      },
    },
    log,
  );

  const server = await serveMetrics(metrics, options.metricsPort ?? 8080, () => !failed);
  elector.start();
  log.info({ identity, metricsPort: server.port }, "gaia-operator started");

  return {
    identity,
    metricsPort: server.port,
    metrics,
    isLeader: () => elector.isLeader,
    stop: async ({ abandon = false } = {}) => {
      if (abandon) client.halt();
      await elector.stop(!abandon);
      await server.close();
      log.info({ identity }, "gaia-operator stopped");
    },
  };
}
