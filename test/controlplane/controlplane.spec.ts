import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import {
  apiMessage,
  applyObjects,
  CONTROL_PLANE_BIN,
  CONTROL_PLANE_KUBECONFIG,
  CONTROL_PLANE_START_TIMEOUT_MS,
  freshNamespace,
  startControlPlane,
  type TestNamespace,
  waitFor,
  waitForCrd,
} from "./harness.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("test control plane", function () {
  this.timeout(120_000);

  let kc: k8s.KubeConfig;
  let ns: TestNamespace;

  before(async function () {
    this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
    kc = await startControlPlane();
    ns = await freshNamespace(kc, "controlplane");
  });

  after(async () => {
    await ns?.cleanup();
  });

  it("answers /readyz and reports the pinned version", async () => {
    assert.equal(await new k8s.Health(kc).readyz({}), true);
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    assert.match(version.gitVersion, /^v1\.\d+\.\d+/);
    assert.notEqual(version.gitVersion, "v0.0.0");
  });

  it("has Ready fake nodes with room for pods", async () => {
    const nodes = await kc.makeApiClient(k8s.CoreV1Api).listNode({ labelSelector: "type=kwok" });
    assert.ok(nodes.items.length >= 2, `expected at least 2 kwok nodes, got ${nodes.items.length}`);
    for (const node of nodes.items) {
      const ready = node.status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True", `node ${node.metadata?.name} is not Ready`);
      assert.ok(Number(node.status?.allocatable?.pods ?? 0) >= 100);
    }
  });

  it("makes a Deployment Available (scheduler, controller-manager and kwok)", async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const labels = { app: "web" };
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 3,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: "web",
                  image: "nginx:1.27",
                  resources: { requests: { cpu: "100m", memory: "64Mi" } },
                },
              ],
            },
          },
        },
      },
    });
    const deployment = await waitFor(
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "web", namespace: ns.name });
        const available = d.status?.conditions?.find((c) => c.type === "Available")?.status === "True";
        return available && d.status?.readyReplicas === 3 ? d : undefined;
      },
      { timeoutMs: 90_000, description: "Deployment web to become Available with 3 ready replicas" },
    );
    assert.equal(deployment.status?.availableReplicas, 3);

    const pods = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({
      namespace: ns.name,
      labelSelector: "app=web",
    });
    assert.equal(pods.items.length, 3);
    for (const pod of pods.items) {
      assert.equal(pod.status?.phase, "Running");
      assert.ok(pod.spec?.nodeName?.startsWith("kwok-node-"), "pod was scheduled onto a kwok node");
    }
  });

  it("makes a StatefulSet with a volumeClaimTemplate ready (PVC Bound)", async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const labels = { app: "db" };
    await core.createNamespacedService({
      namespace: ns.name,
      body: {
        metadata: { name: "db" },
        spec: { clusterIP: "None", selector: labels, ports: [{ name: "pg", port: 5432 }] },
      },
    });
    await apps.createNamespacedStatefulSet({
      namespace: ns.name,
      body: {
        metadata: { name: "db" },
        spec: {
          serviceName: "db",
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: "db",
                  image: "postgres:17",
                  volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
                },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "data" },
              spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
            },
          ],
        },
      },
    });
    await waitFor(
      async () => {
        const s = await apps.readNamespacedStatefulSet({ name: "db", namespace: ns.name });
        return s.status?.readyReplicas === 2;
      },
      { timeoutMs: 90_000, description: "StatefulSet db to have 2 ready replicas" },
    );
    const pvcs = await core.listNamespacedPersistentVolumeClaim({ namespace: ns.name });
    assert.deepEqual(pvcs.items.map((p) => p.metadata?.name).sort(), ["data-db-0", "data-db-1"]);
    for (const pvc of pvcs.items) {
      assert.equal(pvc.status?.phase, "Bound", `${pvc.metadata?.name} is ${pvc.status?.phase}`);
      assert.equal(pvc.spec?.storageClassName, "standard", "the default StorageClass was applied");
    }
  });

  it("mints a ServiceAccount token with the TokenRequest API that authenticates", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: "robot" } } });
    const request = await core.createNamespacedServiceAccountToken({
      name: "robot",
      namespace: ns.name,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = request.status?.token;
    assert.ok(token, "a token was issued");

    const cluster = kc.getCurrentCluster();
    assert.ok(cluster);
    const asRobot = new k8s.KubeConfig();
    asRobot.loadFromOptions({
      clusters: [cluster],
      users: [{ name: "robot", token }],
      contexts: [{ name: "robot", cluster: cluster.name, user: "robot" }],
      currentContext: "robot",
    });
    const review = await asRobot.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    });
    assert.equal(review.status?.userInfo?.username, `system:serviceaccount:${ns.name}:robot`);

    // RBAC is enforced: the ServiceAccount may not list nodes.
    await assert.rejects(asRobot.makeApiClient(k8s.CoreV1Api).listNode(), (err) => {
      assert.match(apiMessage(err), /forbidden/i);
      return true;
    });
  });

  it("enforces a CRD's CEL x-kubernetes-validations rule with its message", async () => {
    const group = "test.gaia.dev";
    const crd: k8s.V1CustomResourceDefinition = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget" },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    properties: {
                      minReplicas: { type: "integer" },
                      maxReplicas: { type: "integer" },
                    },
                    x_kubernetes_validations: [
                      {
                        rule: "self.minReplicas <= self.maxReplicas",
                        message: "minReplicas must not exceed maxReplicas",
                      },
                    ],
                  },
                },
              },
            },
          },
        ],
      },
    };
    await applyObjects(kc, [crd]);
    await waitForCrd(kc, `widgets.${group}`);

    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const widget = (name: string, minReplicas: number, maxReplicas: number) => ({
      group,
      version: "v1",
      namespace: ns.name,
      plural: "widgets",
      body: {
        apiVersion: `${group}/v1`,
        kind: "Widget",
        metadata: { name },
        spec: { minReplicas, maxReplicas },
      },
    });
    // The API may take a moment to serve a just-established CRD.
    await waitFor(() => custom.createNamespacedCustomObject(widget("good", 1, 3)), {
      timeoutMs: 30_000,
      description: "a valid Widget to be accepted",
    });
    await assert.rejects(custom.createNamespacedCustomObject(widget("bad", 5, 2)), (err) => {
      assert.equal((err as k8s.ApiException<unknown>).code, 422);
      assert.match(apiMessage(err), /minReplicas must not exceed maxReplicas/);
      return true;
    });
  });

  it("installs the Linkerd CRDs and accepts a Server, an AuthorizationPolicy and a MeshTLSAuthentication", async () => {
    const dir = path.join(here, "linkerd-crds");
    const crds = readdirSync(dir)
      .filter((f) => f.endsWith(".yaml"))
      .flatMap((f) => k8s.loadAllYaml(readFileSync(path.join(dir, f), "utf8")) as k8s.KubernetesObject[])
      .filter((o) => o?.kind === "CustomResourceDefinition");
    assert.ok(crds.length >= 5, `found ${crds.length} Linkerd CRDs`);
    await applyObjects(kc, crds);
    for (const crd of crds) await waitForCrd(kc, crd.metadata?.name ?? "");

    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const create = (version: string, plural: string, kind: string, name: string, spec: object) =>
      waitFor(
        () =>
          custom.createNamespacedCustomObject({
            group: "policy.linkerd.io",
            version,
            namespace: ns.name,
            plural,
            body: { apiVersion: `policy.linkerd.io/${version}`, kind, metadata: { name }, spec },
          }),
        { timeoutMs: 30_000, description: `${kind} ${name} to be accepted` },
      );

    await create("v1beta3", "servers", "Server", "gateway-http", {
      podSelector: { matchLabels: { app: "gateway" } },
      port: "http",
      proxyProtocol: "HTTP/1",
    });
    await create("v1alpha1", "meshtlsauthentications", "MeshTLSAuthentication", "gateway-clients", {
      identities: [`web.${ns.name}.serviceaccount.identity.linkerd.cluster.local`],
    });
    await create("v1alpha1", "authorizationpolicies", "AuthorizationPolicy", "gateway-http", {
      targetRef: { group: "policy.linkerd.io", kind: "Server", name: "gateway-http" },
      requiredAuthenticationRefs: [
        { group: "policy.linkerd.io", kind: "MeshTLSAuthentication", name: "gateway-clients" },
      ],
    });

    const server = (await custom.getNamespacedCustomObject({
      group: "policy.linkerd.io",
      version: "v1beta3",
      namespace: ns.name,
      plural: "servers",
      name: "gateway-http",
    })) as { spec: { port: string } };
    assert.equal(server.spec.port, "http");

    // The schema is enforced: a Server needs a port.
    await assert.rejects(
      custom.createNamespacedCustomObject({
        group: "policy.linkerd.io",
        version: "v1beta3",
        namespace: ns.name,
        plural: "servers",
        body: {
          apiVersion: "policy.linkerd.io/v1beta3",
          kind: "Server",
          metadata: { name: "no-port" },
          spec: { podSelector: { matchLabels: { app: "x" } } },
        },
      }),
      (err) => {
        assert.match(apiMessage(err), /port/);
        return true;
      },
    );
  });

  it("installs a Helm chart that requires a Kubernetes version (the binaries report their real version)", async function () {
    const helm = path.join(CONTROL_PLANE_BIN, "helm");
    if (process.env.GAIA_TEST_KUBECONFIG || !existsSync(helm)) this.skip();
    const chart = mkdtempSync(path.join(os.tmpdir(), "gaia-chart-"));
    try {
      mkdirSync(path.join(chart, "templates"));
      writeFileSync(
        path.join(chart, "Chart.yaml"),
        'apiVersion: v2\nname: probe\nversion: 0.1.0\nkubeVersion: ">=1.30.0-0"\n',
      );
      writeFileSync(
        path.join(chart, "templates", "configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n",
      );
      await promisify(execFile)(
        helm,
        [
          "install",
          "probe",
          chart,
          "--namespace",
          ns.name,
          "--kubeconfig",
          CONTROL_PLANE_KUBECONFIG,
          "--wait",
        ],
        {
          env: {
            ...process.env,
            HELM_CACHE_HOME: path.join(chart, ".cache"),
            HELM_CONFIG_HOME: path.join(chart, ".config"),
          },
        },
      );
    } finally {
      rmSync(chart, { recursive: true, force: true });
    }
    const cm = await kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedConfigMap({ name: "probe", namespace: ns.name });
    assert.match(cm.data?.kube ?? "", /^v1\.\d+\.\d+/);
  });
});
