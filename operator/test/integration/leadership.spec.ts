import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import {
  CONTROL_PLANE_KUBECONFIG,
  freshNamespace,
  REPO_ROOT,
  type TestNamespace,
} from "../../../test/controlplane/harness.ts";
import type { KubeClient } from "../../src/controller/client.ts";
import { LEASE, PLATFORM } from "../../src/controller/resources.ts";
import type { RunningOperator } from "../../src/operator.ts";
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  controlPlane,
  platformObject,
  runOperator,
  sleep,
  testClient,
  waitFor,
  waitReady,
} from "./support.ts";

/** Leader election on the Lease, and a successor that finishes what a crashed operator started. */
describe("operator against a real API server: leadership", function () {
  this.timeout(180_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  const running: RunningOperator[] = [];
  const start = async (identity: string) => {
    const operator = await runOperator(kc, ns.name, { identity });
    running.push(operator);
    return operator;
  };
  // A Git remote keeps the kb off a volume.
  const SPEC = { kb: { git: { url: "https://git.example/kb.git" } } };

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-leader");
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((operator) => operator.stop()));
  });

  after(async () => {
    await ns?.cleanup();
  });

  it("lets exactly one of two operators lead, and hands over when the leader stops", async () => {
    const [a, b] = await Promise.all([start("candidate-a"), start("candidate-b")]);
    const leaders = () => [a, b].filter((o) => o!.isLeader());
    await waitFor(() => leaders().length === 1, { timeoutMs: 10_000, description: "a leader" });
    for (let i = 0; i < 10; i++) {
      assert.equal(leaders().length, 1, "never two leaders");
      await sleep(300);
    }
    const [leader] = leaders();
    const follower = leader === a ? b! : a!;
    await leader!.stop();
    running.splice(running.indexOf(leader!), 1);
    // Handed back, so the follower need not wait out its duration (decideLease takes a released Lease at once).
    const lease = await client.get<KubernetesObject & { spec: { holderIdentity?: string } }>(
      LEASE,
      ns.name,
      "gaia-operator",
    );
    assert.ok(
      [undefined, "", follower.identity].includes(lease?.spec.holderIdentity),
      `released by the stopped leader, held by ${lease?.spec.holderIdentity}`,
    );
    await waitFor(() => follower.isLeader(), { timeoutMs: 10_000, description: "the follower to take over" });

    await client.create(PLATFORM, platformObject(ns.name, SPEC, "led"));
    await waitReady(client, ns.name, "led");
  });

  it("converges after an operator dies mid-reconcile, once its Lease ran out", async () => {
    const first = await start("crashing");
    await waitFor(() => first.isLeader(), { timeoutMs: 10_000, description: "the first operator to lead" });
    await client.create(PLATFORM, platformObject(ns.name, SPEC, "survivor"));
    // Dies as soon as it has begun writing the platform's children, without releasing its Lease.
    await waitFor(async () => ((await first.metrics.writeCounts()).ServiceAccount ?? 0) > 0, {
      timeoutMs: 20_000,
      intervalMs: 20,
      description: "the first operator to start writing",
    });
    await first.stop({ abandon: true });
    running.splice(running.indexOf(first), 1);
    const writesAtDeath = await first.metrics.writeCounts();
    const diedAt = Date.now();
    const second = await start("successor");
    await waitFor(() => second.isLeader(), { timeoutMs: 15_000, description: "the successor to lead" });
    assert.ok(Date.now() - diedAt >= 2500, "the successor waited out the 3 s lease");
    await waitReady(client, ns.name, "survivor");
    assert.deepEqual(
      await first.metrics.writeCounts(),
      writesAtDeath,
      "the dead operator wrote nothing more",
    );
  });

  it("runs from main.ts and, on SIGTERM, stops and hands its Lease back", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "operator/src/main.ts"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        KUBECONFIG: process.env.GAIA_TEST_KUBECONFIG ?? CONTROL_PLANE_KUBECONFIG,
        WATCH_NAMESPACE: ns.name,
        LEADER_ELECTION_NAMESPACE: ns.name,
        POD_NAME: "main-under-test",
        METRICS_PORT: "0",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const lease = () =>
        client.get<KubernetesObject & { spec: { holderIdentity?: string } }>(LEASE, ns.name, "gaia-operator");
      await waitFor(async () => (await lease())?.spec.holderIdentity === "main-under-test", {
        timeoutMs: 30_000,
        description: "main.ts to take the Lease",
      });
      const port = Number(/"metricsPort":(\d+)/.exec(output)?.[1]);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      assert.equal(code, 0, output);
      assert.equal((await lease())?.spec.holderIdentity, "", "released");
      assert.match(output, /"msg":"shutting down"/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
