import assert from "node:assert/strict";
import type { V1Service, V1StatefulSet } from "@kubernetes/client-node";
import { redis } from "../../src/specs/redis.ts";
import { byName, makePlatform } from "../support/platform.ts";

const statefulSet = (objects: unknown[], name: string) =>
  byName(objects as V1StatefulSet[], "StatefulSet").get(name) as V1StatefulSet;
const service = (objects: unknown[], name: string) =>
  byName(objects as V1Service[], "Service").get(name) as V1Service;

describe("specs/redis", () => {
  it("runs redis:7 with an append-only file on its volume", () => {
    const objects = redis(makePlatform());
    const c = statefulSet(objects, "gaia-redis").spec!.template.spec!.containers[0]!;
    assert.equal(c.image, "redis:7");
    assert.deepEqual(c.args!.slice(0, 6), ["--appendonly", "yes", "--dir", "/data", "--port", "6379"]);
    assert.deepEqual(c.readinessProbe!.exec!.command, [
      "sh",
      "-c",
      "redis-cli -p 6379 --user probe ping | grep -qx PONG",
    ]);
    assert.equal(service(objects, "gaia-redis").spec!.clusterIP, "None");
  });
});
