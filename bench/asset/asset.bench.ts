/**
 * Asset service: how fast a repeated request is served from the cache, and whether 200 jobs submitted at once
 * all finish, each paid for once.
 *
 *   node --import tsx bench/asset/asset.bench.ts [--hits 300] [--warmup 50] [--rounds 3] [--jobs 200]
 *       [--workers default,64] [--poll-ms 500] [--polls 5] [--profile 100]
 *       [--cpu-profile file.cpuprofile] [--explain] [--results bench/RESULTS.md]
 *
 * One platform from services/asset/test/support/platform.ts: PostgreSQL, Redis and NATS on loopback (each a
 * process of its own), auth, asset and the gateway in this process, with two local provider servers, also in this
 * process, speaking the providers' wire formats: OpenAI's image API (services/asset/test/support/
 * fake-openai-images.ts) and Meshy's text-to-3D API (fake-meshy.ts). This process is also the client.
 *
 * 1. Cache. One image is generated (the fake OpenAI server, the cheapest provider for a draft image), then the
 *    same request is sent again and again: each answers strategy "cache", cost 0, and no provider is called.
 *    Through the gateway, one request at a time, each timed with performance.now around fetch until its answer is
 *    read, after a warm-up; targets alternate in rounds. Floors in the same rounds: GET /api/v1/assets/{id} (one
 *    database read), GET /api/v1/assets/test through the gateway (no database) and straight to the asset service.
 *    Then --profile more cache hits, each with every SQL statement of the asset's role timed (pg's Client.query is
 *    wrapped in this process) and this process's CPU time, and the asset store's calls of a cache hit, each alone;
 *    with --cpu-profile, a V8 CPU profile of this process over --profile more cache hits is written there.
 * 2. Jobs. --jobs distinct model3d requests (draft: Meshy's preview task only) are sent at once with
 *    "wait": false, against the fake Meshy, whose task is done at its --polls-th read while the asset service
 *    polls every --poll-ms (GAIA_ASSET_POLL_MS): (polls - 1) × poll-ms = 2 s per task. Timed from the first
 *    submit to the last job's finished_at; every job must complete, its file must be served, and Meshy must have
 *    seen each prompt exactly once (its own count of created tasks equals --jobs). The process's RSS
 *    (process.memoryUsage().rss: asset, auth, gateway, the fakes and the client together) is sampled every
 *    250 ms. Once per --workers value: "default" is GAIA_ASSET_WORKERS unset (the service's default), a number
 *    restarts the asset service with it.
 *
 * Prints the tables and appends them to bench/RESULTS.md under "Asset service".
 */
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import pg, { type Client } from "pg";
import { assetConfig } from "../../services/asset/src/config.ts";
import { requestHash, specOf } from "../../services/asset/src/spec.ts";
import { AssetStore } from "../../services/asset/src/store.ts";
import {
  FAKE_MESHY_KEY,
  type FakeMeshy,
  startFakeMeshy,
} from "../../services/asset/test/support/fake-meshy.ts";
import {
  FAKE_OPENAI_IMAGES_KEY,
  type FakeOpenAIImages,
  startFakeOpenAIImages,
} from "../../services/asset/test/support/fake-openai-images.ts";
import {
  type AssetPlatform,
  type AssetUser,
  startAssetPlatform,
} from "../../services/asset/test/support/platform.ts";
import { generateBody } from "../../services/kit/src/contracts/asset.ts";
import { openDatabase } from "../../services/kit/src/db/client.ts";
import { asService, sharedPostgres, stopAllServers } from "../../test/support/servers.ts";
import { appendToSection, type Summary, summary } from "../results.ts";

const API = "/api/v1/assets";
const GENERATIONS = "/v1/images/generations";
const CACHE_TARGET_MS = 5;

// ---------------------------------------------------------------------------------------------------------------
// Measuring.

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field.
type Answer = Record<string, any>;

/** One request, timed from before fetch until its whole answer is read. */
async function timed(
  url: string,
  key: string | undefined,
  method: string,
  body?: unknown,
): Promise<{ ms: number; status: number; body: Answer }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  const response = await fetch(url, {
    method,
    headers: {
      ...(key ? { "x-api-key": key } : {}),
      ...(payload ? { "content-type": "application/json" } : {}),
    },
    body: payload,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let parsed: Answer = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { text };
  }
  return { ms, status: response.status, body: parsed };
}

const REPOSITORY = new URL("../..", import.meta.url).pathname;
const shell = (command: string) =>
  execFileSync("sh", ["-c", command], { cwd: REPOSITORY, encoding: "utf8" }).trim();
const loadAverage = () => shell("uptime").replace(/^.*load average:\s*/, "");
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const seconds = (ms: number) => (ms / 1000).toFixed(1);

// ---------------------------------------------------------------------------------------------------------------
// Where a cache hit's time goes: every SQL statement any pg client of this process sends (the services' Prisma
// adapters use pg), with its database role and how long it took from the call to its answer.

interface Statement {
  user: string;
  text: string;
  values?: unknown[];
  start: number;
  end: number;
}
const statements: Statement[] = [];
let tracing = false;
{
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: { user?: string }, ...args: unknown[]) {
    if (!tracing) return original.apply(this, args);
    const first = args[0] as string | { text?: string; values?: unknown[] } | undefined;
    const entry: Statement = {
      user: this.user ?? "",
      text: typeof first === "string" ? first : (first?.text ?? ""),
      values: Array.isArray(args[1]) ? args[1] : typeof first === "object" ? first.values : undefined,
      start: performance.now(),
      end: Number.NaN,
    };
    statements.push(entry);
    const done = () => {
      entry.end = performance.now();
    };
    const last = args.length - 1;
    if (typeof args[last] === "function") {
      const callback = args[last] as (...a: unknown[]) => unknown;
      args[last] = (...a: unknown[]) => {
        done();
        return callback(...a);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args) as Promise<unknown> | undefined;
    result?.then?.(done, done);
    return result;
  };
}

/** "SELECT assets", "INSERT asset_jobs", "BEGIN": what a statement does, to name it. */
function statementLabel(text: string): string {
  const verb = text.trim().split(/\s+/)[0]!.toUpperCase();
  const table = text.match(/(?:FROM|INTO|UPDATE)\s+(?:"public"\.)?"([a-z_]+)"/i)?.[1];
  return table ? `${verb} ${table}` : verb;
}

/** Until every traced statement has its answer (a background one may still be out), at most 200 ms. */
async function settled() {
  const until = performance.now() + 200;
  while (statements.some((s) => Number.isNaN(s.end)) && performance.now() < until)
    await new Promise((r) => setTimeout(r, 1));
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

async function profileCache(
  p: AssetPlatform,
  db: Client,
  user: AssetUser,
  request: Record<string, unknown>,
  n: number,
  cpuProfile?: string,
  explain = false,
) {
  const role = "gaia_asset";
  // (a) The request through the gateway, with its statements and this process's CPU time.
  const through = { ms: [] as number[], count: [] as number[], sql: [] as number[], cpu: [] as number[] };
  let labels: string[] = [];
  let lastHit: Statement[] = [];
  for (let i = 0; i < n + 10; i++) {
    statements.length = 0;
    tracing = true;
    const cpu = process.cpuUsage();
    const r = await timed(`${p.gateway}${API}/generate`, user.key, "POST", request);
    const cpuUsed = cpuMs(process.cpuUsage(cpu));
    await settled();
    tracing = false;
    if (r.body.strategy !== "cache") throw new Error(`not a cache hit: ${JSON.stringify(r.body)}`);
    const own = statements.filter((s) => s.user === role);
    if (i < 10) continue;
    through.ms.push(r.ms);
    through.cpu.push(cpuUsed);
    through.count.push(own.length);
    through.sql.push(own.reduce((sum, s) => sum + (s.end - s.start), 0));
    labels = own.map((s) => statementLabel(s.text));
    lastHit = own;
  }
  // How PostgreSQL runs the hit's two lookups (a live job of the same request; the cached asset), as they were sent.
  const plans: { label: string; rows: string; ms: string }[] = [];
  for (const statement of lastHit.slice(0, 3)) {
    if (!statement.text.trim().toUpperCase().startsWith("SELECT")) continue;
    const { rows } = await db.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`,
      statement.values,
    );
    const plan = rows.map((r) => r["QUERY PLAN"]);
    if (explain) console.log(`\nEXPLAIN ANALYZE ${statementLabel(statement.text)}:\n${plan.join("\n")}`);
    const scan = plan.find((line) => /Index Scan|Seq Scan|Bitmap Heap Scan/.test(line));
    const answered = scan?.match(/actual time=[^ ]+ rows=(\d+)/)?.[1];
    const removed = plan.find((line) => line.includes("Rows Removed by Filter"))?.match(/(\d+)/)?.[1];
    const time = (what: string) => plan.find((line) => line.startsWith(what))?.split(": ")[1] ?? "?";
    plans.push({
      label: statementLabel(statement.text),
      rows: scan
        ? `${scan
            .replace(/^[\s>-]+/, "")
            .replace(
              /\s+\(cost=.*$/,
              "",
            )} (the scan yields ${answered} rows${removed ? `, after dropping ${removed} by its filter` : ""})`
        : plan.some((line) => line.includes("One-Time Filter: false"))
          ? "nothing to read (`One-Time Filter: false`: the relation query of a find that matched nothing)"
          : plan[0]!.replace(/\s+\(cost=.*$/, ""),
      ms: `planned in ${time("Planning Time")}, executed in ${time("Execution Time")}`,
    });
  }
  // (b) The asset service's own store calls, in this process on a Prisma client of its own (the same role).
  const database = await openDatabase({ kind: "postgres", url: asService(p.databaseUrl, "asset") });
  const store = new AssetStore(database.prisma);
  const body = generateBody.parse(request);
  const spec = specOf(body);
  const hash = requestHash(spec);
  const identity = {
    userId: user.userId,
    role: "user" as const,
    permissions: ["kb:read" as const, "chat:create" as const, "asset:generate" as const],
    authType: "api_key" as const,
  };
  const sameRequest = async () =>
    (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM assets WHERE prompt_hash = $1", [hash]))
      .rows[0]!.n;
  const sameRequestBefore = await sameRequest();
  const cached = await store.findCached(user.userId, hash);
  const someJob = await database.prisma.assetJob.findFirst({ where: { userId: user.userId } });
  if (!cached || !someJob) throw new Error("no cached asset to profile with");
  const steps: { name: string; run: () => Promise<unknown> }[] = [
    {
      name: "`findAttachable` (a live job of the same request?)",
      run: () => store.findAttachable(user.userId, undefined, hash),
    },
    {
      name: "`findCached` (the finished asset of the same request)",
      run: () => store.findCached(user.userId, hash),
    },
    {
      name: "`createJob` of a cache hit (asset, job and event in one transaction)",
      run: () =>
        store.createJob({
          identity,
          spec,
          hash,
          plan: { candidates: [], rejected: [], explanation: "bench" },
          strategy: "cache",
          visibility: "private",
          deadline: new Date(Date.now() + 900_000),
          finished: { from: cached },
        }),
    },
    {
      name: "the webhook check (`findUnique` of the job with its asset)",
      run: () => database.prisma.assetJob.findUnique({ where: { id: someJob.id }, include: { asset: true } }),
    },
    { name: "`SELECT 1` with pg alone (no Prisma), as the owner", run: () => db.query("SELECT 1") },
  ];
  const inProcess: { name: string; ms: Summary; sql: Summary; count: number }[] = [];
  for (const step of steps) {
    const ms: number[] = [];
    const sql: number[] = [];
    let count = 0;
    for (let i = 0; i < n + 10; i++) {
      statements.length = 0;
      tracing = true;
      const started = performance.now();
      await step.run();
      const elapsed = performance.now() - started;
      tracing = false;
      if (i < 10) continue;
      ms.push(elapsed);
      sql.push(statements.reduce((sum, s) => sum + (s.end - s.start), 0));
      count = statements.length;
    }
    inProcess.push({ name: step.name, ms: summary(ms), sql: summary(sql), count });
  }
  const sameRequestAfter = await sameRequest();
  await database.close();
  // (c) On request, a V8 CPU profile of this process over n more cache hits (all of it: client, gateway, auth, asset).
  if (cpuProfile) {
    const session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 100 });
    await session.post("Profiler.start");
    for (let i = 0; i < n; i++) await timed(`${p.gateway}${API}/generate`, user.key, "POST", request);
    const { profile } = await session.post("Profiler.stop");
    await writeFile(cpuProfile, JSON.stringify(profile));
    session.disconnect();
    console.log(`CPU profile of ${n} cache hits written to ${cpuProfile}`);
  }
  return {
    through: {
      ms: summary(through.ms),
      cpu: summary(through.cpu),
      sql: summary(through.sql),
      count: summary(through.count),
    },
    labels,
    plans,
    sameRequestBefore,
    sameRequestAfter,
    inProcess,
    n,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The cache.

interface CacheTarget {
  name: string;
  run(): Promise<number>;
}

async function measureCache(
  p: AssetPlatform,
  openai: FakeOpenAIImages,
  user: AssetUser,
  options: { hits: number; warmup: number; rounds: number },
) {
  const request = { type: "image", prompt: "A lighthouse on a cliff at dusk", quality: "draft" };
  const callsBefore = openai.calls(GENERATIONS);
  const first = await timed(`${p.gateway}${API}/generate`, user.key, "POST", request);
  if (first.status !== 201 || first.body.strategy !== "generate")
    throw new Error(`the first image was not generated: ${first.status} ${JSON.stringify(first.body)}`);
  const assetId = String(first.body.asset_id);
  const madeBy = String(first.body.provider);
  const firstMs = first.ms;
  const wrong: string[] = [];
  const targets: CacheTarget[] = [
    {
      name: `\`POST ${API}/generate\`, the same request: a cache hit`,
      async run() {
        const r = await timed(`${p.gateway}${API}/generate`, user.key, "POST", request);
        if (r.status !== 201 || r.body.strategy !== "cache" || r.body.cost_usd !== 0)
          wrong.push(`${r.status} ${r.body.strategy} ${r.body.cost_usd}`);
        return r.ms;
      },
    },
    {
      name: `\`GET ${API}/{id}\` (one database read)`,
      async run() {
        const r = await timed(`${p.gateway}${API}/${assetId}`, user.key, "GET");
        if (r.status !== 200 || r.body.id !== assetId) wrong.push(`GET asset ${r.status}`);
        return r.ms;
      },
    },
    {
      name: `\`GET ${API}/test\` (no database)`,
      async run() {
        const r = await timed(`${p.gateway}${API}/test`, user.key, "GET");
        if (r.status !== 200) wrong.push(`GET test ${r.status}`);
        return r.ms;
      },
    },
    {
      name: `\`GET ${API}/test\` straight to the asset service, no gateway`,
      async run() {
        const r = await timed(`${p.assetUrl}${API}/test`, undefined, "GET");
        if (r.status !== 200) wrong.push(`GET test direct ${r.status}`);
        return r.ms;
      },
    },
  ];
  for (const target of targets) for (let i = 0; i < options.warmup; i++) await target.run();
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  const perRound = Math.ceil(options.hits / options.rounds);
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const into = samples.get(target.name)!;
      for (let i = 0; i < perRound && into.length < options.hits; i++) into.push(await target.run());
    }
  }
  const providerCalls = openai.calls(GENERATIONS) - callsBefore;
  if (wrong.length)
    throw new Error(`${wrong.length} answers were not as expected, e.g. ${wrong.slice(0, 5).join("; ")}`);
  console.log(
    `cache: done (${providerCalls} provider call for ${options.hits + options.warmup + 1} requests)`,
  );
  const hits = samples.get(targets[0]!.name)!;
  const byRound = Array.from({ length: options.rounds }, (_, r) =>
    summary(hits.slice(r * perRound, (r + 1) * perRound)),
  );
  return {
    request,
    byRound,
    rows: targets.map((t) => ({ name: t.name, summary: summary(samples.get(t.name)!) })),
    providerCalls,
    madeBy,
    firstMs,
    requests: options.hits + options.warmup,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Jobs submitted at once.

interface JobRow {
  id: string;
  status: string;
  error: string | null;
  attempts: number;
  provider_task_id: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

async function measureJobs(
  p: AssetPlatform,
  meshy: FakeMeshy,
  db: Client,
  options: { jobs: number; workers: number; label: string; taskMs: number },
) {
  const user = await p.user("user");
  const tag = `${options.label}-${Date.now().toString(36)}`;
  const prompts = Array.from(
    { length: options.jobs },
    (_, i) => `a carved wooden treasure chest, bench ${tag} job ${String(i).padStart(3, "0")}`,
  );
  const ownPrompt = new Set(prompts);
  const before = { ...meshy.submitted };
  const bodiesBefore = meshy.bodies.length;

  // What the database says while the jobs run (the service's own table, read as its owner, every 250 ms).
  const counts = async () => {
    const { rows } = await db.query<{ status: string; n: number }>(
      "SELECT status, count(*)::int AS n FROM asset_jobs WHERE user_id = $1 GROUP BY status",
      [user.userId],
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
  };
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let heapPeak = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  }, 250);
  const loadBefore = loadAverage();

  const startedWall = Date.now();
  const started = performance.now();
  const answers = await Promise.all(
    prompts.map((prompt) =>
      timed(`${p.gateway}${API}/generate`, user.key, "POST", {
        type: "model3d",
        prompt,
        quality: "draft",
        wait: false,
      }),
    ),
  );
  const submittedMs = performance.now() - started;
  const accepted = answers.filter((a) => a.status === 202 && a.body.job_id);
  const refused = answers.filter((a) => !(a.status === 202 && a.body.job_id));
  console.log(
    `jobs (${options.label}): ${accepted.length} of ${options.jobs} accepted in ${seconds(submittedMs)} s` +
      (refused.length ? `; refused: ${refused.map((r) => r.status).join(", ")}` : ""),
  );

  // Until every accepted job is finished (or nothing has moved for 60 s).
  let peakRunning = 0;
  let last = "";
  let lastChange = performance.now();
  for (;;) {
    const c = await counts();
    peakRunning = Math.max(peakRunning, c.running ?? 0);
    const finished = (c.completed ?? 0) + (c.failed ?? 0) + (c.canceled ?? 0);
    if (finished >= accepted.length) break;
    const now = JSON.stringify(c);
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 60_000) {
      console.log(`jobs (${options.label}): nothing moved for 60 s: ${now}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const observedMs = performance.now() - started;
  clearInterval(sampler);
  const m = process.memoryUsage();
  rssPeak = Math.max(rssPeak, m.rss);
  heapPeak = Math.max(heapPeak, m.heapUsed);
  const loadAfter = loadAverage();

  const { rows } = await db.query<JobRow>(
    `SELECT id, status, error, attempts, provider_task_id, created_at, started_at, finished_at
     FROM asset_jobs WHERE user_id = $1`,
    [user.userId],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const acceptedIds = accepted.map((a) => String(a.body.job_id));
  const missing = acceptedIds.filter((id) => !byId.has(id));
  const completed = rows.filter((r) => r.status === "completed");
  const notCompleted = rows.filter((r) => r.status !== "completed");
  const lastFinished = Math.max(...completed.map((r) => r.finished_at!.getTime()));
  const drainMs = completed.length ? lastFinished - startedWall : Number.NaN;
  const runMs = completed.map((r) => r.finished_at!.getTime() - r.started_at!.getTime());
  const queuedMs = completed.map((r) => r.started_at!.getTime() - r.created_at.getTime());
  const taskIds = new Set(rows.map((r) => r.provider_task_id).filter(Boolean));

  // Meshy's side: tasks it created for these prompts, each prompt once.
  const seen = new Map<string, number>();
  for (const body of meshy.bodies.slice(bodiesBefore)) {
    const prompt = String(body.prompt);
    if (ownPrompt.has(prompt)) seen.set(prompt, (seen.get(prompt) ?? 0) + 1);
  }
  const submittedTwice = [...seen.values()].filter((n) => n > 1).length;
  const neverSubmitted = prompts.filter((x) => !seen.has(x)).length;
  const previews = meshy.submitted.preview - before.preview;
  const refines = meshy.submitted.refine - before.refine;

  // Every completed job's file, downloaded through the gateway: a binary glTF from Meshy.
  let served = 0;
  for (const r of completed) {
    const job = await timed(`${p.gateway}${API}/jobs/${r.id}`, user.key, "GET");
    const url = job.body.asset?.download_url;
    if (!url) continue;
    const response = await fetch(`${p.gateway}${url}`, { headers: { "x-api-key": user.key } });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (response.status === 200 && bytes.subarray(0, 4).toString("latin1") === "glTF") served++;
  }
  const errors = [...new Set(notCompleted.map((r) => `${r.status}: ${r.error}`))];
  console.log(
    `jobs (${options.label}): ${completed.length} completed, drained in ${seconds(drainMs)} s; ` +
      `Meshy created ${previews} previews, ${refines} refines; peak running ${peakRunning}` +
      (errors.length ? `; not completed: ${errors.slice(0, 3).join(" | ")}` : ""),
  );
  return {
    label: options.label,
    workers: options.workers,
    jobs: options.jobs,
    accepted: accepted.length,
    refused: refused.map(
      (r) => `${r.status} ${String(r.body.detail ?? r.body.message ?? r.body.title ?? "")}`,
    ),
    submittedMs,
    submitLatency: summary(answers.map((a) => a.ms)),
    missing: missing.length,
    completed: completed.length,
    notCompleted: notCompleted.length,
    errors,
    retried: rows.filter((r) => r.attempts > 0).length,
    served,
    drainMs,
    observedMs,
    idealMs: Math.ceil(options.jobs / options.workers) * options.taskMs,
    run: summary(runMs),
    queued: summary(queuedMs),
    peakRunning,
    previews,
    refines,
    taskIds: taskIds.size,
    submittedTwice,
    neverSubmitted,
    rssBefore,
    rssPeak,
    heapPeak,
    loadBefore,
    loadAfter,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

async function main(options: {
  hits: number;
  warmup: number;
  rounds: number;
  jobs: number;
  workers: string[];
  profile: number;
  cpuProfile?: string;
  explain: boolean;
  pollMs: number;
  polls: number;
  results: string;
}) {
  const loadAtStart = loadAverage();
  const date = shell("date -u");
  const commit = shell("git rev-parse --short HEAD");
  const dirty = shell("git status --porcelain") !== "";
  const cpuModel =
    (await readFile("/proc/cpuinfo", "utf8")).match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown";
  const nproc = shell("nproc");
  const defaultWorkers = assetConfig({}, "/tmp").workers;
  const taskMs = (options.polls - 1) * options.pollMs;
  console.log(`load average at start: ${loadAtStart}`);

  const [openai, meshy] = await Promise.all([startFakeOpenAIImages(), startFakeMeshy()]);
  meshy.pollsToFinish = options.polls;
  const workersOf = (w: string) => (w === "default" ? defaultWorkers : Number(w));
  const firstWorkers = options.workers[0]!;
  let p: AssetPlatform | undefined;
  let db: Client | undefined;
  try {
    const started = performance.now();
    p = await startAssetPlatform({
      env: {
        OPENAI_API_KEY: FAKE_OPENAI_IMAGES_KEY,
        OPENAI_BASE_URL: openai.baseUrl,
        MESHY_API_KEY: FAKE_MESHY_KEY,
        MESHY_BASE_URL: meshy.url,
        GAIA_ASSET_POLL_MS: String(options.pollMs),
        ...(firstWorkers === "default" ? {} : { GAIA_ASSET_WORKERS: firstWorkers }),
      },
    });
    const platformMs = performance.now() - started;
    db = new pg.Client({ connectionString: (await sharedPostgres()).ownerOf(p.databaseUrl) });
    await db.connect();
    const postgresVersion = (await db.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
      .rows[0]!.v;
    console.log(`platform ready in ${seconds(platformMs)} s (PostgreSQL ${postgresVersion})`);

    // 1. The cache.
    const cacheUser = await p.user("user");
    const cache = await measureCache(p, openai, cacheUser, options);
    const profile = await profileCache(
      p,
      db,
      cacheUser,
      cache.request,
      options.profile,
      options.cpuProfile,
      options.explain,
    );
    console.log(`profile: done (${profile.labels.join(", ")})`);

    // 2. Jobs, once per workers setting.
    const runs: Awaited<ReturnType<typeof measureJobs>>[] = [];
    for (const [i, w] of options.workers.entries()) {
      if (i > 0) await p.restartAsset({ GAIA_ASSET_WORKERS: String(workersOf(w)) });
      const label = w === "default" ? `${defaultWorkers} (the default)` : w;
      runs.push(
        await measureJobs(p, meshy, db, { jobs: options.jobs, workers: workersOf(w), label, taskMs }),
      );
    }
    const loadAtEnd = loadAverage();

    // The report.
    const hit = cache.rows[0]!.summary;
    const verdict = (ok: boolean) => (ok ? "met" : "**not met**");
    const cacheRows = cache.rows.map(
      (r) =>
        `| ${r.name} | ${r.summary.n} | ${fmt(r.summary.p50)} | ${fmt(r.summary.p90)} | ${fmt(r.summary.p99)} |`,
    );
    const jobCell = (f: (r: (typeof runs)[number]) => string) => runs.map(f).join(" | ");
    const jobRows = [
      `| GAIA_ASSET_WORKERS | ${jobCell((r) => r.label)} |`,
      `|---|${runs.map(() => "---").join("|")}|`,
      `| accepted (202) | ${jobCell((r) => `${r.accepted} of ${r.jobs}${r.refused.length ? ` (refused: ${r.refused.join("; ")})` : ""}`)} |`,
      `| all ${options.jobs} answered in | ${jobCell((r) => `${seconds(r.submittedMs)} s (p50 ${fmt(r.submitLatency.p50)} ms, p99 ${fmt(r.submitLatency.p99)} ms)`)} |`,
      `| completed | ${jobCell((r) => `${r.completed} of ${r.accepted}${r.notCompleted ? ` (${r.notCompleted} not: ${r.errors.join("; ")})` : ""}`)} |`,
      `| lost (accepted, not in the table) | ${jobCell((r) => String(r.missing))} |`,
      `| files served (a GLB, downloaded through the gateway) | ${jobCell((r) => `${r.served} of ${r.completed}`)} |`,
      `| Meshy tasks created (previews; refines) | ${jobCell((r) => `${r.previews}; ${r.refines}`)} |`,
      `| prompts submitted twice; never submitted | ${jobCell((r) => `${r.submittedTwice}; ${r.neverSubmitted}`)} |`,
      `| jobs retried | ${jobCell((r) => String(r.retried))} |`,
      `| drain: first submit → last finished_at | ${jobCell((r) => `**${seconds(r.drainMs)} s**`)} |`,
      `| ideal: ⌈${options.jobs} / workers⌉ × ${seconds(taskMs)} s | ${jobCell((r) => `${seconds(r.idealMs)} s`)} |`,
      `| throughput | ${jobCell((r) => `${(r.completed / (r.drainMs / 1000)).toFixed(2)} jobs/s`)} |`,
      `| running at once (peak, status in the table) | ${jobCell((r) => String(r.peakRunning))} |`,
      `| one job, started → finished (p50 / p99) | ${jobCell((r) => `${fmt(r.run.p50 / 1000)} / ${fmt(r.run.p99 / 1000)} s`)} |`,
      `| waited in the queue, created → started (p50 / max) | ${jobCell((r) => `${seconds(r.queued.p50)} / ${seconds(r.queued.max)} s`)} |`,
      `| RSS before → peak | ${jobCell((r) => `${mib(r.rssBefore)} → **${mib(r.rssPeak)} MiB**`)} |`,
      `| JS heap used, peak | ${jobCell((r) => `${mib(r.heapPeak)} MiB`)} |`,
      `| load average before; after | ${jobCell((r) => `${r.loadBefore}; ${r.loadAfter}`)} |`,
    ];
    const allGood = (r: (typeof runs)[number]) =>
      r.accepted === r.jobs &&
      r.completed === r.jobs &&
      r.missing === 0 &&
      r.served === r.jobs &&
      r.previews === r.jobs &&
      r.submittedTwice === 0 &&
      r.neverSubmitted === 0;
    const report = [
      "",
      `### Run of ${date}`,
      "",
      `Machine: \`nproc\` ${nproc} (${cpuModel}; Node sees ${cpus().length}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
        `Node ${process.versions.node}, PostgreSQL ${postgresVersion}; commit ${commit}` +
        `${dirty ? " (with uncommitted changes in the tree)" : ""}. Load average ${loadAtStart} at the start and ` +
        `${loadAtEnd} at the end. PostgreSQL, Redis and NATS on loopback, each its own process; auth, asset, the ` +
        "gateway, the two provider servers and this client all in one Node process " +
        "(services/asset/test/support/platform.ts), so the RSS below is all of them together.",
      "",
      `Cache: one draft image generated by ${cache.madeBy} (the fake OpenAI image server; ${fmt(cache.firstMs)} ms), ` +
        `then the same request again, ${options.hits} timed after ${options.warmup} untimed, each answered 201, ` +
        `strategy \`cache\`, cost 0 (checked; the provider server got ${cache.providerCalls} request for all ` +
        `${cache.requests + 1}). Through the gateway with an API key, one request at a time, timed with ` +
        `performance.now around fetch until the answer is read; ${options.rounds} rounds, the targets alternating. ` +
        "A cache hit looks for a live job of the same request, finds the cached asset and writes a new asset, job " +
        "and event (one transaction).",
      "",
      "| request | n | p50 ms | p90 ms | p99 ms |",
      "|---|---|---|---|---|",
      ...cacheRows,
      "",
      `- Cache hit p50 **${fmt(hit.p50)} ms** (target ≤ ${CACHE_TARGET_MS} ms: ${verdict(hit.p50 <= CACHE_TARGET_MS)}); ` +
        `p50 by round: ${cache.byRound.map((r) => `${fmt(r.p50)} ms`).join(", ")}.`,
      "",
      `Where a cache hit's time goes: ${profile.n} more cache hits, each traced. Every statement a pg client of this ` +
        "process sends is timed from the call to its answer (the services' Prisma adapters use pg), and those of " +
        `the asset service's role are counted; the CPU time is this process's (client, gateway, auth, asset). ` +
        `Statements of one hit: ${profile.labels.join(", ")}.`,
      "",
      "| cache hit, traced | n | p50 | p90 | p99 |",
      "|---|---|---|---|---|",
      `| through the gateway, ms | ${profile.through.ms.n} | ${fmt(profile.through.ms.p50)} | ${fmt(profile.through.ms.p90)} | ${fmt(profile.through.ms.p99)} |`,
      `| … the asset's SQL statements, count | ${profile.through.count.n} | ${profile.through.count.p50} | ${profile.through.count.p90} | ${profile.through.count.p99} |`,
      `| … their time summed, ms | ${profile.through.sql.n} | ${fmt(profile.through.sql.p50)} | ${fmt(profile.through.sql.p90)} | ${fmt(profile.through.sql.p99)} |`,
      `| … CPU time of this process, ms | ${profile.through.cpu.n} | ${fmt(profile.through.cpu.p50)} | ${fmt(profile.through.cpu.p90)} | ${fmt(profile.through.cpu.p99)} |`,
      "",
      ...profile.plans.map(
        (plan) => `- PostgreSQL's plan for the hit's \`${plan.label}\`: ${plan.rows}; ${plan.ms}.`,
      ),
      "",
      "The same steps called in this process on the asset service's store (services/asset/src/store.ts) over a " +
        `Prisma client of its own, as the asset's role, ${profile.n} times each (assets of this request in the ` +
        `table: ${profile.sameRequestBefore} before, ${profile.sameRequestAfter} after; every cache hit adds one):`,
      "",
      "| step | statements | p50 ms | p90 ms | in pg, p50 ms |",
      "|---|---|---|---|---|",
      ...profile.inProcess.map(
        (r) => `| ${r.name} | ${r.count} | ${fmt(r.ms.p50)} | ${fmt(r.ms.p90)} | ${fmt(r.sql.p50)} |`,
      ),
      "",
      `Jobs: ${options.jobs} distinct draft \`model3d\` requests sent at once with \`"wait": false\` through the ` +
        `gateway, against the fake Meshy server (a preview task each, done at its ${options.polls}th read; the ` +
        `asset service polls every ${options.pollMs} ms, \`GAIA_ASSET_POLL_MS\`: ${seconds(taskMs)} s per task). ` +
        "Drain is from the first submit to the last job's `finished_at`; the job rows are read from `asset_jobs`, " +
        "Meshy's side from its own count of created tasks and the prompts it was sent. RSS is " +
        "`process.memoryUsage().rss` of this one process, sampled every 250 ms; the runs follow each other in " +
        "the same process (the asset service restarted between them), so a later run starts from what the " +
        "earlier left.",
      "",
      ...jobRows,
      "",
      ...runs.map(
        (r) =>
          `- Workers ${r.label}: ${allGood(r) ? "all complete, none lost, none submitted twice: met" : "**not met**: see the table"}; ` +
          `${options.jobs} jobs drained in ${seconds(r.drainMs)} s (${(r.completed / (r.drainMs / 1000)).toFixed(2)} ` +
          `jobs/s; ideal ${seconds(r.idealMs)} s), RSS ${mib(r.rssBefore)} → ${mib(r.rssPeak)} MiB.`,
      ),
      "",
    ].join("\n");
    console.log(report);
    await appendToSection(options.results, "Asset service", report, INTRO);
  } finally {
    await db?.end().catch(() => {});
    await p?.close().catch(() => {});
    await Promise.all([openai.close(), meshy.close()]).catch(() => {});
    await stopAllServers();
  }
}

const INTRO = `
\`node --import tsx bench/asset/asset.bench.ts\` (bench/asset/README.md says what it does). One platform from
\`services/asset/test/support/platform.ts\` (PostgreSQL, Redis, NATS, auth, asset, gateway on loopback) with local
servers speaking OpenAI's image API and Meshy's text-to-3D API. It measures, through the gateway, a repeated
request served from the cache, and 200 jobs submitted at once against a provider that takes 2 s a task, with the
service's default \`GAIA_ASSET_WORKERS\` and with 64. Targets: cache hit p50 ≤ 5 ms; every job completes, none is
lost, none is submitted to the provider twice.
`;

const { values } = parseArgs({
  options: {
    hits: { type: "string", default: "300" },
    warmup: { type: "string", default: "50" },
    rounds: { type: "string", default: "3" },
    jobs: { type: "string", default: "200" },
    workers: { type: "string", default: "default,64" },
    profile: { type: "string", default: "100" },
    "cpu-profile": { type: "string" },
    explain: { type: "boolean", default: false },
    "poll-ms": { type: "string", default: "500" },
    polls: { type: "string", default: "5" },
    results: { type: "string", default: new URL("../RESULTS.md", import.meta.url).pathname },
  },
});

await main({
  hits: Number(values.hits),
  warmup: Number(values.warmup),
  rounds: Number(values.rounds),
  jobs: Number(values.jobs),
  workers: values.workers!.split(",").map((w) => w.trim()),
  profile: Number(values.profile),
  cpuProfile: values["cpu-profile"],
  explain: values.explain!,
  pollMs: Number(values["poll-ms"]),
  polls: Number(values.polls),
  results: values.results!,
});
process.exit(0);
