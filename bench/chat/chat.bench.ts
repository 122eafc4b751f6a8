/**
 * Chat: what Gaia adds to a streamed LLM answer, and how many streams it holds.
 *
 *   node --import tsx bench/chat/chat.bench.ts [--requests 1000] [--rounds 5] [--streams 500] [--chunks 20]
 *                                              [--results bench/RESULTS.md]
 *
 * 1. Time to first token: a client asks for a streamed answer and times the first content chunk, (a) straight
 *    from a local server speaking OpenAI's wire format, and (b) through the gateway and chat (API key, new
 *    conversation each time, or one continuing conversation), which call that same server with the official
 *    SDK. The difference is what Gaia adds. Sequential keep-alive requests, timed one by one, rounds alternating.
 * 2. Concurrent streams: --streams SSE streams opened at once through the gateway; the provider sends --chunks
 *    chunks to each, then holds every stream open until all are open, when the memory of the chat and gateway
 *    processes is read; then all finish, and every client checks it got every chunk, in order, and `done`.
 *
 * auth, chat and gateway each run in a process of their own, on PostgreSQL, Redis and NATS started on
 * loopback (as in tests); this process generates the load and plays the LLM provider.
 */
import { type ChildProcess, execSync, spawn } from "node:child_process";
import { appendFile, readFile, rename, rm, writeFile } from "node:fs/promises";
import { Agent, type IncomingMessage, request } from "node:http";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "../../services/chat/test/support/fake-openai.ts";

const HERE = new URL(import.meta.url).pathname;
const INTERNAL_TOKEN = "bench-internal-token-0123456789abcdefghijkl";
/** Where the services write their memory reports (the orchestrator's temporary data directory). */
let memoryDir = "";

// ---------------------------------------------------------------------------------------------------------------
// Child role: one service in its own process; prints {"url": ...} on its first stdout line once listening.

async function runService(name: "auth" | "chat" | "gateway") {
  const { createLogger, openRuntime, platformEnv, readEnv, serviceContext } = await import("@gaia/kit");
  const env = readEnv(platformEnv);
  const runtime = await openRuntime(env, createLogger(`bench-${name}`, env.LOG_LEVEL));
  const start =
    name === "auth"
      ? (await import("@gaia/auth/main")).start
      : name === "chat"
        ? (await import("@gaia/chat/main")).start
        : (await import("@gaia/gateway/main")).start;
  const service = await start(serviceContext(runtime, name, { port: 0, host: "127.0.0.1" }));
  // On request the orchestrator gets this process's memory after a full collection: what is live, not garbage.
  process.on("SIGUSR2", () => {
    (globalThis as { gc?: () => void }).gc?.();
    const file = `${process.env.BENCH_MEMORY_DIR}/${process.pid}.json`;
    // Written aside, then renamed: the reader never sees half a file.
    void writeFile(`${file}.tmp`, JSON.stringify(process.memoryUsage())).then(() =>
      rename(`${file}.tmp`, file),
    );
  });
  console.log(JSON.stringify({ url: service.url }));
}

// ---------------------------------------------------------------------------------------------------------------
// The orchestrator.

interface Child {
  url: string;
  process: ChildProcess;
}

function spawnRole(role: string, env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", HERE, "--role", role], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    // Log lines (JSON too) may come first; the announcement is the line with a `url`.
    let buffered = "";
    const onData = (data: Buffer) => {
      buffered += data;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        let url: unknown;
        try {
          url = (JSON.parse(line) as { url?: unknown }).url;
        } catch {
          continue;
        }
        if (typeof url !== "string") continue;
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        return resolve({ url, process: child });
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

/** A child's memory after full garbage collections (several: V8 returns freed pages over more than one). */
async function memoryOf(pid: number): Promise<Memory> {
  const file = `${memoryDir}/${pid}.json`;
  for (let i = 0; i < 3; i++) {
    await rm(file, { force: true });
    process.kill(pid, "SIGUSR2");
    await new Promise((r) => setTimeout(r, 400));
  }
  for (let waited = 0; ; waited += 50) {
    const text = await readFile(file, "utf8").catch(() => null);
    if (text) {
      const usage = JSON.parse(text) as Memory;
      return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external };
    }
    if (waited > 5000) throw new Error(`no memory report from ${pid}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** A content chunk with text in it: OpenAI's delta or v0.3's content event (the role chunk's "" does not count). */
const CONTENT = /"content":"[^"]/;

/**
 * POST a JSON body and time the first content chunk of the streamed answer; the rest is read to the end so
 * the keep-alive connection is reused.
 */
function timeFirstToken(
  agent: Agent,
  url: string,
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let first: number | undefined;
    let seen = "";
    postJson(
      agent,
      `${url}${path}`,
      headers,
      payload,
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`${path} answered ${res.statusCode}`));
        }
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (first !== undefined) return;
          seen += chunk;
          if (CONTENT.test(seen)) first = performance.now() - started;
        });
        res.on("end", () =>
          first === undefined ? reject(new Error(`${path}: no content`)) : resolve(first),
        );
      },
      reject,
    );
  });
}

/** POST a JSON payload on a keep-alive agent; `onResponse` reads the answer, `onError` hears a failed request. */
function postJson(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  payload: string,
  onResponse: (res: IncomingMessage) => void,
  onError: (error: Error) => void,
): void {
  request(
    url,
    {
      method: "POST",
      agent,
      headers: {
        ...headers,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(payload),
      },
    },
    onResponse,
  )
    .on("error", onError)
    .end(payload);
}

async function json(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, string>;
}

interface StreamOutcome {
  text: string;
  last: string;
  chunks: number;
}

async function orchestrate(options: {
  requests: number;
  rounds: number;
  streams: number;
  chunks: number;
  results: string;
}) {
  const { sharedPostgres, startNats, startRedis, stopAllServers } = await import(
    "../../test/support/servers.ts"
  );
  const children: ChildProcess[] = [];
  const provider = await startFakeOpenAI();
  try {
    const [postgres, redis, nats] = await Promise.all([sharedPostgres(), startRedis(), startNats()]);
    const databaseUrl = await postgres.createDatabase();
    const dataDir = execSync("mktemp -d", { encoding: "utf8" }).trim();
    memoryDir = dataDir;
    const common = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      NATS_URL: nats.url,
      GAIA_DATA_DIR: dataDir,
      BENCH_MEMORY_DIR: dataDir,
      GAIA_INTERNAL_TOKEN: INTERNAL_TOKEN,
      LOG_LEVEL: "info",
    };
    const auth = await spawnRole("auth", common);
    children.push(auth.process);
    const chat = await spawnRole("chat", {
      ...common,
      GAIA_AUTH_URL: auth.url,
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_BASE_URL: `${provider.url}/v1`,
      OPENAI_DEFAULT_MODEL: "gpt-4o-mini",
    });
    children.push(chat.process);
    const gateway = await spawnRole("gateway", {
      ...common,
      GAIA_AUTH_URL: auth.url,
      GAIA_CHAT_URL: chat.url,
      // The load is one user; the rate limiter is not what is measured here.
      GAIA_RATE_LIMIT_USER: "100000000",
    });
    children.push(gateway.process);

    const registered = await json(gateway.url, "/api/v1/auth/register", {
      email: "bench@example.com",
      password: "bench password 123",
    });
    const key = (
      await json(
        gateway.url,
        "/api/v1/auth/keys",
        { name: "bench" },
        { authorization: `Bearer ${registered.access_token}` },
      )
    ).key as string;
    const auth_ = { "x-api-key": key };

    // 1. Time to first token.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const conversation = (await json(gateway.url, "/api/v1/chat", { message: "start" }, auth_))
      .conversation_id as string;
    const targets: { name: string; run: (i: number) => Promise<number> }[] = [
      {
        name: "provider server alone",
        run: (i) =>
          timeFirstToken(
            agent,
            provider.url,
            "/v1/chat/completions",
            { authorization: `Bearer ${FAKE_OPENAI_KEY}` },
            {
              model: "gpt-4o-mini",
              stream: true,
              messages: [{ role: "user", content: `hello ${i}` }],
            },
          ),
      },
      {
        name: "gateway + chat, v1, new conversation",
        run: (i) =>
          timeFirstToken(agent, gateway.url, "/api/v1/chat", auth_, { message: `hello ${i}`, stream: true }),
      },
      {
        name: "gateway + chat, v0.3, new conversation",
        run: (i) =>
          timeFirstToken(agent, gateway.url, "/api/v0.3/chat", auth_, {
            message: `hello ${i}`,
            stream: true,
          }),
      },
      {
        name: "gateway + chat, v1, continuing one conversation",
        run: (i) =>
          timeFirstToken(agent, gateway.url, "/api/v1/chat", auth_, {
            message: `hello ${i}`,
            stream: true,
            conversation_id: conversation,
          }),
      },
    ];
    const timings = new Map(targets.map((t) => [t.name, [] as number[]]));
    for (const target of targets) for (let i = 0; i < 200; i++) await target.run(i); // warm JIT, pools, caches
    const perRound = Math.ceil(options.requests / options.rounds);
    for (let round = 0; round < options.rounds; round++) {
      for (const target of targets) {
        for (let i = 0; i < perRound; i++) timings.get(target.name)!.push(await target.run(i));
      }
    }
    agent.destroy();
    const ttft = targets.map((t) => {
      const sorted = timings.get(t.name)!.sort((a, b) => a - b);
      return {
        name: t.name,
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        n: sorted.length,
      };
    });
    const direct = ttft[0]!;

    // 2. Concurrent streams, through the gateway and straight to chat (with an identity minted by auth).
    const pids = { chat: chat.process.pid!, gateway: gateway.process.pid! };
    const throughGateway = await concurrentStreams(
      `${gateway.url}/api/v0.3/chat`,
      auth_,
      provider,
      options.streams,
      options.chunks,
      pids,
    );
    const minted = await json(
      auth.url,
      "/internal/authenticate",
      { api_key: key },
      { "x-gaia-internal-token": INTERNAL_TOKEN },
    );
    const directToChat = await concurrentStreams(
      `${chat.url}/api/v0.3/chat`,
      { "x-gaia-identity": minted.token as string },
      provider,
      options.streams,
      options.chunks,
      pids,
    );
    const fmt = (ms: number) => ms.toFixed(2);
    const date = execSync("date -u", { encoding: "utf8" }).trim();
    const added = ttft[1]!.p50 - direct.p50;
    const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    const kib = (bytes: number) => (bytes / 1024).toFixed(0);
    const report = [
      "",
      `### Chat run of ${date}`,
      "",
      `Machine: ${cpus().length} shared cores (${cpus()[0]?.model ?? "unknown CPU"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.versions.node}; ` +
        "auth, chat and gateway each in its own process, PostgreSQL 15, Redis and NATS on loopback, load generator and a " +
        "local server speaking OpenAI's wire format in this process, all on the same cores.",
      "",
      `Time to first content chunk, ${direct.n} sequential keep-alive requests per target in ${options.rounds} alternating rounds ` +
        "(API key, warm caches; each Gaia request loads or creates its conversation, checks the budget, and calls the server " +
        "with the official OpenAI SDK):",
      "",
      "| target | p50 ms | added p50 | p90 ms | p99 ms |",
      "|---|---|---|---|---|",
      ...ttft.map(
        (t) =>
          `| ${t.name} | ${fmt(t.p50)} | ${t === direct ? "—" : `+${fmt(t.p50 - direct.p50)}`} | ${fmt(t.p90)} | ${fmt(t.p99)} |`,
      ),
      "",
      `Gaia adds ${fmt(added)} ms p50 to the first token (target ≤ 5 ms: ${added <= 5 ? "met" : "NOT met"}).`,
      "",
      `Concurrent streams: ${options.streams} v0.3 streams opened at once, ${options.chunks} chunks each, every stream held ` +
        "open by the provider until all are open; then each finishes and its client checks every chunk, in order, and `done`. " +
        "Memory is read in the chat and gateway processes after full garbage collections, before the streams and while " +
        "they are all open: the growth of JS heap plus external buffers, per open stream (RSS is shown as read; V8 and " +
        "malloc return pages lazily, so its differences are noise).",
      "",
      "| path | open together | opened in | complete, in order | chat: live memory per open stream | gateway: live memory per open stream | chat RSS while open |",
      "|---|---|---|---|---|---|---|",
      ...[
        { label: "client → gateway → chat", r: throughGateway, viaGateway: true },
        { label: "client → chat (identity from auth)", r: directToChat, viaGateway: false },
      ].map(({ label, r, viaGateway }) => {
        const per = (name: "chat" | "gateway") => {
          const { before, during } = r.memory[name];
          return `${kib((during.heapUsed + during.external - before.heapUsed - before.external) / Math.max(1, r.held))} KiB`;
        };
        return (
          `| ${label} | ${r.held} of ${options.streams} | ${(r.openMs / 1000).toFixed(1)} s | ${r.complete} of ${options.streams} | ` +
          `${per("chat")} | ${viaGateway ? per("gateway") : "—"} | ${mib(r.memory.chat.during.rss)} MiB |`
        );
      }),
      "",
      ...[throughGateway, directToChat].flatMap((r, i) => [
        ...(r.held < options.streams
          ? [`${i === 0 ? "Through the gateway" : "Straight to chat"}, ${r.note}.`]
          : []),
        ...(r.failures.length ? [`Failures: ${r.failures.slice(0, 3).join("; ")}.`] : []),
      ]),
      "",
    ].join("\n");
    console.log(report);
    await writeResults(options.results, report);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await provider.close();
    await stopAllServers();
  }
}

async function concurrentStreams(
  url: string,
  headers: Record<string, string>,
  provider: Awaited<ReturnType<typeof startFakeOpenAI>>,
  count: number,
  chunks: number,
  pids: { chat: number; gateway: number },
) {
  const before = { chat: await memoryOf(pids.chat), gateway: await memoryOf(pids.gateway) };
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const words = Array.from({ length: chunks }, (_, i) => `w${i} `);
  for (let i = 0; i < count; i++)
    provider.enqueue({ kind: "hold", chunks: words, delayMs: 10, release: released });
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  let full = 0;
  let allFull!: () => void;
  const everyoneFull = new Promise<void>((resolve) => (allFull = resolve));
  const started = performance.now();
  const outcomes = Array.from(
    { length: count },
    (_, i) =>
      new Promise<StreamOutcome>((resolve, reject) => {
        const payload = JSON.stringify({ message: `stream ${i}`, stream: true });
        postJson(
          agent,
          url,
          headers,
          payload,
          (res) => {
            if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
            res.setEncoding("utf8");
            let buffer = "";
            const outcome: StreamOutcome = { text: "", last: "", chunks: 0 };
            res.on("data", (data: string) => {
              buffer += data;
              for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
                const event = JSON.parse(buffer.slice(6, end)) as { type: string; content?: string };
                buffer = buffer.slice(end + 2);
                outcome.last = event.type;
                if (event.type === "content") {
                  outcome.text += event.content;
                  if (++outcome.chunks === chunks && ++full === count) allFull();
                }
              }
            });
            res.on("end", () => resolve(outcome));
            res.on("error", reject);
          },
          reject,
        );
      }),
  );
  // Every stream open at once, or as many as get there before progress stalls for 10 s.
  const stall = 10_000;
  let progress = { full: -1, at: performance.now() };
  let stalled = false;
  while (full < count) {
    await Promise.race([everyoneFull, new Promise((r) => setTimeout(r, 250))]);
    if (full !== progress.full) progress = { full, at: performance.now() };
    else if (performance.now() - progress.at > stall) {
      stalled = true;
      break;
    }
  }
  const openMs = (stalled ? progress.at : performance.now()) - started;
  const held = full;
  const during = { chat: await memoryOf(pids.chat), gateway: await memoryOf(pids.gateway) };
  release();
  const settled = await Promise.allSettled(outcomes);
  agent.destroy();
  const expected = words.join("");
  const failures: string[] = [];
  let complete = 0;
  for (const result of settled) {
    if (result.status === "rejected") failures.push(String(result.reason));
    else if (result.value.text !== expected || result.value.last !== "done") {
      failures.push(`got ${result.value.chunks} chunks, ended with ${result.value.last}`);
    } else complete++;
  }
  return {
    held,
    openMs,
    complete,
    failures,
    note: `only ${held} streams were open together (no more opened for ${stall / 1000} s); the others waited for a connection, then completed`,
    memory: {
      chat: { before: before.chat, during: during.chat },
      gateway: { before: before.gateway, during: during.gateway },
    },
  };
}

/** Append under the "Chat" heading, creating the file or the heading when missing; other sections stay. */
async function writeResults(path: string, report: string) {
  const existing = await readFile(path, "utf8").catch(() => null);
  if (existing === null) await appendFile(path, "# Benchmark results\n\n## Chat\n");
  else if (!/^## Chat$/m.test(existing))
    await appendFile(path, `${existing.endsWith("\n") ? "" : "\n"}\n## Chat\n`);
  else {
    const start = existing.search(/^## Chat$/m);
    const next = existing.slice(start + 1).search(/^## /m);
    if (next !== -1) {
      const at = start + 1 + next;
      await writeFile(path, `${existing.slice(0, at)}${report.trimStart()}\n${existing.slice(at)}`);
      return;
    }
  }
  await appendFile(path, report);
}

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    requests: { type: "string", default: "1000" },
    rounds: { type: "string", default: "5" },
    streams: { type: "string", default: "500" },
    chunks: { type: "string", default: "20" },
    results: { type: "string", default: new URL("../RESULTS.md", import.meta.url).pathname },
  },
});

if (values.role === "auth" || values.role === "chat" || values.role === "gateway") {
  await runService(values.role);
} else {
  await orchestrate({
    requests: Number(values.requests),
    rounds: Number(values.rounds),
    streams: Number(values.streams),
    chunks: Number(values.chunks),
    results: values.results!,
  });
  process.exit(0);
}
