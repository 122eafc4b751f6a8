import {
  HttpMethod,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  RequestContext,
} from "@kubernetes/client-node";
import { type Dispatcher, fetch } from "undici";
import { FIELD_MANAGER } from "../specs/labels.ts";
import { type ResourceType, resourcePath } from "./resources.ts";

/**
 * A small REST client over the kubeconfig's credentials. It speaks plain JSON (no typed (de)serialization, so the
 * objects the operator compares are exactly what the API server stored), reuses one connection pool, and reports
 * every write, which is what the metrics (and the zero-writes-on-resync guarantee) count.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The reasons of the Status's `details.causes`. */
    readonly causes: readonly string[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const isNotFound = (error: unknown) => error instanceof ApiError && error.status === 404;
export const isConflict = (error: unknown) => error instanceof ApiError && error.status === 409;
/** A create refused because the namespace is being deleted: whatever the operator wanted there goes with it. */
export const isNamespaceTerminating = (error: unknown) =>
  error instanceof ApiError && error.status === 403 && error.causes.includes("NamespaceTerminating");

/** Asks the API server for objects' metadata only (its PartialObjectMetadata representation), as a list or a watch. */
export const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
export const METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** The path of an object the operator writes: its own, from its metadata. */
const objectPath = (type: ResourceType, object: KubernetesObject) =>
  resourcePath(type, object.metadata?.namespace, object.metadata?.name);

export type WriteVerb = "create" | "apply" | "patch" | "delete" | "update";

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** The representation asked for; JSON of the whole object by default. */
  accept?: string;
  /** Reported to onWrite when the request is sent. */
  write?: { verb: WriteVerb; kind: string };
}

export class KubeClient {
  private dispatcher: Dispatcher | undefined;
  private readonly server: string;
  private halted = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly onWrite: (verb: WriteVerb, kind: string) => void = () => {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    this.server = cluster.server.replace(/\/+$/, "");
  }

  /** Refuses every request from now on, as if the process had died: work in flight stops at its next call. */
  halt(): void {
    this.halted = true;
  }

  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    if (this.halted) throw new Error(`${method} ${path}: the client was halted`);
    if (options.write) this.onWrite(options.write.verb, options.write.kind);
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(options.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, value);
    const context = new RequestContext(url.toString(), method);
    await this.kubeConfig.applySecurityAuthentication(context);
    // The kubeconfig makes a fresh TLS agent per request; keep the first and its pooled connections.
    this.dispatcher ??= context.getDispatcher();
    const headers: Record<string, string> = {
      ...context.getHeaders(),
      accept: options.accept ?? "application/json",
    };
    if (options.body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      dispatcher: this.dispatcher,
    });
    const text = await response.text();
    if (!response.ok) {
      let status: { reason?: string; message?: string; details?: { causes?: { reason?: string }[] } } = {};
      try {
        status = JSON.parse(text);
      } catch {
        status = { message: text };
      }
      throw new ApiError(
        response.status,
        status.reason ?? "",
        status.message ?? `${method} ${path}: ${response.status}`,
        (status.details?.causes ?? []).flatMap((cause) => (cause.reason ? [cause.reason] : [])),
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async get<T extends KubernetesObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.request<T>(HttpMethod.GET, resourcePath(type, namespace, name));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** With `metadataOnly`, the items are PartialObjectMetadata: apiVersion, kind and metadata, no data or spec. */
  list<T extends KubernetesObject>(
    type: ResourceType,
    namespace?: string,
    labelSelector?: string,
    metadataOnly = false,
  ): Promise<KubernetesListObject<T>> {
    return this.request(HttpMethod.GET, resourcePath(type, namespace), {
      query: { labelSelector },
      accept: metadataOnly ? METADATA_LIST : undefined,
    });
  }

  create<T extends KubernetesObject>(type: ResourceType, object: T): Promise<T> {
    return this.request(HttpMethod.POST, resourcePath(type, object.metadata?.namespace), {
      body: object,
      query: { fieldManager: FIELD_MANAGER },
      write: { verb: "create", kind: type.kind },
    });
  }

  /** Server-side apply with the operator's field manager, taking over fields others set (force). */
  apply<T extends KubernetesObject>(type: ResourceType, object: T): Promise<T> {
    return this.request(HttpMethod.PATCH, objectPath(type, object), {
      body: object,
      // JSON is YAML, so the apply patch can travel as JSON.
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: FIELD_MANAGER, force: "true" },
      write: { verb: "apply", kind: type.kind },
    });
  }

  patch<T extends KubernetesObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: unknown,
    contentType: "application/merge-patch+json" | "application/json-patch+json",
    subresource?: string,
  ): Promise<T> {
    return this.request(HttpMethod.PATCH, resourcePath(type, namespace, name, subresource), {
      body: patch,
      contentType,
      query: { fieldManager: FIELD_MANAGER },
      write: { verb: "patch", kind: type.kind },
    });
  }

  /** Replace with optimistic concurrency: the object's resourceVersion must still be current (else 409). */
  update<T extends KubernetesObject>(type: ResourceType, object: T): Promise<T> {
    return this.request(HttpMethod.PUT, objectPath(type, object), {
      body: object,
      query: { fieldManager: FIELD_MANAGER },
      write: { verb: "update", kind: type.kind },
    });
  }

  /** Deletes in the background (dependents too); an object already gone counts as deleted. */
  async delete(type: ResourceType, namespace: string, name: string): Promise<void> {
    try {
      await this.request(HttpMethod.DELETE, resourcePath(type, namespace, name), {
        body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" },
        write: { verb: "delete", kind: type.kind },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
