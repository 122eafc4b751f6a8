import type { KubernetesObject } from "@kubernetes/client-node";
import { GROUP, KIND, PLURAL, VERSION } from "../api/types.ts";

/** The API resources the operator reads or writes, with what a REST path needs. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  /** A Linkerd type: only present where Linkerd's CRDs are installed. */
  linkerd?: true;
}

const type = (apiVersion: string, kind: string, plural: string, linkerd?: true): ResourceType => ({
  apiVersion,
  kind,
  plural,
  ...(linkerd ? { linkerd } : {}),
});

export const PLATFORM = type(`${GROUP}/${VERSION}`, KIND, PLURAL);
export const LEASE = type("coordination.k8s.io/v1", "Lease", "leases");
export const EVENT = type("events.k8s.io/v1", "Event", "events");
export const PVC = type("v1", "PersistentVolumeClaim", "persistentvolumeclaims");
export const SECRET = type("v1", "Secret", "secrets");
export const DEPLOYMENT = type("apps/v1", "Deployment", "deployments");
export const STATEFULSET = type("apps/v1", "StatefulSet", "statefulsets");
export const JOB = type("batch/v1", "Job", "jobs");

/** Kinds of the platform's children; each is watched, so a change to a child brings its platform back. */
export const CHILD_TYPES: readonly ResourceType[] = [
  type("v1", "ConfigMap", "configmaps"),
  SECRET,
  type("v1", "Service", "services"),
  type("v1", "ServiceAccount", "serviceaccounts"),
  PVC,
  DEPLOYMENT,
  STATEFULSET,
  JOB,
  type("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
  type("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
  type("networking.k8s.io/v1", "Ingress", "ingresses"),
  type("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
  type("policy.linkerd.io/v1beta3", "Server", "servers", true),
  type("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", "meshtlsauthentications", true),
  type("policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "authorizationpolicies", true),
];

export function typeOf(object: KubernetesObject): ResourceType {
  const found = CHILD_TYPES.find((t) => t.apiVersion === object.apiVersion && t.kind === object.kind);
  if (!found) throw new Error(`no resource type for ${object.apiVersion} ${object.kind}`);
  return found;
}

/** REST path of a collection (no name) or of one object, optionally of its subresource. */
export function resourcePath(
  t: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const root = t.apiVersion.includes("/") ? `/apis/${t.apiVersion}` : `/api/${t.apiVersion}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const item = name ? `/${encodeURIComponent(name)}` : "";
  return `${root}${scope}/${t.plural}${item}${subresource && name ? `/${subresource}` : ""}`;
}
