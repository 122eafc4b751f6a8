import type { KubernetesObject } from "@kubernetes/client-node";

/** Any object the operator builds or observes: typed metadata, the rest as the API carries it. */
export interface Manifest extends KubernetesObject {
  spec?: unknown;
  data?: unknown;
  status?: unknown;
}

/** Identity of an object among the children of one namespace: apiVersion group, kind and name. */
export function manifestKey(object: KubernetesObject): string {
  const apiVersion = object.apiVersion ?? "v1";
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  return `${group}/${object.kind}/${object.metadata?.name}`;
}
