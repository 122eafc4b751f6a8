import type { Logger } from "@gaia/kit/log";
import { HttpMethod, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { API_VERSION, type GaiaPlatform, KIND } from "../api/types.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../specs/labels.ts";
import { newInternalToken, newJwtMaterial, newPassword } from "../specs/material.ts";
import { referencedSecretNames } from "../specs/secrets.ts";
import { ChildCaches } from "./caches.ts";
import { isNamespaceTerminating, type KubeClient } from "./client.ts";
import type { EventRecorder } from "./events.ts";
import { Informer } from "./informers.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { ownerKey } from "./ownership.ts";
import { type Backoff, WorkQueue } from "./queue.ts";
import { Reconciler } from "./reconciler.ts";
import { CHILD_TYPES, PLATFORM, type ResourceType, SECRET } from "./resources.ts";

/**
 * The running controller of the leader: informers on GaiaPlatforms and on every child kind, a work queue fed by
 * their events and by a periodic resync, and workers that reconcile one platform at a time each.
 */

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  client: KubeClient;
  recorder: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  /** Only this namespace; all namespaces when undefined. */
  namespace?: string;
  workers: number;
  resyncMs: number;
  backoff: Backoff;
}

/** Linkerd's CRDs are looked for again at most this often while they are missing. */
const LINKERD_RECHECK_MS = 60_000;

export class Controller {
  private readonly queue: WorkQueue;
  private readonly platforms: Informer<GaiaPlatform>;
  /** Every Secret's metadata: a change to one the user references brings its platforms back. */
  private readonly userSecrets: Informer;
  private readonly children = new ChildCaches();
  /** Every informer created, synced or not, so that stop() reaches those still starting. */
  private readonly informers: Informer[] = [];
  private stopped = false;
  private readonly reconciler: Reconciler;
  private workers: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private linkerdCheckedAt = Number.NEGATIVE_INFINITY;
  /** The look in progress, shared by workers asking at the same time. */
  private linkerdCheck: Promise<boolean> | undefined;

  constructor(private readonly options: ControllerOptions) {
    this.queue = new WorkQueue(options.backoff);
    this.platforms = new Informer<GaiaPlatform>(
      options.kubeConfig,
      options.client,
      PLATFORM,
      options.namespace,
      undefined,
      (event, platform) => {
        if (event !== "delete") this.enqueue(`${platform.metadata.namespace}/${platform.metadata.name}`);
      },
      options.log,
    );
    // By metadata alone: the reconcile reads the data itself, and other Secrets' data has no place in this process.
    this.userSecrets = new Informer(
      options.kubeConfig,
      options.client,
      SECRET,
      options.namespace,
      undefined,
      (_event, secret) => this.enqueueReferencing(secret),
      options.log,
      true,
    );
    this.reconciler = new Reconciler({
      client: options.client,
      platform: (namespace, name) => this.platforms.get(name, namespace),
      children: this.children,
      linkerdAvailable: () => this.linkerdAvailable(),
      recorder: options.recorder,
      now: () => new Date(),
      material: { jwt: newJwtMaterial, password: newPassword, token: newInternalToken },
    });
  }

  /** Starts the watches, waits for their caches, then the workers. stop() may come at any point of it. */
  async start(): Promise<void> {
    this.informers.push(this.platforms as Informer, this.userSecrets);
    const core = CHILD_TYPES.filter((type) => !type.linkerd);
    await Promise.all([
      this.platforms.start(),
      this.userSecrets.start(),
      ...core.map((type) => this.watchChildren(type)),
    ]);
    if (this.stopped) return;
    await this.linkerdAvailable();
    if (this.stopped) return;
    const enqueueAll = () => {
      for (const platform of this.platforms.list())
        this.enqueue(`${platform.metadata.namespace}/${platform.metadata.name}`);
    };
    enqueueAll();
    this.resyncTimer = setInterval(enqueueAll, this.options.resyncMs);
    this.resyncTimer.unref();
    this.workers = Array.from({ length: this.options.workers }, () => this.work());
    this.options.log.info({ namespace: this.options.namespace ?? "(all)" }, "controller started");
  }

  /** Stops taking work, lets reconciles in progress finish, stops the watches. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.queue.shutDown();
    await Promise.all(this.workers);
    await Promise.all(this.informers.map((informer) => informer.stop()));
    this.options.log.info("controller stopped");
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.options.metrics.queueDepth.set(this.queue.depth);
  }

  /** A Secret changed: the platforms of its namespace that reference it reconcile (their pods roll if it matters). */
  private enqueueReferencing(secret: KubernetesObject): void {
    const { namespace, name } = secret.metadata ?? {};
    if (!namespace || !name) return;
    for (const platform of this.platforms.list(namespace)) {
      if (referencedSecretNames(platform).includes(name))
        this.enqueue(`${namespace}/${platform.metadata.name}`);
    }
  }

  private async watchChildren(type: ResourceType): Promise<void> {
    const informer = new Informer(
      this.options.kubeConfig,
      this.options.client,
      type,
      this.options.namespace,
      `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
      (_event, child) => {
        // A child changed or vanished: its platform restores it.
        const key = ownerKey(child, KIND, API_VERSION);
        if (key) this.enqueue(key);
      },
      this.options.log,
    );
    this.informers.push(informer);
    await informer.start();
    if (!this.stopped) this.children.add(informer);
  }

  /** Whether Linkerd's policy CRDs are installed; the first time they are seen, their informers start. */
  private linkerdAvailable(): Promise<boolean> {
    const linkerd = CHILD_TYPES.filter((type) => type.linkerd);
    if (linkerd.every((type) => this.children.has(type))) return Promise.resolve(true);
    if (this.linkerdCheck) return this.linkerdCheck;
    if (Date.now() - this.linkerdCheckedAt < LINKERD_RECHECK_MS) return Promise.resolve(false);
    this.linkerdCheckedAt = Date.now();
    this.linkerdCheck = this.lookForLinkerd(linkerd).finally(() => {
      this.linkerdCheck = undefined;
    });
    return this.linkerdCheck;
  }

  private async lookForLinkerd(linkerd: ResourceType[]): Promise<boolean> {
    const versions = [...new Set(linkerd.map((type) => type.apiVersion))];
    try {
      const lists = await Promise.all(
        versions.map((v) =>
          this.options.client.request<{ resources: { kind: string }[] }>(HttpMethod.GET, `/apis/${v}`),
        ),
      );
      const kinds = new Set(lists.flatMap((list) => list.resources.map((r) => r.kind)));
      if (!linkerd.every((type) => kinds.has(type.kind))) return false;
    } catch {
      return false;
    }
    await Promise.all(
      linkerd.filter((type) => !this.children.has(type)).map((type) => this.watchChildren(type)),
    );
    return true;
  }

  private async work(): Promise<void> {
    const { metrics, log } = this.options;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      metrics.queueDepth.set(this.queue.depth);
      const stopTimer = metrics.reconcileDuration.startTimer();
      try {
        const outcome = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        metrics.reconciles.inc({ result: "success" });
        if (outcome.requeueAfterMs !== undefined) this.queue.addAfter(key, outcome.requeueAfterMs);
      } catch (error) {
        if (isNamespaceTerminating(error)) {
          // The namespace is going, and the platform with it: its deletion brings it back to be finalized.
          this.queue.forget(key);
          log.debug({ platform: key }, "namespace is being deleted; not reconciling");
          continue;
        }
        metrics.reconciles.inc({ result: "error" });
        metrics.reconcileErrors.inc();
        const delayMs = this.queue.addRateLimited(key);
        log.warn({ err: error, platform: key, retryInMs: delayMs }, "reconcile failed");
      } finally {
        stopTimer();
        this.queue.done(key);
        metrics.queueDepth.set(this.queue.depth);
      }
    }
  }
}
