/**
 * Gateway overhead: an authenticated request through the gateway (API key, warm cache) against the same request
 * sent straight to the backend, with a bare undici proxy in the same run as the floor any Node hop pays.
 *
 *   node --import tsx bench/gateway/gateway.bench.ts [--seconds 10] [--rounds 3] [--connections 50]
 *       [--sequential 5000] [--results bench/RESULTS.md] [--profile DIR (a CPU profile of the gateway)]
 *
 * Every server runs in a process of its own (upstream, bare proxy, auth, the gateway as shipped and two variants
 * of it), as in a deployment; this process only generates load. Throughput comes from autocannon; latency percentiles from per-request timings
 * of a sequential keep-alive client (autocannon's percentiles have 1 ms resolution). Runs alternate between
 * targets and the medians are reported. Needs PostgreSQL and Redis installed (started on loopback, as in tests).
 */
import { type ChildProcess, execSync, spawn } from "node:child_process";
import { appendFile, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { Client, type Dispatcher, Pool } from "undici";

const HERE = new URL(import.meta.url).pathname;
/** What the upstream answers: the size of a small JSON reply (an OpenAI model list). */
const BODY = JSON.stringify({
  object: "list",
  data: [{ id: "echo", object: "model", created: 1_700_000_000, owned_by: "gaia" }],
});
const PATH = "/api/v1/models";
const INTERNAL_TOKEN = "bench-internal-token-0123456789abcdefghijkl";

// ---------------------------------------------------------------------------------------------------------------
// Child roles: each prints {"url": ...} on its first stdout line once listening.

async function listenAndAnnounce(server: ReturnType<typeof createServer>) {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
}

async function runUpstream() {
  await listenAndAnnounce(
    createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) });
        res.end(BODY);
      });
    }),
  );
}

/** The bare undici forward both proxies below share: stream the request to the upstream, the answer back. */
function undiciForward(upstream: string) {
  const pool = new Pool(upstream, { connections: 256 });
  const factory = ({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<ServerResponse>) => {
    opaque.statusCode = statusCode;
    for (const name in headers)
      if (name !== "connection" && name !== "keep-alive" && name !== "transfer-encoding")
        opaque.setHeader(name, headers[name]!);
    return opaque;
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    pool
      .stream(
        {
          method: req.method as Dispatcher.HttpMethod,
          path: req.url ?? "/",
          headers: { "x-forwarded-for": req.socket.remoteAddress ?? "" },
          body: req.method === "GET" || req.method === "HEAD" ? null : req,
          opaque: res,
        },
        factory,
      )
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  };
}

/** The floor: a Node HTTP server that forwards each request with undici and does nothing else. */
async function runBareProxy(upstream: string) {
  await listenAndAnnounce(createServer(undiciForward(upstream)));
}

/**
 * The same forward inside the kit's app, which every Gaia service runs (helmet, X-Request-Id, metrics, request
 * logs): what remains between this and the gateway is the gateway's own work.
 */
async function runKitProxy(upstream: string) {
  const { createApp, createLogger } = await import("@gaia/kit");
  const forward = undiciForward(upstream);
  const { app } = createApp({
    name: "gateway",
    log: createLogger("bench-kit-proxy", "info"),
    parseJson: false,
    routes: (express) => express.use((req, res) => forward(req, res)),
  });
  await listenAndAnnounce(createServer(app));
}

async function runService(name: "auth" | "gateway") {
  const { createLogger, openRuntime, platformEnv, readEnv, serviceContext } = await import("@gaia/kit");
  const env = readEnv(platformEnv);
  // Request logs stay on (they are part of the product) but go nowhere, as they would to a log pipe.
  const log = createLogger(`bench-${name}`, env.LOG_LEVEL);
  const runtime = await openRuntime(env, log);
  const start =
    name === "auth" ? (await import("@gaia/auth/main")).start : (await import("@gaia/gateway/main")).start;
  const service = await start(serviceContext(runtime, name, { port: 0, host: "127.0.0.1" }));
  console.log(JSON.stringify({ url: service.url }));
}

// ---------------------------------------------------------------------------------------------------------------
// The orchestrator.

/** Every process started, so that a failed run still stops them all. */
const children: ChildProcess[] = [];

interface Role {
  url: string;
  pid: number;
}

/** Start a role in a process of its own; resolves once it listens. */
function spawnRole(
  role: string,
  env: Record<string, string>,
  args: string[] = [],
  nodeArgs: string[] = [],
): Promise<Role> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", HERE, "--role", role, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onData = (data: Buffer) => {
      buffered += data;
      const line = buffered.split("\n")[0];
      if (buffered.includes("\n") && line) {
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        try {
          resolve({ url: (JSON.parse(line) as { url: string }).url, pid: child.pid! });
        } catch {
          reject(new Error(`${role}: unexpected first line ${line}`));
        }
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sequential requests on one keep-alive connection, each timed on its own. */
async function sequential(url: string, headers: Record<string, string>, count: number) {
  const client = new Client(url, { pipelining: 1 });
  const timings: number[] = [];
  try {
    for (let i = 0; i < count + 200; i++) {
      const started = process.hrtime.bigint();
      const { statusCode, body } = await client.request({ method: "GET", path: PATH, headers });
      await body.dump();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (statusCode !== 200) throw new Error(`${url} answered ${statusCode}`);
      if (i >= 200) timings.push(ms); // the first requests warm the JIT and the connection
    }
  } finally {
    await client.close();
  }
  timings.sort((a, b) => a - b);
  return { p50: percentile(timings, 50), p90: percentile(timings, 90), p99: percentile(timings, 99) };
}

const CLOCK_TICKS = Number(execSync("getconf CLK_TCK", { encoding: "utf8" }).trim()) || 100;

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * Requests per second under load, and the CPU the hop's own process spent per request. On shared cores the
 * second is the steadier figure: throughput also depends on whatever else the machine runs at the time.
 */
async function load(target: Role, headers: Record<string, string>, connections: number, seconds: number) {
  const cpuBefore = await cpuMs(target.pid);
  const result = await autocannon({
    url: `${target.url}${PATH}`,
    headers,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  const cpu = (await cpuMs(target.pid)) - cpuBefore;
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${target.url}: ${bad} failed requests under load`);
  return { rps: result.requests.average, cpuUs: (cpu * 1000) / Math.max(1, result.requests.total) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Options {
  seconds: number;
  rounds: number;
  connections: number;
  sequentialCount: number;
  results: string;
  /** A directory for a CPU profile of the gateway process as shipped (written when it stops). */
  profile?: string;
}

/**
 * The gateway as shipped, and two variants that show where its time goes: without its request logs, and with
 * its cache (identities, rate-limit counters) in process memory instead of Redis.
 */
const GATEWAYS = {
  gateway: { logLevel: "info", redis: true },
  "gateway, no request logs": { logLevel: "warn", redis: true },
  "gateway, in-process cache": { logLevel: "info", redis: false },
} as const;

async function orchestrate(options: Options) {
  const { sharedPostgres, startRedis, stopAllServers } = await import("../../test/support/servers.ts");
  try {
    const databaseUrl = await (await sharedPostgres()).createDatabase();
    const redis = await startRedis();
    const common = {
      DATABASE_URL: databaseUrl,
      GAIA_DATA_DIR: execSync("mktemp -d", { encoding: "utf8" }).trim(),
      GAIA_INTERNAL_TOKEN: INTERNAL_TOKEN,
      LOG_LEVEL: "info",
    };
    const upstream = await spawnRole("upstream", {});
    const proxy = await spawnRole("proxy", {}, ["--upstream", upstream.url]);
    const auth = await spawnRole("auth", { ...common, REDIS_URL: redis.url });
    const targets: Record<string, Role> = {
      direct: upstream,
      "bare proxy": proxy,
      "kit app + bare forward": await spawnRole("kit-proxy", {}, ["--upstream", upstream.url]),
    };
    for (const [name, variant] of Object.entries(GATEWAYS)) {
      targets[name] = await spawnRole(
        "gateway",
        {
          ...common,
          ...(variant.redis ? { REDIS_URL: redis.url } : {}),
          LOG_LEVEL: variant.logLevel,
          GAIA_AUTH_URL: auth.url,
          GAIA_CHAT_URL: upstream.url,
          // The load must measure the hop, not hit the limiter.
          GAIA_RATE_LIMIT_ADMIN: "100000000",
        },
        [],
        options.profile && name === "gateway" ? ["--cpu-prof", "--cpu-prof-dir", options.profile] : [],
      );
    }

    const { openDatabase } = await import("@gaia/kit/db/client");
    const { issueKeyForEmail } = await import("@gaia/auth/bootstrap");
    const db = await openDatabase({ kind: "postgres", url: databaseUrl });
    const { key } = await issueKeyForEmail(db.prisma, "bench@gateway.bench", "admin", "bench");
    await db.close();
    const headers = { "x-api-key": key, accept: "application/json" };
    // Warm each gateway's caches (identity, service token) before measuring.
    for (const name of Object.keys(GATEWAYS)) {
      const warm = await fetch(`${targets[name]!.url}${PATH}`, { headers });
      if (warm.status !== 200)
        throw new Error(`${name} warm-up answered ${warm.status}: ${await warm.text()}`);
    }

    type Run = Awaited<ReturnType<typeof sequential>> & Awaited<ReturnType<typeof load>>;
    const runs: Record<string, Run[]> = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
    const loadBefore = (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
    for (let round = 1; round <= options.rounds; round++) {
      for (const [name, target] of Object.entries(targets)) {
        const latency = await sequential(target.url, headers, options.sequentialCount);
        const throughput = await load(target, headers, options.connections, options.seconds);
        runs[name]!.push({ ...latency, ...throughput });
        console.error(
          `round ${round} ${name}: p50 ${latency.p50.toFixed(3)} ms, ${throughput.rps.toFixed(0)} req/s, ` +
            `${throughput.cpuUs.toFixed(0)} µs CPU/request`,
        );
      }
    }
    const loadAfter = (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
    const report = describe(options, runs, { loadBefore, loadAfter });
    console.log(report);
    await writeResults(options.results, report);
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve(undefined);
            child.once("exit", resolve);
            child.kill("SIGTERM");
          }),
      ),
    );
    await stopAllServers();
  }
}

type Summary = { name: string; p50: number; p90: number; p99: number; rps: number; cpuUs: number };

function describe(
  options: Options,
  runs: Record<string, { p50: number; p90: number; p99: number; rps: number; cpuUs: number }[]>,
  load: { loadBefore: string; loadAfter: string },
): string {
  const summary: Summary[] = Object.entries(runs).map(([name, list]) => ({
    name,
    p50: median(list.map((r) => r.p50)),
    p90: median(list.map((r) => r.p90)),
    p99: median(list.map((r) => r.p99)),
    rps: median(list.map((r) => r.rps)),
    cpuUs: median(list.map((r) => r.cpuUs)),
  }));
  const by = (name: string) => summary.find((s) => s.name === name)!;
  const [direct, bare, gateway] = [by("direct"), by("bare proxy"), by("gateway")];
  const fmt = (ms: number) => ms.toFixed(3);
  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)} %`;
  const added = gateway.p50 - direct.p50;
  const date = execSync("date -u", { encoding: "utf8" }).trim();
  return [
    "",
    `### Run of ${date}`,
    "",
    `Machine: ${cpus().length} shared cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}, ` +
      `load average ${load.loadBefore} before and ${load.loadAfter} after the run (other work shared the ` +
      "machine). The load generator, upstream, each proxy, auth and each gateway run in a process of their own " +
      `on those cores. Request: \`GET ${PATH}\` with \`X-API-Key\` (admin key, warm cache), a ` +
      `${Buffer.byteLength(BODY)}-byte JSON answer. "kit app + bare forward" is the bare proxy's forward inside ` +
      "the kit's express app every Gaia service runs (helmet, X-Request-Id, metrics, request logs). " +
      '"gateway" runs as shipped: request logs (info, to a pipe), metrics, helmet, rate limiting counted in ' +
      "Redis (redis-server on loopback); the two variants below it differ in one setting each. " +
      `Latency: ${options.sequentialCount} sequential keep-alive requests per run; ` +
      `throughput: autocannon, ${options.connections} connections, ${options.seconds} s; CPU: the hop ` +
      `process's own CPU time per request during the load run; medians of ${options.rounds} alternating rounds.`,
    "",
    "| target | p50 ms | added p50 | p90 ms | p99 ms | req/s | of direct | of bare proxy | CPU µs/request |",
    "|---|---|---|---|---|---|---|---|---|",
    ...summary.map(
      (s) =>
        `| ${s.name} | ${fmt(s.p50)} | ${s === direct ? "—" : `+${fmt(s.p50 - direct.p50)}`} | ${fmt(s.p90)} | ` +
        `${fmt(s.p99)} | ${s.rps.toFixed(0)} | ${pct(s.rps, direct.rps)} | ` +
        `${s === direct ? "—" : pct(s.rps, bare.rps)} | ${s.cpuUs.toFixed(0)} |`,
    ),
    "",
    `Gateway hot path: +${fmt(added)} ms p50 over direct (target ≤ 1 ms: ${added <= 1 ? "met" : "not met"}); ` +
      `${pct(gateway.rps, direct.rps)} of direct throughput (target ≥ 50 %: ` +
      `${gateway.rps >= direct.rps / 2 ? "met" : "not met"}) and ${pct(gateway.rps, bare.rps)} of the bare undici ` +
      `proxy of the same run, which itself reaches ${pct(bare.rps, direct.rps)} of direct on these shared cores.`,
    "",
  ].join("\n");
}

/**
 * Append the run to the results file, never rewriting what is there (other benchmarks add their own sections):
 * under the "Gateway" heading when that is the file's last section, else under a new one.
 */
async function writeResults(path: string, report: string) {
  const existing = await readFile(path, "utf8").catch(() => null);
  const sections = existing?.match(/^## .*$/gm) ?? [];
  const lastIsOurs = sections.at(-1) === "## Gateway";
  const preamble = existing === null ? "# Benchmark results\n" : existing.endsWith("\n") ? "" : "\n";
  await appendFile(path, `${preamble}${lastIsOurs ? "" : "\n## Gateway\n"}${report}`);
}

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    upstream: { type: "string" },
    seconds: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    sequential: { type: "string", default: "5000" },
    profile: { type: "string" },
    results: { type: "string", default: new URL("../RESULTS.md", import.meta.url).pathname },
  },
});

// A child stops cleanly on SIGTERM, so that a CPU profile, when asked for, is written.
if (values.role) process.once("SIGTERM", () => process.exit(0));

switch (values.role) {
  case "upstream":
    await runUpstream();
    break;
  case "proxy":
    await runBareProxy(values.upstream!);
    break;
  case "kit-proxy":
    await runKitProxy(values.upstream!);
    break;
  case "auth":
  case "gateway":
    await runService(values.role);
    break;
  default:
    await orchestrate({
      seconds: Number(values.seconds),
      rounds: Number(values.rounds),
      connections: Number(values.connections),
      sequentialCount: Number(values.sequential),
      results: values.results!,
      profile: values.profile,
    });
    process.exit(0);
}
