import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  CONTROL_PLANE_KUBECONFIG,
  freshNamespace,
  type TestNamespace,
} from "../../../test/controlplane/harness.ts";
import { freePort } from "../../../test/support/servers.ts";
import { buildOperator } from "../../build.ts";
import type { KubeClient } from "../../src/controller/client.ts";
import { PLATFORM } from "../../src/controller/resources.ts";
import {
  CONTROL_PLANE_START_TIMEOUT_MS,
  controlPlane,
  deletePlatform,
  externalDatastores,
  platformObject,
  testClient,
  waitFor,
  waitReady,
} from "./support.ts";

/** Runs the bundle under plain Node, as the image does, collecting what it prints. */
function runBundle(bundle: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  for (const stream of [child.stdout!, child.stderr!])
    stream.on("data", (chunk: Buffer) => (output += chunk));
  return { child, output: () => output };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });

/** The operator as it ships: one file bundled by esbuild (operator/build.ts), run by plain Node. */
describe("operator against a real API server: the shipped bundle", function () {
  this.timeout(180_000);

  let kc: KubeConfig;
  let client: KubeClient;
  let ns: TestNamespace;
  let dir: string;
  let bundle: string;

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await controlPlane();
    client = testClient(kc);
    ns = await freshNamespace(kc, "op-bundle");
    dir = mkdtempSync(path.join(tmpdir(), "gaia-operator-bundle-"));
    bundle = path.join(dir, "gaia-operator.mjs");
    assert.ok((await buildOperator(bundle)) > 0, "the bundle has content");
  });

  after(async () => {
    await ns?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("stops with one line naming a bad setting, exit code 78", async () => {
    const run = runBundle(bundle, { RESYNC_SECONDS: "1" });
    assert.equal(await exited(run.child), 78);
    assert.equal(
      run.output(),
      'gaia-operator: configuration error: RESYNC_SECONDS: expected an integer from 10 to 86400 (got "1")\n',
    );
  });

  it("takes its Lease, serves /healthz and makes a platform Ready", async () => {
    const datastores = await externalDatastores(client, ns.name);
    const port = await freePort();
    const run = runBundle(bundle, {
      KUBECONFIG: CONTROL_PLANE_KUBECONFIG,
      WATCH_NAMESPACE: ns.name,
      LEADER_ELECTION_NAMESPACE: ns.name,
      METRICS_PORT: String(port),
      RESYNC_SECONDS: "10",
      NODE_OPTIONS: "--max-old-space-size=128 --max-semi-space-size=16",
    });
    try {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok,
        { timeoutMs: 15_000, description: `the bundle to serve /healthz (output: ${run.output()})` },
      );
      await client.create(
        PLATFORM,
        platformObject(ns.name, { mesh: { linkerd: { enabled: false } }, ...datastores }),
      );
      const platform = await waitReady(client, ns.name, "gaia", 120_000);
      assert.equal(platform.status?.migratedImage, "ghcr.io/example/gaia:0.1.0");
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, /^gaia_operator_reconcile_total\{[^}]*\} [1-9]/m);
      assert.doesNotMatch(run.output(), /"level":50|"level":60/, "no errors logged");
    } finally {
      await deletePlatform(client, ns.name);
      run.child.kill("SIGTERM");
      assert.equal(await exited(run.child), 0, `graceful stop; output: ${run.output()}`);
    }
  });
});
