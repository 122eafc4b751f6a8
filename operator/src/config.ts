import { ConfigError } from "@gaia/kit/errors";

/** The operator's settings from its environment (set by the Helm chart's Deployment). */

export interface OperatorConfig {
  /** Only this namespace is watched; unset: all namespaces. */
  watchNamespace?: string;
  metricsPort: number;
  leaseNamespace: string;
  /** This instance's identity in the Lease: the pod name. */
  identity?: string;
  resyncSeconds: number;
  /** Platforms reconciled at once. */
  workers: number;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: expected an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

/**
 * WATCH_NAMESPACE (optional), METRICS_PORT (8080), LEADER_ELECTION_NAMESPACE (else POD_NAMESPACE, else
 * WATCH_NAMESPACE, else "default"), POD_NAME (the Lease identity), RESYNC_SECONDS (300), WORKERS (4).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const watchNamespace = env.WATCH_NAMESPACE || undefined;
  return {
    watchNamespace,
    metricsPort: integer(env, "METRICS_PORT", 8080, 0, 65535),
    leaseNamespace: env.LEADER_ELECTION_NAMESPACE || env.POD_NAMESPACE || watchNamespace || "default",
    identity: env.POD_NAME || undefined,
    resyncSeconds: integer(env, "RESYNC_SECONDS", 300, 10, 86_400),
    workers: integer(env, "WORKERS", 4, 1, 64),
  };
}
