import type { KubernetesObject } from "@kubernetes/client-node";
import type { Informer } from "./informers.ts";
import type { ResourceType } from "./resources.ts";

/** The informers' caches of the children, looked up by resource type. Reads never touch the API server. */
export class ChildCaches {
  private readonly informers = new Map<string, Informer>();

  private static key(type: ResourceType): string {
    return `${type.apiVersion}/${type.kind}`;
  }

  add(informer: Informer): void {
    this.informers.set(ChildCaches.key(informer.type), informer);
  }

  has(type: ResourceType): boolean {
    return this.informers.has(ChildCaches.key(type));
  }

  get<T extends KubernetesObject>(type: ResourceType, namespace: string, name: string): T | undefined {
    return this.informers.get(ChildCaches.key(type))?.get(name, namespace) as T | undefined;
  }

  list<T extends KubernetesObject>(type: ResourceType, namespace: string): readonly T[] {
    return (this.informers.get(ChildCaches.key(type))?.list(namespace) ?? []) as readonly T[];
  }

  all(): Informer[] {
    return [...this.informers.values()];
  }
}
