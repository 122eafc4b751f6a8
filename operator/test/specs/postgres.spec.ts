import assert from "node:assert/strict";
import type { V1Service, V1StatefulSet } from "@kubernetes/client-node";
import { postgres } from "../../src/specs/postgres.ts";
import { byName, makePlatform } from "../support/platform.ts";

const statefulSet = (objects: unknown[], name: string) =>
  byName(objects as V1StatefulSet[], "StatefulSet").get(name) as V1StatefulSet;
const service = (objects: unknown[], name: string) =>
  byName(objects as V1Service[], "Service").get(name) as V1Service;

describe("specs/postgres", () => {
  it("runs postgres:<version> in a StatefulSet with its data on a claim template", () => {
    const objects = postgres(
      makePlatform({ postgres: { managed: { version: "15", storage: "20Gi", storageClassName: "fast" } } }),
    );
    const sts = statefulSet(objects, "gaia-postgres");
    const c = sts.spec!.template.spec!.containers[0]!;
    assert.equal(c.image, "postgres:15");
    assert.deepEqual(c.ports, [{ name: "postgres", containerPort: 5432, protocol: "TCP" }]);
    assert.deepEqual(c.readinessProbe!.exec!.command, [
      "pg_isready",
      "-h",
      "127.0.0.1",
      "-U",
      "gaia",
      "-d",
      "gaia",
    ]);
    assert.deepEqual(c.env!.find((e) => e.name === "POSTGRES_PASSWORD")!.valueFrom, {
      secretKeyRef: { name: "gaia-postgres-credentials", key: "password" },
    });
    assert.equal(c.env!.find((e) => e.name === "PGDATA")!.value, "/var/lib/postgresql/data/pgdata");
    assert.equal(sts.spec!.serviceName, "gaia-postgres");
    assert.deepEqual(sts.spec!.persistentVolumeClaimRetentionPolicy, {
      whenDeleted: "Retain",
      whenScaled: "Retain",
    });
    const [claim] = sts.spec!.volumeClaimTemplates!;
    assert.deepEqual(claim!.spec, {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "fast",
      resources: { requests: { storage: "20Gi" } },
    });
    assert.equal(
      claim!.metadata!.labels!["app.kubernetes.io/instance"],
      "gaia",
      "claims carry the instance label",
    );
    const headless = service(objects, "gaia-postgres");
    assert.equal(headless.spec!.clusterIP, "None");
    assert.deepEqual(headless.spec!.ports, [
      { name: "postgres", port: 5432, targetPort: "postgres", protocol: "TCP" },
    ]);
  });

  it("builds nothing for an external database", () => {
    assert.deepEqual(
      postgres(makePlatform({ postgres: { external: { secretRef: { name: "db", key: "url" } } } })),
      [],
    );
  });
});
