import type { ProviderKind } from "./catalogue.ts";

interface Counters {
  requests: number;
  successes: number;
  failures: number;
  retries: number;
  fallbacks: number;
  /** Recent times to first token (streams) or to the whole answer (non-streamed), in milliseconds. */
  latencies: number[];
  lastError: { message: string; at: string } | null;
  lastSuccessAt: string | null;
}

const WINDOW = 256;

function percentiles(latencies: readonly number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const pick = (q: number) =>
    sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1) : null;
  return { p50: pick(0.5), p95: pick(0.95), samples: sorted.length };
}

/** Per-provider counters of this process, for /api/v0.2/providers/stats and health. */
export class ProviderStats {
  readonly #byProvider = new Map<ProviderKind, Counters>();
  #startedAt = new Date().toISOString();

  get startedAt(): string {
    return this.#startedAt;
  }

  /** Every counter back to zero, from now. */
  reset() {
    this.#byProvider.clear();
    this.#startedAt = new Date().toISOString();
  }

  /** All providers' counters together; latency percentiles over every provider's recent answers. */
  total() {
    let requests = 0;
    let successes = 0;
    let failures = 0;
    let retries = 0;
    let fallbacks = 0;
    const latencies: number[] = [];
    for (const c of this.#byProvider.values()) {
      requests += c.requests;
      successes += c.successes;
      failures += c.failures;
      retries += c.retries;
      fallbacks += c.fallbacks;
      latencies.push(...c.latencies);
    }
    return { requests, successes, failures, retries, fallbacks, latency_ms: percentiles(latencies) };
  }

  #of(provider: ProviderKind): Counters {
    let counters = this.#byProvider.get(provider);
    if (!counters) {
      counters = {
        requests: 0,
        successes: 0,
        failures: 0,
        retries: 0,
        fallbacks: 0,
        latencies: [],
        lastError: null,
        lastSuccessAt: null,
      };
      this.#byProvider.set(provider, counters);
    }
    return counters;
  }

  attempt(provider: ProviderKind, retry: boolean) {
    const c = this.#of(provider);
    c.requests++;
    if (retry) c.retries++;
  }

  success(provider: ProviderKind, latencyMs: number) {
    const c = this.#of(provider);
    c.successes++;
    c.lastSuccessAt = new Date().toISOString();
    c.latencies.push(latencyMs);
    if (c.latencies.length > WINDOW) c.latencies.shift();
  }

  failure(provider: ProviderKind, message: string, fellBack: boolean) {
    const c = this.#of(provider);
    c.failures++;
    if (fellBack) c.fallbacks++;
    c.lastError = { message, at: new Date().toISOString() };
  }

  snapshot(provider: ProviderKind) {
    const c = this.#of(provider);
    return {
      requests: c.requests,
      successes: c.successes,
      failures: c.failures,
      retries: c.retries,
      fallbacks: c.fallbacks,
      latency_ms: percentiles(c.latencies),
      last_error: c.lastError,
      last_success_at: c.lastSuccessAt,
    };
  }
}
