import type { PlatformEnv } from "./config.ts";

/** The six services and their ports (DESIGN §1). The gateway and web are entry points, not backends. */
export const SERVICE_PORTS = {
  gateway: 8666,
  auth: 8001,
  asset: 8002,
  chat: 8003,
  kb: 8004,
  web: 8080,
} as const;

export type ServiceName = keyof typeof SERVICE_PORTS;
/** Where each process serves Prometheus metrics (GAIA_METRICS_PORT): apart from every public port. */
export const METRICS_PORT = 9464;
export const SERVICE_NAMES = Object.keys(SERVICE_PORTS) as ServiceName[];
export const BACKENDS = ["auth", "asset", "chat", "kb"] as const satisfies readonly ServiceName[];
export type BackendName = (typeof BACKENDS)[number];

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(SERVICE_PORTS, name);
}

const upper = (name: ServiceName) => name.toUpperCase() as Uppercase<ServiceName>;
const urlKey = (name: ServiceName) => `GAIA_${upper(name)}_URL` as const;
const portKey = (name: ServiceName) => `GAIA_${upper(name)}_PORT` as const;

/** The port a service listens on: GAIA_<NAME>_PORT, else its standard port. */
export function servicePort(env: PlatformEnv, name: ServiceName): number {
  return env[portKey(name)];
}

/**
 * Where to reach a service: GAIA_<NAME>_URL when set; in a cluster http://gaia-<name>:<port>;
 * locally http://localhost:<port>.
 */
export function serviceUrl(env: PlatformEnv, name: ServiceName): string {
  const explicit = env[urlKey(name)];
  if (explicit) return explicit.replace(/\/+$/, "");
  return env.GAIA_IN_CLUSTER
    ? `http://gaia-${name}:${SERVICE_PORTS[name]}`
    : `http://127.0.0.1:${servicePort(env, name)}`;
}
