import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { newInternalToken, newJwtMaterial, newPassword } from "../../src/specs/material.ts";
import {
  generatedSecretNames,
  internalTokenSecret,
  jwtSecret,
  postgresSecret,
  referencedSecretNames,
} from "../../src/specs/secrets.ts";
import { makePlatform } from "../support/platform.ts";

const text = (b64: string | undefined) => Buffer.from(b64 ?? "", "base64").toString("utf8");

describe("specs/secrets", () => {
  const platform = makePlatform();

  it("generates an ES256 signing key in PKCS#8 PEM whose key id is its RFC 7638 thumbprint", () => {
    const material = newJwtMaterial();
    assert.match(material.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(material.privateKeyPem);
    assert.equal(key.asymmetricKeyType, "ec");
    assert.equal(key.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const signature = sign("sha256", Buffer.from("hello"), { key, dsaEncoding: "ieee-p1363" });
    assert.ok(
      verify(
        "sha256",
        Buffer.from("hello"),
        { key: createPublicKey(key), dsaEncoding: "ieee-p1363" },
        signature,
      ),
    );
    const jwk = createPublicKey(key).export({ format: "jwk" });
    const thumbprint = createHash("sha256")
      .update(`{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`)
      .digest("base64url");
    assert.equal(material.keyId, thumbprint);
    assert.notEqual(newJwtMaterial().keyId, material.keyId, "each key is new");
  });

  it("puts the key material in the gaia-jwt Secret", () => {
    const secret = jwtSecret(platform, { privateKeyPem: "PEM", keyId: "kid" });
    assert.equal(secret.metadata!.name, "gaia-jwt");
    assert.equal(secret.metadata!.labels!["app.kubernetes.io/component"], "credentials");
    assert.equal(secret.metadata!.ownerReferences![0]!.uid, platform.metadata.uid);
    assert.equal(text(secret.data!["private-key.pem"]), "PEM");
    assert.equal(text(secret.data!["key-id"]), "kid");
  });

  it("generates URL-safe database passwords of 192 bits", () => {
    const password = newPassword();
    assert.match(password, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(newPassword(), password);
    const secret = postgresSecret(platform, password);
    assert.equal(secret.metadata!.name, "gaia-postgres-credentials");
    assert.equal(text(secret.data!.password), password);
    assert.equal(text(secret.data!.username), "gaia");
  });

  it("generates the gateway-to-auth token: 256 bits, longer than auth's minimum of 32 characters", () => {
    const token = newInternalToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const secret = internalTokenSecret(platform, token);
    assert.equal(secret.metadata!.name, "gaia-internal-token");
    assert.equal(text(secret.data!.token), token);
  });

  it("names every generated Secret", () => {
    assert.deepEqual(generatedSecretNames(platform), [
      "gaia-jwt",
      "gaia-internal-token",
      "gaia-postgres-credentials",
      "gaia-postgres-roles",
      "gaia-redis-credentials",
      "gaia-nats-credentials",
      "gaia-nats-game-server",
    ]);
  });

  it("lists the user's Secrets the pods depend on, without optional ones", () => {
    const names = referencedSecretNames(
      makePlatform({
        providers: {
          openai: { secretRef: { name: "llm", key: "a" } },
          meshy: { secretRef: { name: "assets", key: "m" } },
        },
        auth: { supabase: { jwtSecretRef: { name: "supa", key: "jwt" } } },
        kb: { git: { url: "https://g/kb.git", credentialsSecretRef: { name: "kb-git" } } },
        postgres: {
          external: { secretRef: { name: "db", key: "url" }, serviceSecretRef: { name: "db-services" } },
        },
        services: {
          web: {
            env: [
              { name: "A", valueFrom: { secretKeyRef: { name: "web-extra", key: "a" } } },
              { name: "B", valueFrom: { secretKeyRef: { name: "maybe", key: "b", optional: true } } },
            ],
          },
        },
      }),
    );
    assert.deepEqual(names, ["assets", "db", "db-services", "kb-git", "llm", "supa", "web-extra"]);
  });
});
