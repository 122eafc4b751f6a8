import type { BackendName } from "@gaia/kit";
import type { BackendHealth } from "./providers/upstream.ts";

/**
 * The gateway's /health: its own status plus each backend's, asked in parallel with a short deadline. The
 * gateway answers "degraded" — never fails — when a backend or its cache or bus is away, since it still serves
 * everything else.
 */

export type PlatformHealth = {
  status: "healthy" | "degraded";
  services: Record<BackendName, BackendHealth>;
  cache: { kind: string; status: "healthy" | "unavailable" };
  bus: { kind: string; status: "healthy" | "unavailable" };
};

export function summarize(
  services: Record<BackendName, BackendHealth>,
  cache: { kind: string; healthy: boolean },
  bus: { kind: string; healthy: boolean },
): PlatformHealth {
  const allHealthy =
    Object.values(services).every((s) => s.status === "healthy") && cache.healthy && bus.healthy;
  return {
    status: allHealthy ? "healthy" : "degraded",
    services,
    cache: { kind: cache.kind, status: cache.healthy ? "healthy" : "unavailable" },
    bus: { kind: bus.kind, status: bus.healthy ? "healthy" : "unavailable" },
  };
}

export async function checkBackends(
  backends: readonly BackendName[],
  probe: (backend: BackendName) => Promise<BackendHealth>,
): Promise<Record<BackendName, BackendHealth>> {
  const results = await Promise.all(backends.map(probe));
  return Object.fromEntries(backends.map((name, i) => [name, results[i]!])) as Record<
    BackendName,
    BackendHealth
  >;
}
