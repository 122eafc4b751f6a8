/**
 * The operator against the test control plane (kube-apiserver, controller-manager, scheduler, kwok):
 * - time from creating a GaiaPlatform to all its children existing, and to Ready (kwok makes pods Ready at once,
 *   so this is the operator's and the control plane's share of an install, not image pulls);
 * - writes during a run of no-op resyncs (expected: 0);
 * - the mean duration of one reconcile.
 *
 *   node --import tsx bench/operator/operator.bench.ts [platforms] [resyncs]
 *
 * The platforms (default 3) are created at once, in one namespace, with managed datastores and the strict mesh
 * policy; the operator resyncs every second and the no-op window lasts [resyncs] seconds (default 10).
 */

import { performance } from "node:perf_hooks";
import type { GaiaPlatform } from "../../operator/src/api/types.ts";
import { CHILD_TYPES, PLATFORM } from "../../operator/src/controller/resources.ts";
import { desired } from "../../operator/src/specs/desired.ts";
import { instanceSelector } from "../../operator/src/specs/labels.ts";
import {
  childWrites,
  controlPlane,
  getPlatform,
  platformObject,
  runOperator,
  sleep,
  testClient,
  waitReady,
} from "../../operator/test/integration/support.ts";
import { freshNamespace, waitFor } from "../../test/controlplane/harness.ts";

const platforms = Number(process.argv[2] ?? 3);
const resyncs = Number(process.argv[3] ?? 10);
const SPEC = {
  mesh: { linkerd: { enabled: true, policy: "strict" } },
  kb: { git: { url: "https://git.example/kb.git" } },
};

const kc = await controlPlane();
const client = testClient(kc);
const ns = await freshNamespace(kc, "bench-operator");
const operator = await runOperator(kc, ns.name, { workers: 2 });
const names = Array.from({ length: platforms }, (_, i) => `bench-${i}`);

try {
  await waitFor(() => operator.isLeader(), { description: "the operator to lead" });
  const start = performance.now();
  await Promise.all(names.map((name) => client.create(PLATFORM, platformObject(ns.name, SPEC, name))));

  /** Children of a platform that exist, against how many its desired state has once migrated. */
  const complete = async (name: string) => {
    const platform = (await getPlatform(client, ns.name, name)) as GaiaPlatform;
    if (!platform?.metadata.uid) return false;
    const image = `${platform.spec.image.repository}:${platform.spec.image.tag}`;
    const want = desired(platform, { servicesImage: image, configChecksum: "-" }).applied.length;
    let have = 0;
    for (const type of CHILD_TYPES) {
      if (type.kind === "Secret" || type.kind === "PersistentVolumeClaim") continue;
      have += (await client.list(type, ns.name, instanceSelector(platform))).items.length;
    }
    return have >= want;
  };

  const childrenAt = await Promise.all(
    names.map(async (name) => {
      await waitFor(() => complete(name), {
        timeoutMs: 120_000,
        intervalMs: 100,
        description: `${name}'s children`,
      });
      return performance.now() - start;
    }),
  );
  const readyAt = await Promise.all(
    names.map(async (name) => {
      await waitReady(client, ns.name, name, 180_000);
      return performance.now() - start;
    }),
  );

  await sleep(2000);
  const before = await childWrites(operator);
  const reconcilesBefore = (await operator.metrics.reconciles.get()).values.reduce(
    (sum, v) => sum + v.value,
    0,
  );
  await sleep(resyncs * 1000);
  const after = await childWrites(operator);
  const reconcilesAfter = (await operator.metrics.reconciles.get()).values.reduce(
    (sum, v) => sum + v.value,
    0,
  );
  const writes = Object.keys(after).reduce((sum, kind) => sum + (after[kind] ?? 0) - (before[kind] ?? 0), 0);
  const duration = (await operator.metrics.reconcileDuration.get()).values;
  const sum = duration.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
  const count = duration.find((v) => v.metricName?.endsWith("_count"))?.value ?? 1;

  const ms = (values: number[]) =>
    `${Math.round(Math.min(...values))}..${Math.round(Math.max(...values))} ms`;
  const rows: [string, string][] = [
    ["platforms", `${platforms} (strict mesh policy, managed datastores)`],
    ["all children created", ms(childrenAt)],
    ["Ready", ms(readyAt)],
    [`no-op reconciles in ${resyncs} s`, String(reconcilesAfter - reconcilesBefore)],
    ["writes during them", String(writes)],
    ["mean reconcile", `${((sum / count) * 1000).toFixed(1)} ms over ${count}`],
  ];
  for (const [label, value] of rows) console.log(`${label.padEnd(28)}${value}`);
} finally {
  await operator.stop();
  await ns.cleanup();
}
