import { createServer } from "node:http";
import type { Registry } from "prom-client";
import { listenOn, reachableUrl } from "./serve.ts";

/**
 * Prometheus metrics are operational data (routes, error rates, what the cache sees), not part of the API: they
 * are served on a port of their own (GAIA_METRICS_PORT), never on a service's public port, so neither the
 * gateway's clients nor an Ingress can reach them. One listener per process serves every service in it.
 */

/** The metric families of several registries in one exposition: each family's HELP and TYPE once, then all samples. */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const text of texts) {
    let current: { head: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (!line) continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const name = meta[2]!;
        current = families.get(name) ?? { head: [], samples: [] };
        families.set(name, current);
        if (!current.head.some((h) => h.startsWith(`# ${meta[1]} `))) current.head.push(line);
        continue;
      }
      current?.samples.push(line);
    }
  }
  let out = "";
  for (const { head, samples } of families.values()) out += `${[...head, ...samples].join("\n")}\n`;
  return out;
}

export class MetricsHub {
  readonly #registries = new Set<Registry>();
  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";

  /** Serve this registry's metrics too, until the returned function is called. */
  add(registry: Registry): () => void {
    this.#registries.add(registry);
    return () => this.#registries.delete(registry);
  }

  async text(): Promise<string> {
    return mergeExpositions(await Promise.all([...this.#registries].map((r) => r.metrics())));
  }
}

export interface MetricsListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** GET /metrics on its own port; every other request is a JSON 404. */
export async function serveMetrics(hub: MetricsHub, port: number, host: string): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if ((req.method === "GET" || req.method === "HEAD") && path === "/metrics") {
      hub.text().then(
        (text) => {
          res
            .writeHead(200, { "content-type": hub.contentType })
            .end(req.method === "HEAD" ? undefined : text);
        },
        () => res.writeHead(500, { "content-type": "application/json" }).end('{"detail":"metrics failed"}'),
      );
      return;
    }
    res
      .writeHead(404, { "content-type": "application/json" })
      .end('{"detail":"Only GET /metrics is served here"}');
  });
  const actual = await listenOn(server, port, host);
  return {
    port: actual,
    url: `${reachableUrl(host, actual)}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
