import assert from "node:assert/strict";
import type { V1PodTemplateSpec } from "@kubernetes/client-node";
import { desired } from "../../src/specs/desired.ts";
import type { Manifest } from "../../src/specs/manifest.ts";
import { jobMeshAnnotations, meshPolicy, podMeshAnnotations } from "../../src/specs/mesh.ts";
import { makePlatform } from "../support/platform.ts";

// biome-ignore lint/suspicious/noExplicitAny: reads the specs of Linkerd's objects, which have no types here.
type Spec = Record<string, any>;

/**
 * Who may call whom under the strict policy, written out by hand: callee port → callers ("*": anyone, the entry
 * points). The tests compare it with what the generated Linkerd objects admit, read back out of them.
 */
const WHO_MAY_CALL_WHOM: Record<string, string[] | "*"> = {
  "gateway:http": "*",
  "web:http": "*",
  "auth:http": ["asset", "chat", "gateway", "kb"],
  "asset:http": ["gateway"],
  "chat:http": ["gateway"],
  "kb:http": ["chat", "gateway"],
  "postgres:postgres": ["asset", "auth", "chat", "gateway", "kb", "migrate", "web"],
  "redis:redis": ["asset", "auth", "chat", "gateway", "kb", "web"],
  "nats:client": ["asset", "auth", "chat", "gateway", "kb", "web"],
  "nats:cluster": ["nats"],
};

const STRICT = { mesh: { linkerd: { enabled: true, policy: "strict" } }, nats: { managed: { replicas: 3 } } };

/** Reads the allow-list back out of Servers, AuthorizationPolicies and MeshTLSAuthentications. */
function allowList(objects: Manifest[]): Record<string, string[] | "*"> {
  const find = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata?.name === name);
  const table: Record<string, string[] | "*"> = {};
  for (const server of objects.filter((o) => o.kind === "Server")) {
    const spec = server.spec as Spec;
    const key = `${spec.podSelector.matchLabels["app.kubernetes.io/name"]}:${spec.port}`;
    if (spec.accessPolicy === "all-unauthenticated") {
      table[key] = "*";
      continue;
    }
    assert.equal(spec.accessPolicy, "deny", `${key} denies by default`);
    const policies = objects.filter(
      (o) => o.kind === "AuthorizationPolicy" && (o.spec as Spec).targetRef.name === server.metadata!.name,
    );
    table[key] = policies
      .flatMap((policy) => (policy.spec as Spec).requiredAuthenticationRefs)
      .flatMap((ref: Spec) => (find(ref.kind, ref.name)!.spec as Spec).identityRefs)
      .map((identity: Spec) => {
        assert.equal(identity.kind, "ServiceAccount");
        return identity.name.replace(/^gaia-/, "");
      })
      .sort();
  }
  return table;
}

describe("specs/mesh", () => {
  it("allows exactly the calls the platform makes (strict policy)", () => {
    assert.deepEqual(allowList(meshPolicy(makePlatform(STRICT))), WHO_MAY_CALL_WHOM);
  });

  it("targets ports that exist, under those names, in the pods the Servers select", () => {
    const platform = makePlatform(STRICT);
    const all = desired(platform, { servicesImage: "r:1", migrationImage: "r:1", configChecksum: "x" });
    const objects = [...all.applied, ...all.created];
    const templates = objects
      .filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind ?? ""))
      .map((o) => (o.spec as { template: V1PodTemplateSpec }).template);
    for (const server of objects.filter((o) => o.kind === "Server")) {
      const spec = server.spec as Spec;
      const pods = templates.filter((t) =>
        Object.entries(spec.podSelector.matchLabels).every(([k, v]) => t.metadata?.labels?.[k] === v),
      );
      assert.equal(pods.length, 1, `${server.metadata!.name} selects one workload`);
      const ports = pods[0]!.spec!.containers.flatMap((c) => c.ports ?? []).map((p) => p.name);
      assert.ok(ports.includes(spec.port), `${server.metadata!.name}: port ${spec.port} in ${ports}`);
    }
  });

  it("declares the datastores' protocols opaque and leaves HTTP to detection", () => {
    const servers = meshPolicy(makePlatform(STRICT)).filter((o) => o.kind === "Server");
    const protocol = (name: string) =>
      (servers.find((s) => s.metadata!.name === name)!.spec as Spec).proxyProtocol;
    assert.equal(protocol("gaia-postgres-postgres"), "opaque");
    assert.equal(protocol("gaia-redis-redis"), "opaque");
    assert.equal(protocol("gaia-nats-client"), "opaque");
    assert.equal(protocol("gaia-nats-cluster"), "opaque");
    assert.equal(protocol("gaia-auth-http"), undefined);
  });

  it("writes Linkerd's API versions: Server v1beta3, the rest v1alpha1, all owned and labelled", () => {
    for (const object of meshPolicy(makePlatform(STRICT))) {
      assert.equal(
        object.apiVersion,
        object.kind === "Server" ? "policy.linkerd.io/v1beta3" : "policy.linkerd.io/v1alpha1",
      );
      assert.equal(object.metadata!.labels!["app.kubernetes.io/component"], "mesh-policy");
      assert.equal(object.metadata!.ownerReferences![0]!.kind, "GaiaPlatform");
    }
  });

  it("leaves external datastores and an unclustered NATS out of the policy", () => {
    const table = allowList(
      meshPolicy(
        makePlatform({
          mesh: { linkerd: { enabled: true } },
          postgres: { external: { secretRef: { name: "db", key: "url" } } },
        }),
      ),
    );
    assert.equal(table["postgres:postgres"], undefined);
    assert.equal(table["nats:cluster"], undefined);
    assert.deepEqual(table["nats:client"], WHO_MAY_CALL_WHOM["nats:client"]);
  });

  it("writes no policy objects when the mesh is off or permissive", () => {
    assert.deepEqual(meshPolicy(makePlatform()), []);
    assert.deepEqual(
      meshPolicy(makePlatform({ mesh: { linkerd: { enabled: true, policy: "permissive" } } })),
      [],
    );
  });

  it("annotates pods: inject, deny what no Server covers under strict, native sidecar for the Job", () => {
    const strict = makePlatform(STRICT);
    assert.deepEqual(podMeshAnnotations(strict), {
      "linkerd.io/inject": "enabled",
      "config.linkerd.io/default-inbound-policy": "deny",
    });
    assert.deepEqual(
      podMeshAnnotations(
        makePlatform({ mesh: { linkerd: { enabled: true, policy: "permissive" } } }),
        [4222],
      ),
      {
        "linkerd.io/inject": "enabled",
        "config.linkerd.io/opaque-ports": "4222",
      },
    );
    assert.equal(jobMeshAnnotations(strict)["config.alpha.linkerd.io/proxy-enable-native-sidecar"], "true");
    assert.deepEqual(podMeshAnnotations(makePlatform()), {});
    assert.deepEqual(jobMeshAnnotations(makePlatform()), {});
  });
});
