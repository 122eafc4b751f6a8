/**
 * API-key validation, cached against uncached, on real PostgreSQL and Redis started on loopback ports.
 *
 *   node --import tsx bench/auth/validate.bench.ts [iterations]
 *
 * "uncached" is a validation whose credential is not in the cache: one indexed lookup of the key and its owner,
 * then the cache write for the next request. "cached" finds the identity in Redis. A third line shows the
 * in-process cache that `gaia dev` uses. Prints mean, p50 and p99 in microseconds and the ratio.
 */

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { issueKeyForEmail } from "../../services/auth/src/bootstrap.ts";
import { createAuthCore } from "../../services/auth/src/core.ts";
import { loadAuthSettings } from "../../services/auth/src/settings.ts";
import { RedisCache } from "../../services/kit/src/cache.ts";
import { openDatabase } from "../../services/kit/src/db/client.ts";
import {
  AUTHN_PREFIX,
  type Cache,
  createBus,
  createLogger,
  credentialHash,
  MemoryCache,
} from "../../services/kit/src/index.ts";
import { sharedPostgres, startRedis, stopAllServers } from "../../test/support/servers.ts";

const iterations = Number(process.argv[2] ?? 2000);
const log = createLogger("bench", "silent");

interface Stats {
  mean: number;
  p50: number;
  p99: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { mean: samples.reduce((a, b) => a + b, 0) / samples.length, p50: at(0.5), p99: at(0.99) };
}

async function measure(n: number, before: () => Promise<void>, run: () => Promise<unknown>): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    await before();
    const started = performance.now();
    await run();
    samples.push((performance.now() - started) * 1000);
  }
  return stats(samples);
}

const show = (label: string, s: Stats) =>
  console.log(
    `${label.padEnd(28)} mean ${s.mean.toFixed(0).padStart(6)} µs   p50 ${s.p50.toFixed(0).padStart(6)} µs   p99 ${s.p99.toFixed(0).padStart(6)} µs`,
  );

async function benchWith(cache: Cache, label: string, databaseUrl: string) {
  const database = await openDatabase({ kind: "postgres", url: databaseUrl });
  const bus = createBus(undefined, log);
  const dataDir = await mkdtemp(join(tmpdir(), "gaia-bench-"));
  const core = await createAuthCore(
    { db: database.prisma, cache, bus, log },
    loadAuthSettings({ GAIA_DATA_DIR: dataDir }),
  );
  try {
    const { key } = await issueKeyForEmail(
      database.prisma,
      `bench-${Date.now()}@example.com`,
      "user",
      "bench",
    );
    const entry = AUTHN_PREFIX + credentialHash(key);
    const validate = () => core.authenticator.authenticate({ apiKey: key });
    const warmup = Math.min(200, iterations);
    await measure(warmup, () => cache.del(entry), validate);
    const uncached = await measure(iterations, () => cache.del(entry), validate);
    await validate();
    await measure(warmup, async () => {}, validate);
    const cached = await measure(iterations, async () => {}, validate);
    show(`${label}, uncached`, uncached);
    show(`${label}, cached`, cached);
    console.log(
      `${label}: cached is ${(uncached.mean / cached.mean).toFixed(1)}x faster (mean), ${(uncached.p50 / cached.p50).toFixed(1)}x (p50)\n`,
    );
  } finally {
    await core.stop();
    await bus.close();
    await database.close();
  }
}

async function main() {
  console.log(`API-key validation, ${iterations} iterations each, Node ${process.version}\n`);
  try {
    const redis = await startRedis();
    const databaseUrl = await (await sharedPostgres()).createDatabase();
    const redisCache = new RedisCache(redis.url, log);
    await new Promise((r) => setTimeout(r, 200));
    await benchWith(redisCache, "Redis", databaseUrl);
    await benchWith(new MemoryCache(), "in-process (gaia dev)", databaseUrl);
    await redisCache.close();
  } finally {
    await stopAllServers();
  }
}

await main();
