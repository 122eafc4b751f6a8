/**
 * The gaia-operator Helm chart against a real kube-apiserver (the test control plane, kwok faking the kubelets):
 * its CRD is the one in crds/, `helm lint` is clean, the rendered manifests pass a server-side dry-run, `helm
 * install` creates every object, and the RBAC it grants is enough for the operator and no more: the operator runs
 * in this process with a token of the chart's ServiceAccount and brings a platform (with Linkerd policy) to Ready,
 * while access reviews show what that token cannot do.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import { pino } from "pino";
import { type RunningOperator, startOperator } from "../../operator/src/index.ts";
import {
  applyObjects,
  CONTROL_PLANE_BIN,
  CONTROL_PLANE_KUBECONFIG,
  CONTROL_PLANE_START_TIMEOUT_MS,
  freshNamespace,
  REPO_ROOT,
  startControlPlane,
  type TestNamespace,
  waitFor,
  waitForCrd,
} from "../controlplane/harness.ts";

const CHART = path.join(REPO_ROOT, "charts", "gaia-operator");
const HELM = path.join(CONTROL_PLANE_BIN, "helm");
const KUBECTL = path.join(CONTROL_PLANE_BIN, "kubectl");
const KUBECONFIG = process.env.GAIA_TEST_KUBECONFIG ?? CONTROL_PLANE_KUBECONFIG;
const KUBE_VERSION = "1.34.0";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env: { ...process.env, KUBECONFIG }, timeout: 180_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function helm(args: string[]): Promise<string> {
  const result = await run(HELM, args);
  assert.equal(result.code, 0, `helm ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

function template(release: string, namespace: string, values: string[] = []): Promise<string> {
  return helm([
    "template",
    release,
    CHART,
    "--namespace",
    namespace,
    "--kube-version",
    KUBE_VERSION,
    ...values,
  ]);
}

/** Plain objects (not client-node's classes), as kubectl would send them. */
const parse = (yaml: string) => (loadAll(yaml) as k8s.KubernetesObject[]).filter(Boolean);

/** A kubeconfig for the same API server, authenticated with a bearer token. */
function tokenKubeConfig(admin: k8s.KubeConfig, token: string): k8s.KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("the admin kubeconfig has no current cluster");
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: "cluster",
        server: cluster.server,
        caData: cluster.caData,
        caFile: cluster.caFile,
        skipTLSVerify: cluster.skipTLSVerify,
      },
    ],
    users: [{ name: "operator", token }],
    contexts: [{ name: "operator", cluster: "cluster", user: "operator" }],
    currentContext: "operator",
  });
  return kc;
}

/** The chart's ServiceAccount as a kubeconfig: a short-lived token from the TokenRequest API. */
async function serviceAccountKubeConfig(admin: k8s.KubeConfig, namespace: string, name: string) {
  const request = await admin.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  assert.ok(token, "the TokenRequest returned no token");
  return tokenKubeConfig(admin, token);
}

type Attributes = k8s.V1ResourceAttributes;

/** Whether the kubeconfig's user may do it, as the API server's authorizer says (SelfSubjectAccessReview). */
async function allowed(kc: k8s.KubeConfig, attributes: Attributes): Promise<boolean> {
  const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: attributes } },
  });
  return review.status?.allowed === true;
}

const describeAttributes = (a: Attributes) =>
  `${a.verb} ${a.group ? `${a.group}/` : ""}${a.resource}${a.subresource ? `/${a.subresource}` : ""}` +
  `${a.name ? ` ${a.name}` : ""} in ${a.namespace ? `namespace ${a.namespace}` : "all namespaces / cluster"}`;

async function assertAccess(kc: k8s.KubeConfig, expected: boolean, cases: Attributes[]) {
  const wrong: string[] = [];
  for (const attributes of cases) {
    if ((await allowed(kc, attributes)) !== expected) wrong.push(describeAttributes(attributes));
  }
  assert.deepEqual(wrong, [], `expected ${expected ? "allowed" : "denied"} but was not`);
}

function crdsIn(file: string): k8s.KubernetesObject[] {
  // client-node's own parser: applyObjects serializes its typed objects (x-kubernetes-* fields included).
  return (k8s.loadAllYaml(readFileSync(file, "utf8")) as k8s.KubernetesObject[]).filter(
    (o) => o?.kind === "CustomResourceDefinition",
  );
}

/** Gaia's CRD (the chart's copy) and Linkerd's policy CRDs, so that the operator manages mesh policy too. */
async function installCrds(kc: k8s.KubeConfig) {
  const linkerd = path.join(REPO_ROOT, "test", "controlplane", "linkerd-crds");
  const crds = [
    ...crdsIn(path.join(CHART, "crds", "gaia.dev_gaiaplatforms.yaml")),
    ...readdirSync(linkerd)
      .filter((file) => file.endsWith(".yaml"))
      .flatMap((file) => crdsIn(path.join(linkerd, file))),
  ];
  await applyObjects(kc, crds);
  for (const crd of crds) await waitForCrd(kc, crd.metadata!.name!);
}

const PLATFORM = { group: "gaia.dev", version: "v1alpha1", plural: "gaiaplatforms" };

interface Platform extends k8s.KubernetesObject {
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; message: string }[] };
}

async function readPlatform(kc: k8s.KubeConfig, namespace: string, name: string): Promise<Platform> {
  return (await kc
    .makeApiClient(k8s.CustomObjectsApi)
    .getNamespacedCustomObject({ ...PLATFORM, namespace, name })) as Platform;
}

/** Creates a platform with Linkerd's strict policy (so that every kind of child is written). */
async function createPlatform(kc: k8s.KubeConfig, namespace: string, name: string) {
  await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...PLATFORM,
    namespace,
    body: {
      apiVersion: "gaia.dev/v1alpha1",
      kind: "GaiaPlatform",
      metadata: { name, namespace },
      spec: {
        image: { repository: "localhost/gaia/gaia", tag: "0.1.0" },
        mesh: { linkerd: { enabled: true, policy: "strict" } },
        exposure: { gateway: { serviceType: "NodePort" } },
        retainPolicy: "Delete",
      },
    },
  });
}

async function waitReady(kc: k8s.KubeConfig, namespace: string, name: string): Promise<Platform> {
  return waitFor(
    async () => {
      const platform = await readPlatform(kc, namespace, name);
      const ready = platform.status?.conditions?.find((c) => c.type === "Ready");
      return (
        ready?.status === "True" &&
        platform.status?.observedGeneration === platform.metadata?.generation &&
        platform
      );
    },
    { timeoutMs: 120_000, description: `GaiaPlatform ${namespace}/${name} to be Ready` },
  );
}

/** Deletes the platform and waits until the operator has finalized it (so its namespace can go). */
async function deletePlatform(kc: k8s.KubeConfig, namespace: string, name: string) {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  try {
    await api.deleteNamespacedCustomObject({ ...PLATFORM, namespace, name });
  } catch (error) {
    if (error instanceof k8s.ApiException && error.code === 404) return;
    throw error;
  }
  await waitFor(
    async () => {
      try {
        await readPlatform(kc, namespace, name);
        return false;
      } catch (error) {
        return error instanceof k8s.ApiException && error.code === 404;
      }
    },
    { timeoutMs: 60_000, description: `GaiaPlatform ${namespace}/${name} to be finalized` },
  );
}

interface OperatorRun {
  operator: RunningOperator;
  /** The operator's warnings and errors (JSON lines): a refused request shows up here, even one it tolerates. */
  problems: string[];
}

async function runOperator(
  kc: k8s.KubeConfig,
  leaseNamespace: string,
  namespace?: string,
): Promise<OperatorRun> {
  const problems: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      problems.push(chunk.toString("utf8"));
      done();
    },
  });
  const operator = await startOperator({
    kubeConfig: kc,
    namespace,
    leaseNamespace,
    metricsPort: 0,
    resyncSeconds: 2,
    leaseDurationSeconds: 3,
    renewDeadlineSeconds: 2,
    retryPeriodSeconds: 0.5,
    backoff: { baseMs: 200, maxMs: 2000 },
    logger: pino({ name: "gaia-operator-chart-test", level: "warn" }, sink),
  });
  return { operator, problems };
}

/** Runs a platform through its life with the operator's credentials: Ready, Events recorded, finalized. */
async function reconcileToReady(admin: k8s.KubeConfig, run: OperatorRun, platformNs: string) {
  try {
    await createPlatform(admin, platformNs, "gaia");
    await waitReady(admin, platformNs, "gaia");
    const servers = (await admin.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({
      group: "policy.linkerd.io",
      version: "v1beta3",
      plural: "servers",
      namespace: platformNs,
    })) as { items: unknown[] };
    assert.ok(servers.items.length > 0, "Linkerd Servers written");
    const events = await admin.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace: platformNs });
    const reasons = new Set(events.items.map((event) => event.reason));
    for (const reason of ["SecretGenerated", "MigrationStarted", "Ready"]) {
      assert.ok(reasons.has(reason), `Event ${reason} recorded (got ${[...reasons].join(", ")})`);
    }
    await deletePlatform(admin, platformNs, "gaia");
  } finally {
    await run.operator.stop();
  }
  const refused = run.problems.filter((line) => /forbidden|\b403\b/i.test(line));
  assert.deepEqual(refused, [], "the API server refused none of the operator's requests");
}

/** What no operator of Gaia needs, whichever way it is installed. */
function neverAllowed(releaseNamespace: string, platformNamespace: string): Attributes[] {
  return [
    { verb: "delete", resource: "namespaces", name: platformNamespace },
    { verb: "create", resource: "namespaces" },
    { verb: "get", resource: "nodes" },
    { verb: "list", resource: "nodes" },
    { verb: "patch", resource: "nodes", name: "kwok-node-1" },
    { verb: "delete", resource: "customresourcedefinitions", group: "apiextensions.k8s.io" },
    { verb: "create", resource: "clusterroles", group: "rbac.authorization.k8s.io" },
    {
      verb: "create",
      resource: "rolebindings",
      group: "rbac.authorization.k8s.io",
      namespace: platformNamespace,
    },
    { verb: "create", resource: "pods", namespace: platformNamespace },
    { verb: "create", resource: "pods", subresource: "exec", namespace: platformNamespace },
    { verb: "list", resource: "pods", namespace: platformNamespace },
    { verb: "update", resource: "gaiaplatforms", group: "gaia.dev", namespace: platformNamespace },
    { verb: "patch", resource: "persistentvolumeclaims", namespace: platformNamespace },
    {
      verb: "update",
      resource: "leases",
      group: "coordination.k8s.io",
      namespace: releaseNamespace,
      name: "someone-else",
    },
    { verb: "create", resource: "leases", group: "coordination.k8s.io", namespace: "kube-system" },
  ];
}

describe("helm chart gaia-operator", function () {
  this.timeout(180_000);

  // helm comes with the control plane's binaries (test/controlplane/up.sh links them), so every test here,
  // offline ones included, runs after it has started; a second call inside reuses it.
  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    await startControlPlane();
  });

  it("carries a byte-identical copy of crds/gaia.dev_gaiaplatforms.yaml (run `make chart-crds` after editing it)", () => {
    const source = readFileSync(path.join(REPO_ROOT, "crds", "gaia.dev_gaiaplatforms.yaml"), "utf8");
    const copy = readFileSync(path.join(CHART, "crds", "gaia.dev_gaiaplatforms.yaml"), "utf8");
    assert.ok(copy === source, "charts/gaia-operator/crds/ differs from crds/: run `make chart-crds`");
    assert.deepEqual(readdirSync(path.join(CHART, "crds")), ["gaia.dev_gaiaplatforms.yaml"]);
  });

  it("passes helm lint without warnings, by default and with every option on", async () => {
    for (const values of [
      [],
      [
        "--set",
        "watchNamespace=games",
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "platform.enabled=true",
        "--set",
        "imagePullSecrets[0]=registry",
        "--set",
        "replicaCount=2",
      ],
    ]) {
      const output = await helm(["lint", CHART, "--strict", ...values]);
      assert.match(output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(output, /\[(WARNING|ERROR)\]/);
    }
  });

  it("renders with `helm template` alone: without a cluster or --kube-version, helm assumes its build's Kubernetes", async () => {
    const output = await helm(["template", "gaia", CHART, "--namespace", "gaia-system"]);
    assert.ok(parse(output).some((object) => object.kind === "Deployment"));
  });

  it("refuses values its schema does not allow", async () => {
    for (const values of [
      ["--set", "logLevel=loud"],
      ["--set", "watchNamespace=Not_A_Namespace"],
      ["--set", "image.pullPolicy=Sometimes"],
      ["--set", "heap.oldSpaceMiB=16"],
      ["--set", "platform.enabled=true", "--set", "platform.spec.image=null"],
      ["--set", "unknownKey=1"],
    ]) {
      const result = await run(HELM, ["template", "t", CHART, "--kube-version", KUBE_VERSION, ...values]);
      assert.notEqual(result.code, 0, `helm template accepted ${values.join(" ")}`);
      assert.match(result.stderr, /values don't meet the specifications of the schema|schema/i);
    }
  });

  it("renders a locked-down operator Deployment and a ServiceMonitor that selects its metrics Service", async () => {
    const objects = parse(
      await template("gaia", "gaia-system", ["--set", "metrics.serviceMonitor.enabled=true"]),
    );
    const deployment = objects.find((o) => o.kind === "Deployment") as k8s.V1Deployment;
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    assert.equal(container.image, "ghcr.io/example/gaia-operator:0.1.0");
    assert.ok(container.resources?.requests?.memory && container.resources.limits?.memory);
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      assert.deepEqual(probe?.httpGet, { path: "/healthz", port: "metrics" });
    }
    const env = new Map(container.env!.map((e) => [e.name, e]));
    assert.equal(env.get("POD_NAME")?.valueFrom?.fieldRef?.fieldPath, "metadata.name");
    assert.equal(env.get("POD_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath, "metadata.namespace");
    assert.equal(env.get("LEADER_ELECTION_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath, "metadata.namespace");
    assert.equal(env.get("WATCH_NAMESPACE")?.value, "");
    // The heap is bounded, and within the container's memory limit with room for the young generation and code.
    assert.equal(env.get("NODE_OPTIONS")?.value, "--max-old-space-size=128 --max-semi-space-size=16");
    assert.equal(container.resources!.limits!.memory, "256Mi");
    const bigger = parse(await template("gaia", "gaia-system", ["--set", "heap.oldSpaceMiB=512"]));
    const biggerEnv = (bigger.find((o) => o.kind === "Deployment") as k8s.V1Deployment).spec!.template.spec!
      .containers[0]!.env!;
    assert.equal(
      biggerEnv.find((e) => e.name === "NODE_OPTIONS")?.value,
      "--max-old-space-size=512 --max-semi-space-size=16",
    );

    const service = objects.find((o) => o.kind === "Service") as k8s.V1Service;
    const monitor = objects.find((o) => o.kind === "ServiceMonitor") as k8s.KubernetesObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
    };
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) {
      assert.equal(service.metadata!.labels![key], value, `the metrics Service carries ${key}=${value}`);
    }
    assert.equal(monitor.spec.endpoints[0]!.port, service.spec!.ports![0]!.name);
    assert.equal(service.spec!.ports![0]!.targetPort, "metrics");
  });

  describe("against the API server", () => {
    let admin: k8s.KubeConfig;
    const namespaces: TestNamespace[] = [];
    const releases: { name: string; namespace: string }[] = [];

    const namespace = async (prefix: string) => {
      const ns = await freshNamespace(admin, prefix);
      namespaces.push(ns);
      return ns.name;
    };
    const install = async (namespace: string, values: string[] = []) => {
      const name = `gaia-op-${randomBytes(3).toString("hex")}`;
      releases.push({ name, namespace });
      await helm([
        "install",
        name,
        CHART,
        "--namespace",
        namespace,
        "--set",
        "image.repository=localhost/gaia/gaia-operator",
        ...values,
        "--wait",
        "--timeout",
        "120s",
      ]);
      return { name, fullname: `${name}-gaia-operator` };
    };

    before(async function () {
      this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
      admin = await startControlPlane();
      await installCrds(admin);
    });

    after(async function () {
      this.timeout(120_000);
      for (const release of releases.reverse()) {
        await run(HELM, ["uninstall", release.name, "--namespace", release.namespace, "--wait"]);
      }
      for (const ns of namespaces) await ns.cleanup();
    });

    it("accepts the rendered manifests in a server-side dry-run, cluster-wide and namespace-scoped", async () => {
      const ns = await namespace("chart-dry-run");
      for (const values of [
        [],
        ["--set", `watchNamespace=${ns}`, "--set", "platform.enabled=true", "--set", "replicaCount=2"],
      ]) {
        const rendered = await template("dry", ns, values);
        const result = await run(KUBECTL, ["apply", "--dry-run=server", "-f", "-"], rendered);
        assert.equal(result.code, 0, `the API server refused:\n${result.stderr}`);
        const kinds = parse(rendered).map((o) => o.kind);
        for (const line of result.stdout.trim().split("\n")) assert.match(line, /\(server dry run\)$/);
        assert.equal(result.stdout.trim().split("\n").length, kinds.length);
      }
    });

    it("installs every object it renders, and the operator Deployment becomes Available", async () => {
      const ns = await namespace("chart-install");
      const { name, fullname } = await install(ns);
      const manifest = await helm(["get", "manifest", name, "--namespace", ns]);
      const objects = parse(manifest);
      assert.deepEqual(objects.map((o) => o.kind).sort(), [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
      ]);
      const client = k8s.KubernetesObjectApi.makeApiClient(admin);
      for (const object of objects) {
        const live = await client.read({
          apiVersion: object.apiVersion!,
          kind: object.kind!,
          metadata: { name: object.metadata!.name!, namespace: object.metadata!.namespace },
        });
        assert.equal(live.metadata?.labels?.["app.kubernetes.io/instance"], name, `${object.kind} labelled`);
      }
      const deployment = await admin
        .makeApiClient(k8s.AppsV1Api)
        .readNamespacedDeployment({ name: fullname, namespace: ns });
      assert.equal(deployment.status?.availableReplicas, 1);
      const notes = await helm(["get", "notes", name, "--namespace", ns]);
      assert.match(notes, /kubectl apply -n games -f examples\/gaiaplatform\.yaml/);
    });

    it("cluster-wide: the ServiceAccount's permissions reconcile a platform to Ready, and no more", async function () {
      this.timeout(300_000);
      const releaseNs = await namespace("chart-rbac-op");
      const platformNs = await namespace("chart-rbac-games");
      const { fullname } = await install(releaseNs);
      const operatorKc = await serviceAccountKubeConfig(admin, releaseNs, fullname);

      await assertAccess(operatorKc, true, [
        { verb: "watch", resource: "gaiaplatforms", group: "gaia.dev" },
        {
          verb: "patch",
          resource: "gaiaplatforms",
          subresource: "status",
          group: "gaia.dev",
          namespace: platformNs,
        },
        { verb: "create", resource: "deployments", group: "apps", namespace: platformNs },
        { verb: "list", resource: "secrets" },
        {
          verb: "update",
          resource: "leases",
          group: "coordination.k8s.io",
          namespace: releaseNs,
          name: "gaia-operator",
        },
      ]);
      await assertAccess(operatorKc, false, neverAllowed(releaseNs, platformNs));

      await reconcileToReady(admin, await runOperator(operatorKc, releaseNs), platformNs);
    });

    it("namespace-scoped (watchNamespace): a Role is enough for Ready, and nothing outside that namespace is allowed", async function () {
      this.timeout(300_000);
      const releaseNs = await namespace("chart-ns-op");
      const platformNs = await namespace("chart-ns-games");
      const otherNs = await namespace("chart-ns-other");
      const { name, fullname } = await install(releaseNs, ["--set", `watchNamespace=${platformNs}`]);
      const manifest = parse(await helm(["get", "manifest", name, "--namespace", releaseNs]));
      assert.ok(!manifest.some((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding"));
      const operatorKc = await serviceAccountKubeConfig(admin, releaseNs, fullname);

      await assertAccess(operatorKc, true, [
        { verb: "watch", resource: "gaiaplatforms", group: "gaia.dev", namespace: platformNs },
        { verb: "list", resource: "secrets", namespace: platformNs },
      ]);
      await assertAccess(operatorKc, false, [
        ...neverAllowed(releaseNs, platformNs),
        { verb: "list", resource: "gaiaplatforms", group: "gaia.dev" },
        { verb: "list", resource: "secrets" },
        { verb: "get", resource: "secrets", namespace: otherNs, name: "anything" },
        { verb: "list", resource: "secrets", namespace: releaseNs },
        { verb: "create", resource: "deployments", group: "apps", namespace: otherNs },
        { verb: "create", resource: "events", group: "events.k8s.io", namespace: otherNs },
      ]);

      await reconcileToReady(admin, await runOperator(operatorKc, releaseNs, platformNs), platformNs);
    });
  });
});
