/**
 * The operator against the test control plane (kube-apiserver, controller-manager, scheduler, kwok). kwok makes
 * pods Ready at once and completes Job pods, so these are the operator's and the control plane's share of an
 * install, not image pulls.
 *
 *   node --import tsx bench/operator/operator.bench.ts [platforms] [resyncs]
 *
 * One namespace, the operator in this process (resync every second), [platforms] platforms (default 1) with
 * managed datastores and the strict mesh policy, created at once. For each, a watch on every child kind records
 * when each child first appears, so the install splits into:
 *   - the children that do not wait for the migration (everything but the Deployments and their autoscalers);
 *   - the migration Job: created, its pod Succeeded, the Job Complete, status.migratedImage recorded;
 *   - every child, the gated Deployments and autoscalers included; then Ready.
 * Then [resyncs] seconds of no-op resyncs (default 10), whose writes are counted (expected: 0).
 *
 *   node --import tsx bench/operator/operator.bench.ts --namespaces N
 *
 * N platforms in N namespaces, datastores external (a Secret with dummy URLs in each namespace), mesh off, the
 * operator a child process (the bundle the image runs, `operator/build.ts`; BENCH_OPERATOR_TSX=1 runs
 * `operator/src/main.ts` under tsx instead; all namespaces, RESYNC_SECONDS=300): time from creating all
 * of them to all Ready, and the operator's resident memory (VmRSS, peak VmHWM) sampled from /proc. The operator
 * runs with the heap flags the Helm chart sets (values.yaml, heap.*); BENCH_OPERATOR_NODE_OPTIONS replaces them.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { type KubeConfig, type KubernetesObject, Watch } from "@kubernetes/client-node";
import { load as loadYaml } from "js-yaml";
import { buildOperator } from "../../operator/build.ts";
import type { GaiaPlatform } from "../../operator/src/api/types.ts";
import { CHILD_TYPES, PLATFORM, resourcePath } from "../../operator/src/controller/resources.ts";
import { desired } from "../../operator/src/specs/desired.ts";
import { manifestKey } from "../../operator/src/specs/manifest.ts";
import { migrationJobName, specImage } from "../../operator/src/specs/migration.ts";
import {
  childWrites,
  controlPlane,
  externalDatastores,
  platformObject,
  runOperator,
  sleep,
  testClient,
  waitReady,
} from "../../operator/test/integration/support.ts";
import {
  CONTROL_PLANE_KUBECONFIG,
  freshNamespace,
  REPO_ROOT,
  type TestNamespace,
  waitFor,
} from "../../test/controlplane/harness.ts";
import { freePort } from "../../test/support/servers.ts";

const flag = process.argv.indexOf("--namespaces");
const namespaces = flag >= 0 ? Number(process.argv[flag + 1]) : 0;
const positional = process.argv
  .slice(2)
  .filter((_, i, all) => all[i - 1] !== "--namespaces" && !all[i]!.startsWith("--"));
const platforms = Number(positional[0] ?? 1);
const resyncs = Number(positional[1] ?? 10);

const kc = await controlPlane();
const client = testClient(kc);
const ms = (v: number | undefined) => (v === undefined ? "—" : `${Math.round(v)} ms`);
const span = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${Math.round(sorted[0]!)} / ${Math.round(median)} / ${Math.round(sorted.at(-1)!)} ms`;
};
const print = (rows: [string, string][]) => {
  for (const [label, value] of rows) console.log(`${label.padEnd(44)}${value}`);
};

/** First sight of every object of the watched kinds in a namespace, and of the migration's milestones. */
class Recorder {
  readonly firstSeen = new Map<string, number>();
  readonly marks = new Map<string, number>();
  private readonly aborts: AbortController[] = [];

  constructor(
    private readonly kc: KubeConfig,
    private readonly namespace: string,
  ) {}

  async start(): Promise<void> {
    const watch = new Watch(this.kc);
    const pods = { apiVersion: "v1", kind: "Pod", plural: "pods" };
    for (const type of [...CHILD_TYPES, pods, PLATFORM]) {
      const abort = await watch.watch(
        resourcePath(type, this.namespace),
        {},
        (_phase: string, object: KubernetesObject & { status?: Record<string, unknown> }) =>
          this.seen(type.kind, object),
        () => undefined,
      );
      this.aborts.push(abort);
    }
  }

  private mark(name: string): void {
    if (!this.marks.has(name)) this.marks.set(name, performance.now());
  }

  private seen(kind: string, object: KubernetesObject & { status?: Record<string, unknown> }): void {
    const key = manifestKey({ apiVersion: object.apiVersion ?? "", kind, metadata: object.metadata ?? {} });
    if (!this.firstSeen.has(key)) this.firstSeen.set(key, performance.now());
    const owner = object.metadata?.labels?.["job-name"] ?? object.metadata?.name ?? "";
    if (kind === "Job") {
      this.mark(`job created ${owner}`);
      const conditions = (object.status?.conditions ?? []) as { type: string; status: string }[];
      for (const c of conditions) if (c.status === "True") this.mark(`job ${c.type} ${owner}`);
    }
    if (kind === "Pod" && object.metadata?.labels?.["job-name"]) {
      this.mark(`job pod created ${owner}`);
      const phase = object.status?.phase as string | undefined;
      if (phase) this.mark(`job pod ${phase} ${owner}`);
    }
    if (kind === PLATFORM.kind) {
      const platform = object as GaiaPlatform;
      if (platform.status?.migratedImage) this.mark(`migrated ${platform.metadata.name}`);
    }
  }

  stop(): void {
    for (const abort of this.aborts) abort.abort();
  }
}

async function oneNamespace(): Promise<void> {
  const SPEC = {
    mesh: { linkerd: { enabled: true, policy: "strict" } },
    kb: { git: { url: "https://git.example/kb.git" } },
  };
  const ns = await freshNamespace(kc, "bench-operator");
  const recorder = new Recorder(kc, ns.name);
  await recorder.start();
  const operator = await runOperator(kc, ns.name, { workers: 2 });
  const names = Array.from({ length: platforms }, (_, i) => `bench-${i}`);

  try {
    await waitFor(() => operator.isLeader(), { description: "the operator to lead" });
    const start = performance.now();
    await Promise.all(names.map((name) => client.create(PLATFORM, platformObject(ns.name, SPEC, name))));
    const ready = await Promise.all(names.map((name) => waitReady(client, ns.name, name, 180_000)));
    const readyAt = performance.now() - start;
    await sleep(500);

    const since = (at: number | undefined) => (at === undefined ? undefined : at - start);
    const lastOf = (keys: string[]) => {
      const times = keys.map((key) => recorder.firstSeen.get(key));
      return times.some((t) => t === undefined) ? undefined : Math.max(...(times as number[]));
    };
    for (const platform of ready) {
      const image = specImage(platform);
      const job = migrationJobName(platform, image);
      // Before the migration: no services image, the Job wanted. After: every child the services need.
      const before = desired(platform, { migrationImage: image, configChecksum: "-" });
      const after = desired(platform, { servicesImage: image, configChecksum: "-" });
      const ungated = [...before.applied, ...before.created].map(manifestKey);
      const all = [...after.applied, ...after.created].map(manifestKey);
      const gated = all.filter((key) => !ungated.includes(key));
      const mark = (name: string) => since(recorder.marks.get(`${name} ${job}`));
      print([
        [`${platform.metadata.name}: children not gated (${ungated.length})`, ms(since(lastOf(ungated)))],
        ["  migration Job created", ms(mark("job created"))],
        ["  its pod created", ms(mark("job pod created"))],
        ["  its pod Running", ms(mark("job pod Running"))],
        ["  its pod Succeeded", ms(mark("job pod Succeeded"))],
        ["  Job SuccessCriteriaMet", ms(mark("job SuccessCriteriaMet"))],
        ["  Job Complete", ms(mark("job Complete"))],
        [
          "  status.migratedImage recorded",
          ms(since(recorder.marks.get(`migrated ${platform.metadata.name}`))),
        ],
        [
          `  first gated child (${gated.length}: ${[...new Set(gated.map((k) => k.split("/")[1]))].join(", ")})`,
          ms(since(Math.min(...gated.map((k) => recorder.firstSeen.get(k) ?? Number.POSITIVE_INFINITY)))),
        ],
        [`  all children (${all.length})`, ms(since(lastOf(all)))],
      ]);
    }
    print([["all Ready", ms(readyAt)]]);

    await sleep(2000);
    const sumReconciles = async () =>
      (await operator.metrics.reconciles.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await childWrites(operator);
    const reconcilesBefore = await sumReconciles();
    await sleep(resyncs * 1000);
    const after = await childWrites(operator);
    const reconcilesAfter = await sumReconciles();
    const writes = Object.keys(after).reduce(
      (sum, kind) => sum + (after[kind] ?? 0) - (before[kind] ?? 0),
      0,
    );
    const duration = (await operator.metrics.reconcileDuration.get()).values;
    const sum = duration.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
    const count = duration.find((v) => v.metricName?.endsWith("_count"))?.value ?? 1;
    print([
      ["platforms", `${platforms} (strict mesh policy, managed datastores)`],
      [`no-op reconciles in ${resyncs} s`, String(reconcilesAfter - reconcilesBefore)],
      ["writes during them", String(writes)],
      ["mean reconcile", `${((sum / count) * 1000).toFixed(1)} ms over ${count}`],
    ]);
  } finally {
    recorder.stop();
    // The platforms' finalizer needs the operator: let it finalize them before it stops.
    await Promise.all(names.map((name) => client.delete(PLATFORM, ns.name, name).catch(() => undefined)));
    await waitFor(
      async () =>
        (await Promise.all(names.map((name) => client.get(PLATFORM, ns.name, name)))).every((p) => !p),
      { timeoutMs: 60_000, intervalMs: 500, description: "the bench platforms to be gone" },
    ).catch((err: unknown) => console.error(String(err)));
    await operator.stop();
    await ns.cleanup();
  }
}

/** NODE_OPTIONS as the chart's Deployment sets it from the default values (templates/deployment.yaml). */
function chartNodeOptions(): string {
  const values = loadYaml(readFileSync(path.join(REPO_ROOT, "charts/gaia-operator/values.yaml"), "utf8")) as {
    heap: { oldSpaceMiB: number; semiSpaceMiB: number };
  };
  return `--max-old-space-size=${values.heap.oldSpaceMiB} --max-semi-space-size=${values.heap.semiSpaceMiB}`;
}

/** VmRSS and VmHWM of a process, in MiB. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

async function manyNamespaces(count: number): Promise<void> {
  const spaces: TestNamespace[] = [];
  let operator: ChildProcess | undefined;
  const samples: { at: number; rss: number }[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < count; i++) spaces.push(await freshNamespace(kc, `bench-op-${i}`));
    // Every namespace gets the same Secret, so one spec serves them all.
    const datastores = (await Promise.all(spaces.map((ns) => externalDatastores(client, ns.name))))[0]!;
    const spec = {
      mesh: { linkerd: { enabled: false } },
      kb: { git: { url: "https://git.example/kb.git" } },
      ...datastores,
    };

    const bundle = path.join(REPO_ROOT, ".gaia", "bench", "gaia-operator.mjs");
    await buildOperator(bundle);
    const port = await freePort();
    // The heap flags the Helm chart gives it; BENCH_OPERATOR_NODE_OPTIONS replaces them ("" for Node's defaults).
    const nodeOptions = process.env.BENCH_OPERATOR_NODE_OPTIONS ?? chartNodeOptions();
    // The operator as it ships (the image runs this bundle); BENCH_OPERATOR_TSX=1 runs the sources under tsx.
    const entry = process.env.BENCH_OPERATOR_TSX ? ["--import", "tsx", "operator/src/main.ts"] : [bundle];
    operator = spawn(process.execPath, entry, {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        KUBECONFIG: CONTROL_PLANE_KUBECONFIG,
        RESYNC_SECONDS: "300",
        METRICS_PORT: String(port),
        LEADER_ELECTION_NAMESPACE: spaces[0]!.name,
        LOG_LEVEL: "info",
        NODE_OPTIONS: nodeOptions,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const pid = operator.pid!;
    let started = false;
    operator.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("controller started")) started = true;
    });
    const t0 = performance.now();
    sampler = setInterval(() => {
      try {
        samples.push({ at: performance.now() - t0, rss: memory(pid).rss });
      } catch {}
    }, 250);
    await waitFor(() => started, { timeoutMs: 60_000, description: "the operator to start its controller" });
    const idle = memory(pid);

    const start = performance.now();
    await Promise.all(spaces.map((ns) => client.create(PLATFORM, platformObject(ns.name, spec, "gaia"))));
    const readyAt = new Map<string, number>();
    /** Each platform's Ready condition as it changes: what it waits for, and since when. */
    const progress = new Map<string, { at: number; state: string }[]>();
    await waitFor(
      async () => {
        const list = await client.list<GaiaPlatform>(PLATFORM);
        for (const p of list.items) {
          const ready = p.status?.conditions?.find((c) => c.type === "Ready");
          const state = `${ready?.reason ?? "-"}: ${ready?.message ?? ""}`.slice(0, 90);
          const seen = progress.get(p.metadata.namespace!) ?? [];
          if (seen.at(-1)?.state !== state) seen.push({ at: performance.now() - start, state });
          progress.set(p.metadata.namespace!, seen);
          if (
            ready?.status === "True" &&
            ready.observedGeneration === p.metadata.generation &&
            !readyAt.has(p.metadata.namespace!) &&
            spaces.some((ns) => ns.name === p.metadata.namespace)
          )
            readyAt.set(p.metadata.namespace!, performance.now() - start);
        }
        return readyAt.size === count;
      },
      { timeoutMs: 300_000, intervalMs: 250, description: `${count} platforms Ready` },
    );
    const atReady = memory(pid);
    const order = [...readyAt.entries()].sort((a, b) => a[1] - b[1]);
    for (const [label, entry] of [
      ["first", order[0]],
      ["last", order.at(-1)],
    ] as const) {
      console.log(`${label} Ready platform, its Ready condition over time:`);
      for (const step of progress.get(entry![0]) ?? [])
        console.log(`  ${ms(step.at).padStart(9)}  ${step.state}`);
    }
    await sleep(15_000);
    const settled = memory(pid);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const counter = (name: string) =>
      metrics
        .split("\n")
        .filter((line) => line.startsWith(name))
        .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
    const pods = await client.list({ apiVersion: "v1", kind: "Pod", plural: "pods" });
    print([
      ["platforms", `${count} in ${count} namespaces (external datastores, mesh off)`],
      ["Ready (first / median / last)", span([...readyAt.values()])],
      ["all Ready", ms(Math.max(...readyAt.values()))],
      ["operator RSS idle (controller started)", `${idle.rss.toFixed(0)} MiB`],
      ["operator RSS at all Ready", `${atReady.rss.toFixed(0)} MiB`],
      ["operator RSS 15 s later", `${settled.rss.toFixed(0)} MiB`],
      ["operator RSS max sampled (every 250 ms)", `${Math.max(...samples.map((s) => s.rss)).toFixed(0)} MiB`],
      ["operator peak RSS (VmHWM)", `${settled.hwm.toFixed(0)} MiB`],
      ["reconciles", String(counter("gaia_operator_reconcile_total"))],
      ["reconcile errors", String(counter("gaia_operator_reconcile_errors_total"))],
      [
        "mean reconcile",
        `${((counter("gaia_operator_reconcile_duration_seconds_sum") / counter("gaia_operator_reconcile_duration_seconds_count")) * 1000).toFixed(1)} ms`,
      ],
      ["API writes (incl. Lease, Event)", String(counter("gaia_operator_api_writes_total"))],
      ["pods in the cluster", String(pods.items.length)],
    ]);
  } finally {
    clearInterval(sampler);
    // The platforms' finalizer needs the operator: delete the platforms while it runs and wait for them to go,
    // then the namespaces, then stop it.
    await Promise.all(spaces.map((ns) => client.delete(PLATFORM, ns.name, "gaia").catch(() => undefined)));
    await waitFor(
      async () => {
        const left = await Promise.all(spaces.map((ns) => client.get(PLATFORM, ns.name, "gaia")));
        return left.every((p) => p === undefined);
      },
      { timeoutMs: 180_000, intervalMs: 1000, description: "the bench platforms to be gone" },
    ).catch((err: unknown) => console.error(String(err)));
    await Promise.all(spaces.map((ns) => ns.cleanup()));
    operator?.kill("SIGTERM");
  }
}

if (namespaces > 0) await manyNamespaces(namespaces);
else await oneNamespace();
