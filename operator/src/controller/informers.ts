import type { Logger } from "@gaia/kit/log";
import { type KubeConfig, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import { type KubeClient, METADATA_WATCH } from "./client.ts";
import { type ResourceType, resourcePath } from "./resources.ts";

/**
 * An informer: a list-then-watch cache of one resource type (client-node's ListWatch), which relists on 410 Gone
 * by itself and which this wrapper restarts, with back-off, after any other error. Objects in the cache are the
 * API's JSON as the REST client returns it, less what the operator never reads (`slim`).
 */

export type InformerEvent = "add" | "update" | "delete";

/** kubectl's copy of the whole object as last applied by a user, on objects someone `kubectl apply`-ed. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Drops what no reader of the caches uses: server-side apply's field ownership (`managedFields`, often the largest
 * part of a child) and kubectl's last-applied copy. The object is freshly parsed and the cache's own, so it is
 * trimmed in place.
 */
export function slim<T extends KubernetesObject>(object: T): T {
  const metadata = object.metadata;
  if (metadata) {
    delete metadata.managedFields;
    if (metadata.annotations && LAST_APPLIED in metadata.annotations)
      delete metadata.annotations[LAST_APPLIED];
  }
  return object;
}

/** A watch whose objects are slimmed before ListWatch caches them; `accept` asks for another representation. */
class SlimWatch extends Watch {
  constructor(kubeConfig: KubeConfig, accept?: string) {
    super(accept ? withAccept(kubeConfig, accept) : kubeConfig);
  }

  override watch(...[path, query, callback, done]: Parameters<Watch["watch"]>): Promise<AbortController> {
    return super.watch(path, query, (phase, object, raw) => callback(phase, slim(object), raw), done);
  }
}

/** The kubeconfig, adding an Accept header where Watch takes its headers from: the authentication step. */
function withAccept(kubeConfig: KubeConfig, accept: string): KubeConfig {
  const config = Object.create(kubeConfig) as KubeConfig;
  config.applySecurityAuthentication = async (context) => {
    await kubeConfig.applySecurityAuthentication(context);
    context.setHeaderParam("Accept", accept);
  };
  return config;
}

const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;

export class Informer<T extends KubernetesObject = KubernetesObject> {
  private readonly listWatch: ListWatch<T>;
  private listed = false;
  private stopped = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    kubeConfig: KubeConfig,
    client: KubeClient,
    readonly type: ResourceType,
    namespace: string | undefined,
    labelSelector: string | undefined,
    onEvent: (event: InformerEvent, object: T) => void,
    private readonly log: Logger,
    /** Cache only the objects' metadata (PartialObjectMetadata): for kinds watched for changes, not read. */
    metadataOnly = false,
  ) {
    const list = async () => {
      const result = await client.list<T>(type, namespace, labelSelector, metadataOnly);
      // An empty metadata-only list comes with `items: null`.
      result.items = (result.items ?? []).map(slim);
      this.listed = true;
      this.failures = 0;
      return result;
    };
    this.listWatch = new ListWatch<T>(
      resourcePath(type, namespace),
      new SlimWatch(kubeConfig, metadataOnly ? METADATA_WATCH : undefined),
      list,
      false,
      labelSelector,
    );
    for (const event of ["add", "update", "delete"] as const)
      this.listWatch.on(event, (object) => onEvent(event, object));
    this.listWatch.on("error", (error) => this.restart(error));
  }

  /** Resolves once the first list succeeded, so the cache is complete before anyone reads it. */
  async start(): Promise<void> {
    this.stopped = false;
    while (!this.stopped) {
      await this.listWatch.start();
      if (this.listed) return;
      await new Promise((resolve) => setTimeout(resolve, this.nextDelay()));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.listWatch.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.listWatch.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.listWatch.list(namespace);
  }

  private nextDelay(): number {
    this.failures += 1;
    return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (this.failures - 1));
  }

  /** The watch ended in an error (410 Gone is relisted by ListWatch itself): start over after a back-off. */
  private restart(error: unknown): void {
    if (this.stopped) return;
    if (!this.listed) {
      // start() retries the first list itself; say why it has to.
      this.log.warn({ err: error, kind: this.type.kind }, "cannot list; retrying");
      return;
    }
    const delay = this.nextDelay();
    this.log.warn({ err: error, kind: this.type.kind, delayMs: delay }, "watch failed; restarting");
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (!this.stopped) void this.listWatch.start();
    }, delay);
    this.restartTimer.unref();
  }
}
