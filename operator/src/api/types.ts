import type { V1ObjectMeta } from "@kubernetes/client-node";

/**
 * The GaiaPlatform API (crds/gaia.dev_gaiaplatforms.yaml) as the operator sees it: after the API server applied
 * the CRD's defaults. Fields with a schema default are therefore required here; the builders never re-default.
 */

export const GROUP = "gaia.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "GaiaPlatform";
export const PLURAL = "gaiaplatforms";

export const SERVICE_NAMES = ["gateway", "auth", "asset", "chat", "kb", "web"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const DATASTORE_NAMES = ["postgres", "redis", "nats"] as const;
export type DatastoreName = (typeof DATASTORE_NAMES)[number];

export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface EnvVarSpec {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: SecretKeyRef & { optional?: boolean };
    configMapKeyRef?: SecretKeyRef & { optional?: boolean };
  };
}

export interface Resources {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}

export interface AutoscalingSpec {
  enabled: boolean;
  minReplicas: number;
  maxReplicas: number;
  targetCPUUtilization: number;
}

export interface ServiceSpec {
  replicas: number;
  resources: Resources;
  env?: EnvVarSpec[];
  autoscaling?: AutoscalingSpec;
}

export interface ProviderSpec {
  secretRef: SecretKeyRef;
  baseURL?: string;
}

export const LLM_PROVIDERS = ["openai", "anthropic"] as const;
export const ASSET_PROVIDERS = ["stability", "meshy", "mubert", "freesound", "midjourney"] as const;
export type ProviderName = (typeof LLM_PROVIDERS)[number] | (typeof ASSET_PROVIDERS)[number];

export interface ManagedStore {
  version: string;
  storage: string;
  storageClassName?: string;
  replicas: number;
  resources: Resources;
}

export interface ManagedNats extends Omit<ManagedStore, "storage"> {
  jetstream: { storage: string };
}

export interface ExternalStore {
  /** The server's URL; with serviceSecretRef, the owner's URL that only the migration Job is given. */
  secretRef: SecretKeyRef;
  /**
   * A Secret holding one URL per service, under the service's name (`auth`, `chat`, …): each service connects with
   * its own credentials, as it does to a managed datastore.
   */
  serviceSecretRef?: { name: string };
}

export interface Datastore<M> {
  managed?: M;
  external?: ExternalStore;
}

export interface ExposureSpec {
  serviceType: "ClusterIP" | "NodePort" | "LoadBalancer";
  annotations?: Record<string, string>;
  ingress?: { host: string; className?: string; tlsSecretName?: string };
}

export interface GaiaPlatformSpec {
  image: {
    repository: string;
    tag: string;
    pullPolicy: "Always" | "IfNotPresent" | "Never";
    pullSecrets?: string[];
  };
  services: Record<ServiceName, ServiceSpec>;
  providers?: Partial<Record<ProviderName, ProviderSpec>>;
  auth?: { supabase?: { jwtSecretRef?: SecretKeyRef; jwksUrl?: string } };
  kb: {
    git?: { url: string; branch: string; credentialsSecretRef?: { name: string } };
    storage: string;
    storageClassName?: string;
  };
  /** The asset service's generated files: on the claim <platform>-asset-data, until S3 storage exists. */
  assets: { storage: { size: string; storageClassName?: string } };
  postgres: Datastore<ManagedStore>;
  redis: Datastore<ManagedStore>;
  nats: Datastore<ManagedNats>;
  mesh: { linkerd: { enabled: boolean; policy: "strict" | "permissive" } };
  networkPolicy: { enabled: boolean };
  exposure: { gateway: ExposureSpec; web: ExposureSpec; trustedProxies?: string[] };
  retainPolicy: "Retain" | "Delete";
}

export type ConditionType = "Ready" | "Progressing" | "Degraded";

export interface Condition {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  observedGeneration: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface ComponentStatus {
  ready: number;
  desired: number;
}

export interface GaiaPlatformStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  components?: Record<string, ComponentStatus>;
  gatewayURL?: string;
  version?: string;
  migratedImage?: string;
}

export interface GaiaPlatform {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  /** Name, namespace and uid are always set on an object read from the API. */
  metadata: V1ObjectMeta & { name: string; namespace: string; uid: string };
  spec: GaiaPlatformSpec;
  status?: GaiaPlatformStatus;
}

/** The finalizer that holds a platform until its volumes are handled per retainPolicy. */
export const FINALIZER = "gaia.dev/finalizer";
