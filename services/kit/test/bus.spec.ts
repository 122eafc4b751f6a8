import assert from "node:assert/strict";
import { type StoppableServer, startNats } from "../../../test/support/servers.ts";
import { sleep, until } from "../../../test/support/wait.ts";
import { type Bus, MemoryBus, NatsBus, subjectMatches } from "../src/bus.ts";
import { createLogger } from "../src/log.ts";

const log = createLogger("test", "silent");

describe("subject matching", () => {
  const table: [string, string, boolean][] = [
    ["world.updates.user.42", "world.updates.user.42", true],
    ["world.updates.user.*", "world.updates.user.42", true],
    ["world.updates.*", "world.updates.user.42", false],
    ["world.>", "world.updates.user.42", true],
    ["world.>", "world", false],
    ["gaia.asset.generation.>", "gaia.asset.generation.completed", true],
    ["a.*.c", "a.b.c", true],
    ["a.*.c", "a.b.d", false],
  ];
  for (const [pattern, subject, expected] of table) {
    it(`${pattern} ${expected ? "matches" : "does not match"} ${subject}`, () => {
      assert.equal(subjectMatches(pattern, subject), expected);
    });
  }
});

function behavesAsBus(make: () => Promise<Bus>) {
  let bus: Bus;
  before(async () => {
    bus = await make();
  });
  after(() => bus.close());

  it("delivers to wildcard subscribers and stops after unsubscribe", async () => {
    const got: [unknown, string][] = [];
    const base = bus.subscriptionCount();
    const unsubscribe = bus.subscribe("world.updates.user.*", (payload, subject) => {
      got.push([payload, subject]);
    });
    assert.equal(bus.subscriptionCount(), base + 1);
    await sleep(100);
    await bus.publish("world.updates.user.7", { type: "weather", value: "rain" });
    await until(() => got.length === 1);
    assert.deepEqual(got[0], [{ type: "weather", value: "rain" }, "world.updates.user.7"]);
    unsubscribe();
    assert.equal(bus.subscriptionCount(), base);
    await bus.publish("world.updates.user.7", { late: true });
    await sleep(150);
    assert.equal(got.length, 1);
  });

  it("shares a durable consumer's messages between its members, each message once", async () => {
    const seen: string[] = [];
    const consumer = `c${Date.now()}`;
    const a = bus.consume("GAIA_ASSET_EVENTS", consumer, (p) => {
      seen.push(`a:${(p as { id: string }).id}`);
    });
    const b = bus.consume("GAIA_ASSET_EVENTS", consumer, (p) => {
      seen.push(`b:${(p as { id: string }).id}`);
    });
    await sleep(300);
    for (const id of ["1", "2", "3", "4"]) await bus.publish("gaia.asset.generation.completed", { id });
    await until(() => seen.length >= 4, 8000);
    await sleep(200);
    assert.deepEqual(seen.map((s) => s.split(":")[1]).sort(), ["1", "2", "3", "4"]);
    a();
    b();
  });
}

describe("bus: in-process", () => behavesAsBus(async () => new MemoryBus(log)));

describe("bus: nats", () => {
  let nats: StoppableServer;
  before(async () => {
    nats = await startNats();
  });
  behavesAsBus(async () => {
    const bus = new NatsBus(nats.url, log);
    await until(() => bus.healthy());
    return bus;
  });

  it("keeps durable events published during an outage and delivers them after", async function () {
    this.timeout(30_000);
    const bus = new NatsBus(nats.url, log);
    await until(() => bus.healthy());
    const seen: string[] = [];
    const stop = bus.consume("GAIA_ASSET_EVENTS", "outage-test", (p) => {
      seen.push((p as { id: string }).id);
    });
    await bus.publish("gaia.asset.generation.requested", { id: "before" });
    await until(() => seen.includes("before"), 8000);

    await nats.stop();
    await until(() => !bus.healthy(), 8000);
    const started = Date.now();
    await bus.publish("gaia.asset.generation.requested", { id: "during" });
    await bus.publish("world.updates.user.1", { dropped: true });
    assert.ok(Date.now() - started < 500, "publishing during an outage does not block the caller");

    await nats.start();
    await until(() => seen.includes("during"), 20_000);
    stop();
    await bus.close();
  });
});
