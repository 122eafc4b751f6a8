import assert from "node:assert/strict";
import type { V1Container, V1Deployment, V1Service, V1ServiceAccount } from "@kubernetes/client-node";
import { databaseEnv } from "../../src/specs/env.ts";
import { services } from "../../src/specs/services.ts";
import { byName, makePlatform } from "../support/platform.ts";

const IMAGE = "ghcr.io/example/gaia:0.1.0";

/** `image` null: before the first migration. */
function build(spec: Record<string, unknown> = {}, image: string | null = IMAGE) {
  const objects = services(makePlatform(spec), { image: image ?? undefined, configChecksum: "c0ffee" });
  return {
    deployments: byName(objects, "Deployment") as Map<string, V1Deployment>,
    services: byName(objects, "Service") as Map<string, V1Service>,
    accounts: byName(objects, "ServiceAccount") as Map<string, V1ServiceAccount>,
  };
}

const container = (deployment: V1Deployment | undefined): V1Container =>
  deployment!.spec!.template.spec!.containers[0]!;
const envOf = (deployment: V1Deployment | undefined) =>
  new Map(container(deployment).env!.map((e) => [e.name, e]));

describe("specs/services", () => {
  const PORTS = { gateway: 8666, auth: 8001, asset: 8002, chat: 8003, kb: 8004, web: 8080 } as const;

  it("builds a ServiceAccount, a Service and a Deployment per service", () => {
    const { deployments, services: svcs, accounts } = build();
    const names = Object.keys(PORTS).map((n) => `gaia-${n}`);
    assert.deepEqual([...deployments.keys()].sort(), [...names].sort());
    assert.deepEqual([...svcs.keys()].sort(), [...names].sort());
    assert.deepEqual([...accounts.keys()].sort(), [...names].sort());
    for (const account of accounts.values()) assert.equal(account.automountServiceAccountToken, false);
  });

  for (const [name, port] of Object.entries(PORTS)) {
    it(`runs ${name} as \`gaia serve ${name}\` on port ${port} with /ready and /health probes`, () => {
      const { deployments, services: svcs } = build();
      const deployment = deployments.get(`gaia-${name}`)!;
      const c = container(deployment);
      assert.equal(c.image, IMAGE);
      assert.deepEqual(c.command, ["gaia", "serve", name]);
      assert.deepEqual(c.ports, [
        { name: "http", containerPort: port, protocol: "TCP" },
        { name: "metrics", containerPort: 9464, protocol: "TCP" },
      ]);
      const annotations = deployment.spec!.template.metadata!.annotations!;
      assert.equal(annotations["prometheus.io/scrape"], "true");
      assert.equal(annotations["prometheus.io/port"], "9464");
      assert.equal(annotations["prometheus.io/path"], "/metrics");
      assert.deepEqual(c.readinessProbe?.httpGet, { path: "/ready", port: "http" });
      assert.deepEqual(c.livenessProbe?.httpGet, { path: "/health", port: "http" });
      assert.deepEqual(c.envFrom, [{ configMapRef: { name: "gaia-config" } }]);
      assert.equal(deployment.spec!.template.spec!.serviceAccountName, `gaia-${name}`);
      assert.deepEqual(deployment.spec!.selector.matchLabels, {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": "gaia",
      });
      assert.deepEqual(
        deployment.metadata!.ownerReferences?.map((r) => [r.kind, r.name, r.controller]),
        [["GaiaPlatform", "gaia", true]],
      );
      const service = svcs.get(`gaia-${name}`)!;
      // The Service (and so the gateway's Ingress) carries the public port only, never metrics.
      assert.deepEqual(service.spec!.ports, [{ name: "http", port, targetPort: "http", protocol: "TCP" }]);
      assert.deepEqual(service.spec!.selector, deployment.spec!.selector.matchLabels);
    });
  }

  it("rolls pods on configuration changes through the checksum annotation and labels the version", () => {
    const template = build().deployments.get("gaia-auth")!.spec!.template;
    assert.equal(template.metadata!.annotations!["gaia.dev/config-checksum"], "c0ffee");
    assert.equal(template.metadata!.labels!["app.kubernetes.io/version"], "0.1.0");
  });

  it("runs as a non-root user with a read-only root filesystem", () => {
    const deployment = build().deployments.get("gaia-chat")!;
    assert.deepEqual(deployment.spec!.template.spec!.securityContext, {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(container(deployment).securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("gives kb its remote and the credentials Secret's keys, each optional", () => {
    const env = envOf(
      build({
        kb: { git: { url: "git@git.example:studio/kb.git", credentialsSecretRef: { name: "kb-git" } } },
      }).deployments.get("gaia-kb"),
    );
    assert.equal(env.get("KB_GIT_URL")?.value, "git@git.example:studio/kb.git");
    assert.equal(env.get("KB_GIT_BRANCH")?.value, "main");
    for (const [name, key] of [
      ["KB_GIT_USERNAME", "username"],
      ["KB_GIT_PASSWORD", "password"],
      ["KB_GIT_SSH_KEY", "ssh-privatekey"],
    ]) {
      assert.deepEqual(
        env.get(name!)?.valueFrom,
        { secretKeyRef: { name: "kb-git", key, optional: true } },
        name,
      );
    }
  });

  it("wires managed datastores: each service as its own role and users, URLs to the in-namespace Services", () => {
    const env = envOf(build().deployments.get("gaia-kb"));
    assert.deepEqual(env.get("GAIA_POSTGRES_PASSWORD")?.valueFrom, {
      secretKeyRef: { name: "gaia-postgres-roles", key: "kb" },
    });
    assert.equal(
      env.get("DATABASE_URL")?.value,
      "postgresql://gaia_kb:$(GAIA_POSTGRES_PASSWORD)@gaia-postgres:5432/gaia",
    );
    for (const service of ["auth", "asset", "chat"]) {
      const own = envOf(build().deployments.get(`gaia-${service}`));
      assert.equal(own.get("GAIA_POSTGRES_PASSWORD")?.valueFrom?.secretKeyRef?.key, service);
      assert.match(own.get("DATABASE_URL")?.value ?? "", new RegExp(`^postgresql://gaia_${service}:`));
    }
    for (const service of ["gateway", "web"]) {
      // They keep no data: no password at all, and a URL that can open nothing.
      const none = envOf(build().deployments.get(`gaia-${service}`));
      assert.equal(none.has("GAIA_POSTGRES_PASSWORD"), false, service);
      assert.equal(none.get("DATABASE_URL")?.value, "postgresql://gaia-postgres:5432/gaia", service);
    }
    assert.deepEqual(env.get("GAIA_REDIS_PASSWORD")?.valueFrom, {
      secretKeyRef: { name: "gaia-redis-credentials", key: "kb" },
    });
    assert.equal(env.get("REDIS_URL")?.value, "redis://kb:$(GAIA_REDIS_PASSWORD)@gaia-redis:6379");
    assert.deepEqual(env.get("GAIA_NATS_PASSWORD")?.valueFrom, {
      secretKeyRef: { name: "gaia-nats-credentials", key: "kb" },
    });
    assert.equal(env.get("NATS_URL")?.value, "nats://kb:$(GAIA_NATS_PASSWORD)@gaia-nats:4222");
    const names = container(build().deployments.get("gaia-kb")).env!.map((e) => e.name);
    for (const [variable, url] of [
      ["GAIA_POSTGRES_PASSWORD", "DATABASE_URL"],
      ["GAIA_REDIS_PASSWORD", "REDIS_URL"],
      ["GAIA_NATS_PASSWORD", "NATS_URL"],
    ] as const)
      assert.ok(names.indexOf(variable) < names.indexOf(url), "$(VAR) needs the variable first");
    const gateway = envOf(build().deployments.get("gaia-gateway"));
    assert.equal(gateway.get("REDIS_URL")?.value, "redis://gateway:$(GAIA_REDIS_PASSWORD)@gaia-redis:6379");
    assert.equal(gateway.get("GAIA_NATS_PASSWORD")?.valueFrom?.secretKeyRef?.key, "gateway");
  });

  it("reads external datastore URLs from the user's Secrets", () => {
    const env = envOf(
      build({
        postgres: { external: { secretRef: { name: "db", key: "url" } } },
        redis: { external: { secretRef: { name: "cache", key: "uri" } } },
        nats: { external: { secretRef: { name: "bus", key: "nats" } } },
      }).deployments.get("gaia-gateway"),
    );
    assert.deepEqual(env.get("DATABASE_URL")?.valueFrom, { secretKeyRef: { name: "db", key: "url" } });
    assert.deepEqual(env.get("REDIS_URL")?.valueFrom, { secretKeyRef: { name: "cache", key: "uri" } });
    assert.deepEqual(env.get("NATS_URL")?.valueFrom, { secretKeyRef: { name: "bus", key: "nats" } });
    assert.equal(env.has("GAIA_POSTGRES_PASSWORD"), false);
  });

  it("gives each service its own URL of an external datastore when a serviceSecretRef names them", () => {
    const own = (name: string) => ({
      secretRef: { name: `${name}-owner`, key: "url" },
      serviceSecretRef: { name },
    });
    const built = build({
      postgres: { external: own("db") },
      redis: { external: own("cache") },
      nats: { external: own("bus") },
    });
    for (const service of ["gateway", "auth", "chat", "asset", "kb", "web"]) {
      const env = envOf(built.deployments.get(`gaia-${service}`));
      assert.deepEqual(
        env.get("DATABASE_URL")?.valueFrom,
        { secretKeyRef: { name: "db", key: service } },
        service,
      );
      assert.deepEqual(
        env.get("REDIS_URL")?.valueFrom,
        { secretKeyRef: { name: "cache", key: service } },
        service,
      );
      assert.deepEqual(
        env.get("NATS_URL")?.valueFrom,
        { secretKeyRef: { name: "bus", key: service } },
        service,
      );
    }
    // The migration Job alone holds the owner's URL: it makes the roles the services connect as.
    const migration = databaseEnv(makePlatform({ postgres: { external: own("db") } }), "migration");
    assert.deepEqual(migration, [
      { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db-owner", key: "url" } } },
    ]);
  });

  it("gives LLM keys to chat only and asset-provider keys to asset only", () => {
    const { deployments } = build({
      providers: {
        openai: { secretRef: { name: "llm", key: "openai" }, baseURL: "http://llm.local/v1" },
        anthropic: { secretRef: { name: "llm", key: "anthropic" } },
        meshy: { secretRef: { name: "assets", key: "meshy" } },
      },
    });
    const chat = envOf(deployments.get("gaia-chat"));
    assert.deepEqual(chat.get("OPENAI_API_KEY")?.valueFrom, { secretKeyRef: { name: "llm", key: "openai" } });
    assert.equal(chat.get("OPENAI_BASE_URL")?.value, "http://llm.local/v1");
    assert.deepEqual(chat.get("ANTHROPIC_API_KEY")?.valueFrom, {
      secretKeyRef: { name: "llm", key: "anthropic" },
    });
    assert.equal(chat.has("MESHY_API_KEY"), false);
    const asset = envOf(deployments.get("gaia-asset"));
    assert.deepEqual(asset.get("MESHY_API_KEY")?.valueFrom, {
      secretKeyRef: { name: "assets", key: "meshy" },
    });
    assert.equal(asset.has("OPENAI_API_KEY"), false);
    for (const other of ["gateway", "auth", "kb", "web"]) {
      const env = envOf(deployments.get(`gaia-${other}`));
      assert.ok(![...env.keys()].some((k) => k.endsWith("_API_KEY")), `${other} gets no provider key`);
    }
  });

  it("gives auth the generated signing key and the Supabase settings", () => {
    const env = envOf(
      build({ auth: { supabase: { jwtSecretRef: { name: "supa", key: "jwt" } } } }).deployments.get(
        "gaia-auth",
      ),
    );
    assert.deepEqual(env.get("GAIA_JWT_PRIVATE_KEY")?.valueFrom, {
      secretKeyRef: { name: "gaia-jwt", key: "private-key.pem" },
    });
    assert.deepEqual(env.get("GAIA_JWT_KEY_ID")?.valueFrom, {
      secretKeyRef: { name: "gaia-jwt", key: "key-id" },
    });
    assert.deepEqual(env.get("SUPABASE_JWT_SECRET")?.valueFrom, {
      secretKeyRef: { name: "supa", key: "jwt" },
    });
    const jwks = envOf(
      build({ auth: { supabase: { jwksUrl: "https://x.supabase.co/jwks" } } }).deployments.get("gaia-auth"),
    );
    assert.equal(jwks.get("SUPABASE_JWKS_URL")?.value, "https://x.supabase.co/jwks");
    assert.equal(envOf(build().deployments.get("gaia-chat")).has("GAIA_JWT_PRIVATE_KEY"), false);
  });

  it("shares the internal token between the gateway and auth only", () => {
    const { deployments } = build();
    for (const name of ["gateway", "auth"]) {
      assert.deepEqual(envOf(deployments.get(`gaia-${name}`)).get("GAIA_INTERNAL_TOKEN")?.valueFrom, {
        secretKeyRef: { name: "gaia-internal-token", key: "token" },
      });
    }
    for (const name of ["asset", "chat", "kb", "web"]) {
      assert.equal(envOf(deployments.get(`gaia-${name}`)).has("GAIA_INTERNAL_TOKEN"), false, name);
    }
  });

  it("tells the gateway, and only the gateway, which proxies may name the client", () => {
    assert.equal(envOf(build().deployments.get("gaia-gateway")).has("GAIA_TRUSTED_PROXIES"), false);
    const { deployments } = build({ exposure: { trustedProxies: ["10.0.0.0/8", "fd00::/8"] } });
    assert.equal(
      envOf(deployments.get("gaia-gateway")).get("GAIA_TRUSTED_PROXIES")?.value,
      "10.0.0.0/8,fd00::/8",
    );
    for (const name of ["auth", "asset", "chat", "kb", "web"])
      assert.equal(envOf(deployments.get(`gaia-${name}`)).has("GAIA_TRUSTED_PROXIES"), false, name);
  });

  it("lets spec.services.<name>.env override what the operator sets, once per name", () => {
    const env = container(
      build({
        services: {
          gateway: {
            env: [
              { name: "REDIS_URL", value: "redis://elsewhere:6379" },
              { name: "X", value: "1" },
            ],
          },
        },
      }).deployments.get("gaia-gateway"),
    ).env!;
    assert.deepEqual(
      env.filter((e) => e.name === "REDIS_URL"),
      [{ name: "REDIS_URL", value: "redis://elsewhere:6379" }],
    );
    assert.deepEqual(env.at(-1), { name: "X", value: "1" });
  });

  it("leaves replicas to the autoscaler where one runs, sets them elsewhere", () => {
    const { deployments } = build({ services: { auth: { replicas: 3 } } });
    assert.equal(deployments.get("gaia-gateway")!.spec!.replicas, undefined);
    assert.equal(deployments.get("gaia-chat")!.spec!.replicas, undefined);
    assert.equal(deployments.get("gaia-auth")!.spec!.replicas, 3);
    const fixed = build({ services: { gateway: { replicas: 4, autoscaling: { enabled: false } } } });
    assert.equal(fixed.deployments.get("gaia-gateway")!.spec!.replicas, 4);
  });

  it("creates no Deployment before the first image is migrated", () => {
    const { deployments, services: svcs } = build({}, null);
    assert.equal(deployments.size, 0);
    assert.equal(svcs.size, 6);
  });

  it("exposes gateway and web with the requested Service type and annotations", () => {
    const { services: svcs } = build({
      exposure: { gateway: { serviceType: "LoadBalancer", annotations: { "lb.example/internal": "true" } } },
    });
    assert.equal(svcs.get("gaia-gateway")!.spec!.type, "LoadBalancer");
    assert.deepEqual(svcs.get("gaia-gateway")!.metadata!.annotations, { "lb.example/internal": "true" });
    assert.equal(svcs.get("gaia-web")!.spec!.type, "ClusterIP");
    assert.equal(svcs.get("gaia-auth")!.spec!.type, "ClusterIP");
  });

  it("puts kb on a claim (Recreate) without a Git remote, on a sized emptyDir with one", () => {
    const local = build().deployments.get("gaia-kb")!.spec!;
    assert.deepEqual(local.strategy, { type: "Recreate" });
    assert.deepEqual(
      local.template.spec!.volumes!.find((v) => v.name === "data"),
      {
        name: "data",
        persistentVolumeClaim: { claimName: "gaia-kb-data" },
      },
    );
    const remote = build({
      kb: { git: { url: "https://git.example/kb.git" }, storage: "3Gi" },
    }).deployments.get("gaia-kb")!;
    assert.equal(remote.spec!.strategy, undefined);
    assert.deepEqual(
      remote.spec!.template.spec!.volumes!.find((v) => v.name === "data"),
      {
        name: "data",
        emptyDir: { sizeLimit: "3Gi" },
      },
    );
    const env = envOf(remote);
    assert.equal(env.get("KB_GIT_URL")?.value, "https://git.example/kb.git");
    assert.equal(env.get("KB_GIT_BRANCH")?.value, "main");
  });

  it("puts asset on its claim (Recreate), mounted where GAIA_ASSET_STORAGE_DIR defaults to", () => {
    const asset = build({ assets: { storage: { size: "20Gi" } } }).deployments.get("gaia-asset")!;
    assert.deepEqual(asset.spec!.strategy, { type: "Recreate" });
    assert.equal(asset.spec!.replicas, 1);
    assert.deepEqual(
      asset.spec!.template.spec!.volumes!.find((v) => v.name === "data"),
      { name: "data", persistentVolumeClaim: { claimName: "gaia-asset-data" } },
    );
    assert.deepEqual(
      container(asset).volumeMounts!.find((m) => m.name === "data"),
      { name: "data", mountPath: "/var/lib/gaia" },
      "the service keeps its files under $GAIA_DATA_DIR/assets",
    );
    for (const name of ["gaia-gateway", "gaia-auth", "gaia-chat", "gaia-web"]) {
      const other = build().deployments.get(name)!;
      assert.equal(other.spec!.strategy, undefined, name);
      assert.deepEqual(
        other.spec!.template.spec!.volumes!.find((v) => v.name === "data"),
        { name: "data", emptyDir: {} },
        name,
      );
    }
  });

  it("adds Linkerd's injection annotation to pod templates when the mesh is on", () => {
    const template = build({ mesh: { linkerd: { enabled: true, policy: "permissive" } } }).deployments.get(
      "gaia-web",
    )!.spec!.template;
    assert.equal(template.metadata!.annotations!["linkerd.io/inject"], "enabled");
    assert.equal(template.metadata!.annotations!["config.linkerd.io/default-inbound-policy"], undefined);
    const off = build().deployments.get("gaia-web")!.spec!.template;
    assert.equal(off.metadata!.annotations!["linkerd.io/inject"], undefined);
  });
});
