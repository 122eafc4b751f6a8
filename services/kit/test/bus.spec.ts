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

  it("shares a durable consumer between its members: each message to one, a newcomer resumes where they are", async () => {
    const consumer = `shared${Date.now()}`;
    const seen = { a: [] as string[], b: [] as string[] };
    const join = (member: keyof typeof seen) =>
      bus.consume("GAIA_ASSET_EVENTS", consumer, (p) => {
        seen[member].push((p as { id: string }).id);
      });
    const publish = async (...ids: string[]) => {
      for (const id of ids) await bus.publish("gaia.asset.generation.completed", { id });
    };
    const handled = () => seen.a.length + seen.b.length;

    const leaveA = join("a");
    await publish("1", "2");
    await until(() => seen.a.length === 2, 8000);
    // b is a member of the same consumer, not a consumer of its own: what a handled is not replayed to it.
    const leaveB = join("b");
    await sleep(300);
    await publish("3", "4", "5", "6");
    await until(() => handled() === 6, 8000);
    // With a gone, b takes everything that follows.
    leaveA();
    await sleep(300);
    await publish("7", "8");
    await until(() => seen.b.includes("7") && seen.b.includes("8"), 8000);
    await sleep(200);
    leaveB();

    assert.deepEqual([...seen.a, ...seen.b].sort(), ["1", "2", "3", "4", "5", "6", "7", "8"], "each once");
    assert.ok(!seen.b.includes("1") && !seen.b.includes("2"), `b resumed after a: ${seen.b}`);
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
    // Both return while the server is still down: the caller never waits for the connection.
    await bus.publish("gaia.asset.generation.requested", { id: "during" });
    await bus.publish("world.updates.user.1", { dropped: true });
    assert.ok(!bus.healthy(), "still disconnected when publish returned");

    await nats.start();
    await until(() => seen.includes("during"), 20_000);
    stop();
    await bus.close();
  });
});
