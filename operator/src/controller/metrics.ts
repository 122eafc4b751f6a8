import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { WriteVerb } from "./client.ts";

/** The operator's Prometheus metrics, in a registry of its own (several operators can share a process in tests). */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: "gaia_operator_reconcile_total",
    help: "Reconciles of GaiaPlatforms by result (success, error).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "gaia_operator_reconcile_errors_total",
    help: "Reconciles that failed and were queued again with back-off.",
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "gaia_operator_reconcile_duration_seconds",
    help: "Duration of one reconcile of a GaiaPlatform.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "gaia_operator_queue_depth",
    help: "GaiaPlatform keys waiting in the work queue.",
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: "gaia_operator_api_writes_total",
    help: "Write requests to the Kubernetes API by verb and kind.",
    labelNames: ["verb", "kind"] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "gaia_operator_leader",
    help: "1 while this instance holds the leader lease.",
    registers: [this.registry],
  });

  recordWrite(verb: WriteVerb, kind: string): void {
    this.writes.inc({ verb, kind });
  }

  /** Writes so far, by kind; what the zero-writes-on-resync check reads. */
  async writeCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const value of (await this.writes.get()).values) {
      const kind = String(value.labels.kind);
      counts[kind] = (counts[kind] ?? 0) + value.value;
    }
    return counts;
  }
}

/** `/metrics` for Prometheus and `/healthz` for the kubelet, on one port (0: any free port). */
export async function serveMetrics(
  metrics: OperatorMetrics,
  port: number,
  healthy: () => boolean,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.url === "/metrics") {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
    } else if (request.url === "/healthz") {
      const ok = healthy();
      response.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok\n" : "unhealthy\n");
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
