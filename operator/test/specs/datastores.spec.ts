import assert from "node:assert/strict";
import type { V1ConfigMap, V1EnvVar, V1StatefulSet } from "@kubernetes/client-node";
import { desired } from "../../src/specs/desired.ts";
import { nats, natsConfig } from "../../src/specs/nats.ts";
import { redis } from "../../src/specs/redis.ts";
import { natsGameServerSecret, natsSecret, redisSecret, redisSecretName } from "../../src/specs/secrets.ts";
import { byName, makePlatform } from "../support/platform.ts";

const text = (b64: string | undefined) => Buffer.from(b64 ?? "", "base64").toString("utf8");
const container = (objects: unknown[], name: string) =>
  (byName(objects as V1StatefulSet[], "StatefulSet").get(name) as V1StatefulSet).spec!.template.spec!
    .containers[0]!;

const JS = "$JS.API.INFO $JS.API.STREAM.INFO.GAIA_ASSET_EVENTS $JS.API.STREAM.CREATE.GAIA_ASSET_EVENTS";
const CONNECT = "-@all +info";

describe("specs: datastore users", () => {
  const platform = makePlatform();

  it("gives each service a Redis user with only its keys and commands, and turns the default user off", () => {
    const args = container(redis(platform), "gaia-redis").args!;
    const users = args
      .join(" ")
      .split(" --user ")
      .slice(1)
      .map((rule) => rule.replace(/>\$\(GAIA_REDIS_PASSWORD_[A-Z]+\)/, ">PASSWORD"));
    assert.deepEqual(users, [
      "default off",
      `gateway on >PASSWORD resetkeys %R~gaia:authn:* ~gaia:ratelimit:* resetchannels ${CONNECT} +get +evalsha +eval +incrby +pexpire +pttl`,
      `auth on >PASSWORD resetkeys ~gaia:authn:* ~gaia:authn-user:* ~gaia:authn-epoch ~gaia:login:* ~gaia:register:* resetchannels ${CONNECT} +get +set +del +evalsha +eval +incrby +pexpire +pttl +multi +sadd +exec +smembers`,
      `asset on >PASSWORD resetkeys resetchannels ${CONNECT}`,
      `chat on >PASSWORD resetkeys resetchannels ${CONNECT}`,
      `kb on >PASSWORD resetkeys ~gaia:kb:* resetchannels ${CONNECT} +get +set +del +evalsha +eval +incrby +pexpire +pttl`,
      `web on >PASSWORD resetkeys resetchannels ${CONNECT}`,
      "probe on >PASSWORD resetkeys resetchannels -@all +ping",
    ]);
  });

  it("takes each Redis password from the generated Secret, the probe's included", () => {
    const env = new Map(container(redis(platform), "gaia-redis").env!.map((e) => [e.name, e]));
    for (const [variable, key] of [
      ["GAIA_REDIS_PASSWORD_GATEWAY", "gateway"],
      ["GAIA_REDIS_PASSWORD_AUTH", "auth"],
      ["GAIA_REDIS_PASSWORD_CHAT", "chat"],
      ["GAIA_REDIS_PASSWORD_PROBE", "probe"],
      ["REDISCLI_AUTH", "probe"],
    ] as const)
      assert.deepEqual(env.get(variable)?.valueFrom, {
        secretKeyRef: { name: "gaia-redis-credentials", key },
      });
    const secret = redisSecret(platform, () => "pw");
    assert.equal(secret.metadata!.name, redisSecretName(platform));
    assert.deepEqual(Object.keys(secret.data!), ["gateway", "auth", "asset", "chat", "kb", "web", "probe"]);
  });

  it("gives each NATS user only the subjects it publishes and subscribes to", () => {
    // Every service verifies identity tokens, so each follows auth's signed revocations.
    const SUB = "_INBOX.> gaia.auth.identity.revoked";
    const config = natsConfig(platform);
    const users = [
      ...config.matchAll(
        /\{ user: "([\w-]+)", password: (\S+), permissions: \{ publish: \{ (.*?) \}, subscribe: \{ (.*?) \} \} \}/g,
      ),
    ].map(([, user, password, publish, subscribe]) => {
      const subjects = (rule: string) => rule.replace(/^allow: |[[\]",]/g, "");
      return [user, password, subjects(publish!), subjects(subscribe!)];
    });
    assert.deepEqual(users, [
      ["gateway", "$NATS_PASSWORD_GATEWAY", JS, `${SUB} gaia.auth.credential.revoked`],
      ["auth", "$NATS_PASSWORD_AUTH", `${JS} gaia.auth.>`, SUB],
      ["asset", "$NATS_PASSWORD_ASSET", `${JS} gaia.asset.generation.>`, SUB],
      ["chat", "$NATS_PASSWORD_CHAT", `${JS} gaia.chat.>`, `${SUB} world.updates.user.*`],
      ["kb", "$NATS_PASSWORD_KB", `${JS} gaia.kb.changed`, `${SUB} gaia.kb.changed`],
      ["web", "$NATS_PASSWORD_WEB", JS, SUB],
      ["game-server", "$NATS_PASSWORD_GAME_SERVER", "world.updates.user.*", "deny: >"],
    ]);
  });

  it("hands NATS each password quoted, after the variable it comes from", () => {
    const env = container(nats(platform), "gaia-nats").env!;
    const at = (name: string) => env.findIndex((e) => e.name === name);
    assert.deepEqual(env[at("GAIA_NATS_PASSWORD_CHAT")]!.valueFrom, {
      secretKeyRef: { name: "gaia-nats-credentials", key: "chat" },
    });
    assert.deepEqual(env[at("GAIA_NATS_PASSWORD_GAME_SERVER")]!.valueFrom, {
      secretKeyRef: { name: "gaia-nats-game-server", key: "password" },
    });
    assert.equal(env[at("NATS_PASSWORD_CHAT")]!.value, '"$(GAIA_NATS_PASSWORD_CHAT)"');
    assert.ok(at("GAIA_NATS_PASSWORD_CHAT") < at("NATS_PASSWORD_CHAT"));
    assert.deepEqual(Object.keys(natsSecret(platform, () => "pw").data!), [
      "gateway",
      "auth",
      "asset",
      "chat",
      "kb",
      "web",
    ]);
    const gameServer = natsGameServerSecret(platform, "pw");
    assert.equal(gameServer.metadata!.name, "gaia-nats-game-server");
    assert.equal(text(gameServer.data!.username), "game-server");
    assert.equal(text(gameServer.data!.password), "pw");
  });

  it("never puts a password in a pod spec or a ConfigMap: only Secret references and $(VAR)", () => {
    const { applied } = desired(platform, { servicesImage: "gaia:1", configChecksum: "x" });
    const json = JSON.stringify(applied);
    // A datastore password is 32 base64url characters; no literal one, nor any password field with a value.
    for (const configMap of byName(applied as V1ConfigMap[], "ConfigMap").values())
      for (const value of Object.values(configMap.data ?? {}))
        for (const [, password] of value.matchAll(/password: (\S+)/g))
          assert.match(password!, /^\$NATS_PASSWORD_/);
    const env: V1EnvVar[] = [];
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "env" && Array.isArray(value)) env.push(...(value as V1EnvVar[]));
          else collect(value);
        }
      }
    };
    collect(JSON.parse(json));
    const secretLike = env.filter((e) => /PASSWORD|AUTH$|_URL$/.test(e.name) && e.value !== undefined);
    assert.ok(secretLike.length > 0);
    for (const e of secretLike)
      assert.doesNotMatch(e.value!.replace(/\$\([A-Z_]+\)/g, ""), /:[^/@:]+@/, `${e.name} holds no password`);
    for (const e of env.filter((e) => /PASSWORD|REDISCLI_AUTH/.test(e.name)))
      assert.ok(e.valueFrom?.secretKeyRef || /^"\$\([A-Z_]+\)"$/.test(e.value ?? ""), e.name);
  });
});
