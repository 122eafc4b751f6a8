import assert from "node:assert/strict";
import { configChecksum, configMap } from "../../src/specs/configmap.ts";
import { makePlatform } from "../support/platform.ts";

describe("specs/configmap", () => {
  const platform = makePlatform({}, { name: "gaia" });

  it("tells every service it runs in a cluster, to listen on the pod's interfaces, and where the other five are", () => {
    const map = configMap(platform);
    assert.equal(map.metadata!.name, "gaia-config");
    assert.deepEqual(map.data, {
      GAIA_IN_CLUSTER: "true",
      GAIA_BIND: "0.0.0.0",
      GAIA_DATA_DIR: "/var/lib/gaia",
      GAIA_GATEWAY_URL: "http://gaia-gateway:8666",
      GAIA_AUTH_URL: "http://gaia-auth:8001",
      GAIA_ASSET_URL: "http://gaia-asset:8002",
      GAIA_CHAT_URL: "http://gaia-chat:8003",
      GAIA_KB_URL: "http://gaia-kb:8004",
      GAIA_WEB_URL: "http://gaia-web:8080",
    });
  });

  it("uses the platform's name in the service URLs", () => {
    assert.equal(configMap(makePlatform({}, { name: "lab" })).data!.GAIA_AUTH_URL, "http://lab-auth:8001");
  });

  it("changes the checksum when Secret data changes, and only then", () => {
    const secrets = { "gaia-jwt": { "key-id": "a" }, llm: { openai: "b" } };
    const base = configChecksum(platform, secrets);
    assert.equal(configChecksum(platform, structuredClone(secrets)), base);
    assert.notEqual(configChecksum(platform, { ...secrets, llm: { openai: "c" } }), base);
    assert.notEqual(
      configChecksum(platform, { ...secrets, llm: null }),
      base,
      "a Secret going missing counts",
    );
    assert.notEqual(
      configChecksum(makePlatform({}, { name: "other" }), secrets),
      base,
      "ConfigMap data counts",
    );
  });
});
