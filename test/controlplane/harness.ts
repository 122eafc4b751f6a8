/**
 * Mocha helpers for tests that need a real Kubernetes API: kube-apiserver, kube-controller-manager and
 * kube-scheduler on etcd, with kwok faking the kubelets (see test/controlplane/README.md).
 *
 *   before(async function () {
 *     this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
 *     kc = await startControlPlane();
 *   });
 *
 * startControlPlane() runs test/controlplane/up.sh once per test process; up.sh builds the binaries when
 * they are not cached yet (needs Go) and reuses a control plane that is already running. Set
 * GAIA_TEST_KUBECONFIG to run the tests against another cluster instead.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { registerCleanup } from "../support/servers.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

export const REPO_ROOT = path.resolve(here, "../..");
export const CONTROL_PLANE_DIR =
  process.env.GAIA_CONTROLPLANE_DIR ?? path.join(REPO_ROOT, ".gaia", "controlplane");
export const CONTROL_PLANE_KUBECONFIG = path.join(CONTROL_PLANE_DIR, "kubeconfig");
export const CONTROL_PLANE_BIN = path.join(CONTROL_PLANE_DIR, "bin");
/** Enough for a cold build of the binaries on a small machine; a warm start takes seconds. */
export const CONTROL_PLANE_START_TIMEOUT_MS = 60 * 60 * 1000;

let started: Promise<k8s.KubeConfig> | undefined;

/**
 * Starts the test control plane (or reuses the running one) and returns an admin KubeConfig.
 * Runs up.sh at most once per process; later calls share the result.
 */
export function startControlPlane(): Promise<k8s.KubeConfig> {
  started ??= start();
  // A failed start is not cached, so that a later suite reports the same failure with its output.
  started.catch(() => {
    started = undefined;
  });
  return started;
}

async function start(): Promise<k8s.KubeConfig> {
  const external = process.env.GAIA_TEST_KUBECONFIG;
  if (external) {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(external);
    return kc;
  }
  const reused = await runUpScript();
  // Tests leave the machine as they found it: a control plane this run started is stopped when the run
  // ends (GAIA_KEEP_CONTROLPLANE=1 keeps it for the next run); one that was already running stays.
  if (!reused && process.env.GAIA_KEEP_CONTROLPLANE !== "1") {
    registerCleanup(() => runScript("down.sh"), true);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(CONTROL_PLANE_KUBECONFIG);
  return kc;
}

function runScript(name: string): Promise<void> {
  return new Promise((resolve) => {
    spawn("bash", [path.join(here, name)], { cwd: REPO_ROOT, stdio: "ignore" }).on("close", () => resolve());
  });
}

/** Runs up.sh; answers whether it reused a control plane that was already running. */
function runUpScript(): Promise<boolean> {
  const script = path.join(here, "up.sh");
  const verbose = process.env.GAIA_CONTROLPLANE_VERBOSE === "1";
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        lines.push(line);
        if (lines.length > 400) lines.shift();
        // Build progress is worth seeing during a cold build of several minutes.
        if (verbose || /\[\d+\/\d+\]|ERROR|fix:/.test(line)) process.stderr.write(`    ${line}\n`);
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (err) => reject(new Error(`could not run ${script}: ${err.message}`)));
    child.on("close", (code) => {
      if (code === 0) {
        resolve(lines.some((line) => line.includes("reusing the running control plane")));
        return;
      }
      const tail = lines.slice(-60).join("\n");
      const goMissing = /Go .*(needed|too old)/.test(tail);
      reject(
        new Error(
          `The test Kubernetes control plane did not start (test/controlplane/up.sh exited with ${code}).\n` +
            (goMissing
              ? "Install Go (https://go.dev/dl/, see test/controlplane/README.md) so that the binaries can be " +
                "built, or set GAIA_TEST_KUBECONFIG to an existing cluster.\n"
              : "") +
            `Output:\n${tail}`,
        ),
      );
    });
  });
}

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Poll interval (default 250 ms). */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  description?: string;
}

/**
 * Polls `check` until it returns a value other than undefined, null or false, and returns that value.
 * Errors thrown by `check` count as "not yet" (e.g. a 404 while an object is being created); the last
 * one is reported on timeout.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value as T;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.description ?? "a condition"} (last: ${detail})`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The HTTP status of a failed API call, if it is one. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/** The message of a failed API call (the Status message from the server when there is one). */
export function apiMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    if (typeof body === "string") {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (parsed.message) return parsed.message;
      } catch {
        return body;
      }
      return body;
    }
    if (body && typeof body === "object" && "message" in body) return String(body.message);
  }
  return err instanceof Error ? err.message : String(err);
}

export interface TestNamespace {
  name: string;
  /** Deletes the namespace (in the background: kwok removes pods at once, the namespace controller the rest). */
  cleanup: () => Promise<void>;
}

/**
 * Creates a namespace with a unique name (`<prefix>-<random>`) and waits for its `default`
 * ServiceAccount, so that pods can be created in it right away.
 */
export async function freshNamespace(kc: k8s.KubeConfig, prefix = "test"): Promise<TestNamespace> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await recycleVolumes(kc).catch(() => undefined);
  const base =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "test";
  const name = `${base}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  await core.createNamespace({
    body: { metadata: { name, labels: { "gaia.test/ephemeral": "true" } } },
  });
  await waitFor(() => core.readNamespacedServiceAccount({ name: "default", namespace: name }), {
    timeoutMs: 30_000,
    description: `the default ServiceAccount in namespace ${name}`,
  });
  return {
    name,
    cleanup: async () => {
      try {
        await core.deleteNamespace({ name, propagationPolicy: "Background" });
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
      }
    },
  };
}

/**
 * The test control plane binds PersistentVolumeClaims to a pool of pre-created volumes. Volumes whose
 * claim was deleted stay Released; this makes them Available again. Called by freshNamespace.
 */
export async function recycleVolumes(kc: k8s.KubeConfig): Promise<number> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listPersistentVolume({ labelSelector: "gaia.test/pool=controlplane" });
  let recycled = 0;
  for (const pv of list.items) {
    if (pv.status?.phase !== "Released" || !pv.metadata?.name) continue;
    try {
      await core.patchPersistentVolume(
        { name: pv.metadata.name, body: [{ op: "remove", path: "/spec/claimRef" }] },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
      );
      recycled++;
    } catch {
      // Someone else recycled it.
    }
  }
  return recycled;
}

/**
 * Creates the objects, or updates them when they exist (server-side apply, field manager "gaia-test").
 * Handy for CRDs, which are cluster-scoped and survive between runs on a reused control plane.
 */
export async function applyObjects(kc: k8s.KubeConfig, objects: k8s.KubernetesObject[]): Promise<void> {
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    await client.patch(obj, undefined, undefined, "gaia-test", true, k8s.PatchStrategy.ServerSideApply);
  }
}

/** Waits until the CustomResourceDefinition is Established (its API is served). */
export async function waitForCrd(kc: k8s.KubeConfig, name: string, timeoutMs = 30_000): Promise<void> {
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await waitFor(
    async () => {
      const crd = await ext.readCustomResourceDefinition({ name });
      return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    },
    { timeoutMs, description: `CRD ${name} to be Established` },
  );
}
