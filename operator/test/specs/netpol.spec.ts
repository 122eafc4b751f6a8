import assert from "node:assert/strict";
import type {
  V1LabelSelector,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1PodTemplateSpec,
} from "@kubernetes/client-node";
import type { GaiaPlatform } from "../../src/api/types.ts";
import { desired } from "../../src/specs/desired.ts";
import type { Manifest } from "../../src/specs/manifest.ts";
import { meshPolicy } from "../../src/specs/mesh.ts";
import { type NetworkPolicy, networkPolicies } from "../../src/specs/netpol.ts";
import { makePlatform } from "../support/platform.ts";

/**
 * The NetworkPolicies, judged by what they let through: a small evaluator of Kubernetes' ingress rules (label
 * selectors, namespaces, ports) runs every connection between the platform's pods, and from strangers, against
 * them. Traffic from a pod's own node (the kubelet's probes) is allowed by Kubernetes whatever the policies say,
 * so it is not modelled here.
 */

const NAMESPACE = "games";

/** A pod as a NetworkPolicy sees it. */
interface Pod {
  namespace: string;
  labels: Record<string, string>;
  /** Container ports: name → number. */
  ports: Map<string, number>;
}

/** Where a connection comes from: a pod, or an address outside the cluster (a browser, a load balancer). */
type Source = { pod: Pod } | { outside: true };

function selects(selector: V1LabelSelector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every((expression) => {
    const value = labels[expression.key];
    switch (expression.operator) {
      case "In":
        return value !== undefined && (expression.values ?? []).includes(value);
      case "NotIn":
        return value === undefined || !(expression.values ?? []).includes(value);
      case "Exists":
        return value !== undefined;
      case "DoesNotExist":
        return value === undefined;
      default:
        throw new Error(`unknown selector operator ${expression.operator}`);
    }
  });
  return byLabels && byExpressions;
}

/** Namespaces carry kubernetes.io/metadata.name and nothing else here. */
const namespaceLabels = (namespace: string) => ({ "kubernetes.io/metadata.name": namespace });

function peerAdmits(peer: V1NetworkPolicyPeer, policyNamespace: string, source: Source): boolean {
  if (peer.ipBlock) throw new Error("ipBlock peers are not modelled");
  if (!("pod" in source)) return false;
  const { pod } = source;
  const inNamespace = peer.namespaceSelector
    ? selects(peer.namespaceSelector, namespaceLabels(pod.namespace))
    : pod.namespace === policyNamespace;
  return inNamespace && (!peer.podSelector || selects(peer.podSelector, pod.labels));
}

function portAdmits(rule: V1NetworkPolicyPort, destination: Pod, port: number): boolean {
  if ((rule.protocol ?? "TCP") !== "TCP") return false;
  if (rule.port === undefined) return true;
  const first = typeof rule.port === "number" ? rule.port : destination.ports.get(rule.port);
  if (first === undefined) return false;
  return rule.endPort === undefined ? port === first : port >= first && port <= rule.endPort;
}

/** Whether a TCP connection from source to the destination pod's port is let in, by Kubernetes' rules. */
function admitted(policies: NetworkPolicy[], source: Source, destination: Pod, port: number): boolean {
  const isolating = policies.filter(
    (policy) =>
      policy.metadata?.namespace === destination.namespace &&
      selects(policy.spec.podSelector, destination.labels) &&
      (policy.spec.policyTypes ?? ["Ingress"]).includes("Ingress"),
  );
  if (isolating.length === 0) return true;
  return isolating.some((policy) =>
    (policy.spec.ingress ?? []).some(
      (rule) =>
        (!rule.from?.length ||
          rule.from.some((peer) => peerAdmits(peer, policy.metadata!.namespace!, source))) &&
        (!rule.ports?.length || rule.ports.some((p) => portAdmits(p, destination, port))),
    ),
  );
}

/**
 * The calls the platform makes, written out by hand (not from the operator's call list): caller, callee, the
 * callee's container port. "anyone" is every source there is: the platform's pods, other pods of the namespace,
 * pods of other namespaces, addresses outside the cluster.
 */
const ALLOWED: ReadonlyArray<readonly [from: string, to: string, port: number]> = [
  ["anyone", "gateway", 8666],
  ["anyone", "web", 8080],
  ["gateway", "auth", 8001],
  ["asset", "auth", 8001],
  ["chat", "auth", 8001],
  ["kb", "auth", 8001],
  ["gateway", "asset", 8002],
  ["gateway", "chat", 8003],
  ["gateway", "kb", 8004],
  ["chat", "kb", 8004],
  ["gateway", "postgres", 5432],
  ["auth", "postgres", 5432],
  ["asset", "postgres", 5432],
  ["chat", "postgres", 5432],
  ["kb", "postgres", 5432],
  ["web", "postgres", 5432],
  ["migrate", "postgres", 5432],
  ["gateway", "redis", 6379],
  ["auth", "redis", 6379],
  ["asset", "redis", 6379],
  ["chat", "redis", 6379],
  ["kb", "redis", 6379],
  ["web", "redis", 6379],
  ["gateway", "nats", 4222],
  ["auth", "nats", 4222],
  ["asset", "nats", 4222],
  ["chat", "nats", 4222],
  ["kb", "nats", 4222],
  ["web", "nats", 4222],
  ["nats", "nats", 6222],
];

/** Linkerd's proxy takes every meshed connection on this port, whichever port the caller dialled. */
const PROXY_INBOUND = 4143;

/** With the mesh on, a caller of any port of a workload also reaches that workload's proxy. */
function withMesh(allowed: typeof ALLOWED): typeof ALLOWED {
  const proxied = allowed.map(([from, to]) => `${from} ${to} ${PROXY_INBOUND}`);
  return [
    ...allowed,
    ...[...new Set(proxied)].map((line) => {
      const [from, to] = line.split(" ") as [string, string];
      return [from, to, PROXY_INBOUND] as const;
    }),
  ];
}

const WORKLOAD = "app.kubernetes.io/name";

/** The pods of the platform's Deployments, StatefulSets and its migration Job, by workload name. */
function podsOf(platform: GaiaPlatform): Map<string, Pod> {
  const all = desired(platform, { servicesImage: "r:1", migrationImage: "r:1", configChecksum: "x" });
  const pods = new Map<string, Pod>();
  for (const object of [...all.applied, ...all.created]) {
    if (!["Deployment", "StatefulSet", "Job"].includes(object.kind ?? "")) continue;
    const template = (object.spec as { template: V1PodTemplateSpec }).template;
    const labels = template.metadata!.labels!;
    const ports = new Map(
      template.spec!.containers.flatMap((c) => c.ports ?? []).map((p) => [p.name!, p.containerPort] as const),
    );
    pods.set(labels[WORKLOAD]!, { namespace: NAMESPACE, labels, ports });
  }
  return pods;
}

/** Every source worth trying: the platform's own pods and three strangers. */
function sources(pods: Map<string, Pod>): Map<string, Source> {
  const all = new Map<string, Source>([...pods].map(([name, pod]) => [name, { pod }]));
  all.set("a stranger in the namespace", {
    pod: { namespace: NAMESPACE, labels: { app: "debug" }, ports: new Map() },
  });
  // Labels are no passport across namespaces: a pod elsewhere that copies the gateway's labels is no gateway.
  all.set("a gateway look-alike in another namespace", {
    pod: { namespace: "elsewhere", labels: { ...pods.get("gateway")!.labels }, ports: new Map() },
  });
  all.set("an address outside the cluster", { outside: true });
  return all;
}

/** Every (source, destination, port) the policies admit, as "from → to:port" lines, sorted. */
function admittedLines(platform: GaiaPlatform): string[] {
  const policies = networkPolicies(platform);
  const pods = podsOf(platform);
  const lines: string[] = [];
  for (const [from, source] of sources(pods)) {
    for (const [to, destination] of pods) {
      // The ports the pod serves, its proxy's, and one nobody serves.
      const ports = new Set([...destination.ports.values(), PROXY_INBOUND, 9999]);
      for (const port of ports) {
        if (admitted(policies, source, destination, port)) lines.push(`${from} → ${to}:${port}`);
      }
    }
  }
  return lines.sort();
}

/** The expected lines for the platform's pods, "anyone" spelled out as every source. */
function expectedLines(allowed: typeof ALLOWED, platform: GaiaPlatform): string[] {
  const pods = podsOf(platform);
  const everyone = [...sources(pods).keys()];
  return allowed
    .filter(([, to]) => pods.has(to))
    .flatMap(([from, to, port]) =>
      (from === "anyone" ? everyone : [from]).map((source) => `${source} → ${to}:${port}`),
    )
    .sort();
}

const ALL_MANAGED = { nats: { managed: { replicas: 3 } } };

describe("specs/netpol", () => {
  it("admits exactly the calls the platform makes, and refuses every other pair of its pods", () => {
    const platform = makePlatform(ALL_MANAGED);
    assert.deepEqual(admittedLines(platform), expectedLines(ALLOWED, platform));
  });

  it("with Linkerd, also admits each caller to its callee's proxy port, and no one else", () => {
    for (const policy of ["strict", "permissive"]) {
      const platform = makePlatform({ ...ALL_MANAGED, mesh: { linkerd: { enabled: true, policy } } });
      assert.deepEqual(admittedLines(platform), expectedLines(withMesh(ALLOWED), platform), policy);
    }
  });

  it("enforces the same callers per port as the strict Linkerd policy", () => {
    const platform = makePlatform({ ...ALL_MANAGED, mesh: { linkerd: { enabled: true, policy: "strict" } } });
    const mesh = meshPolicy(platform);
    const policies = networkPolicies(platform);
    const pods = podsOf(platform);
    // biome-ignore lint/suspicious/noExplicitAny: reads the specs of Linkerd's objects, which have no types here.
    const spec = (object: Manifest) => object.spec as Record<string, any>;
    const servers = mesh.filter((o) => o.kind === "Server");
    assert.ok(servers.length > 0);
    for (const server of servers) {
      const workload = spec(server).podSelector.matchLabels[WORKLOAD] as string;
      const destination = pods.get(workload)!;
      const port = destination.ports.get(spec(server).port)!;
      const authentication = mesh.find(
        (o) => o.kind === "MeshTLSAuthentication" && o.metadata!.name === server.metadata!.name,
      );
      const byMesh = authentication
        ? spec(authentication)
            .identityRefs.map((ref: { name: string }) => ref.name.replace(/^gaia-/, ""))
            .sort()
        : [...pods.keys()].sort();
      const byNetworkPolicy = [...pods]
        .filter(([, pod]) => admitted(policies, { pod }, destination, port))
        .map(([name]) => name)
        .sort();
      assert.deepEqual(byNetworkPolicy, byMesh, `${workload}:${spec(server).port}`);
    }
  });

  it("isolates every pod of the platform, the migration Job's too, and no pod of anyone else", () => {
    const platform = makePlatform(ALL_MANAGED);
    const [denyAll] = networkPolicies(platform);
    assert.deepEqual(denyAll!.spec.ingress, undefined, "the default policy admits nothing");
    for (const [name, pod] of podsOf(platform)) {
      assert.ok(selects(denyAll!.spec.podSelector, pod.labels), `${name} is isolated`);
    }
    const others: Record<string, string>[] = [
      { app: "debug" },
      { "app.kubernetes.io/instance": "gaia", "app.kubernetes.io/name": "grafana" },
    ];
    for (const labels of others) {
      assert.ok(!selects(denyAll!.spec.podSelector, labels), JSON.stringify(labels));
    }
  });

  it("guards ports the pods serve, selecting one workload each, with owned and labelled objects", () => {
    const platform = makePlatform({ ...ALL_MANAGED, mesh: { linkerd: { enabled: true } } });
    const pods = podsOf(platform);
    const policies = networkPolicies(platform);
    for (const policy of policies.slice(1)) {
      const name = policy.metadata!.name!;
      const selected = [...pods].filter(([, pod]) => selects(policy.spec.podSelector, pod.labels));
      assert.equal(selected.length, 1, `${name} selects one workload`);
      const served = [...selected[0]![1].ports.values()];
      for (const rule of policy.spec.ingress!) {
        for (const { port } of rule.ports!) {
          assert.ok(
            port === PROXY_INBOUND || served.includes(port as number),
            `${name}: ${port} in ${served}`,
          );
        }
      }
    }
    for (const policy of policies) {
      assert.equal(policy.apiVersion, "networking.k8s.io/v1");
      assert.deepEqual(policy.spec.policyTypes, ["Ingress"], "ingress only: egress stays open");
      assert.equal(policy.spec.egress, undefined);
      assert.equal(policy.metadata!.namespace, NAMESPACE);
      assert.equal(policy.metadata!.labels!["app.kubernetes.io/component"], "network-policy");
      assert.equal(policy.metadata!.ownerReferences![0]!.kind, "GaiaPlatform");
    }
  });

  it("leaves external datastores and an unclustered NATS out, and keeps the rest of the graph", () => {
    const platform = makePlatform({
      postgres: { external: { secretRef: { name: "db", key: "url" } } },
      redis: { external: { secretRef: { name: "cache", key: "url" } } },
    });
    assert.ok(!podsOf(platform).has("postgres"));
    const expected = ALLOWED.filter(([, to, port]) => to !== "postgres" && to !== "redis" && port !== 6222);
    assert.deepEqual(admittedLines(platform), expectedLines(expected, platform));
    assert.deepEqual(
      networkPolicies(platform).map((p) => p.metadata!.name),
      [
        "gaia-default-deny",
        "gaia-gateway-http",
        "gaia-auth-http",
        "gaia-asset-http",
        "gaia-chat-http",
        "gaia-kb-http",
        "gaia-web-http",
        "gaia-nats-client",
      ],
    );
  });

  it("is on by default and writes nothing with spec.networkPolicy.enabled false", () => {
    assert.equal(makePlatform().spec.networkPolicy.enabled, true);
    assert.ok(
      desired(makePlatform(), { configChecksum: "x" }).applied.some((o) => o.kind === "NetworkPolicy"),
    );
    const off = makePlatform({ networkPolicy: { enabled: false } });
    assert.deepEqual(networkPolicies(off), []);
    assert.ok(!desired(off, { configChecksum: "x" }).applied.some((o) => o.kind === "NetworkPolicy"));
  });
});
