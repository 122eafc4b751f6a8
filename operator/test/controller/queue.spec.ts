import assert from "node:assert/strict";
import { backoffDelay, type Timer, WorkQueue } from "../../src/controller/queue.ts";

/** Timers under the test's control: `advance(ms)` fires what is due. */
function fakeTimers() {
  let now = 0;
  const pending: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const timer: Timer = (callback, ms) => {
    const entry = { at: now + ms, callback, cancelled: false };
    pending.push(entry);
    return () => {
      entry.cancelled = true;
    };
  };
  const advance = (ms: number) => {
    now += ms;
    for (const entry of pending.filter((e) => !e.cancelled && e.at <= now)) {
      entry.cancelled = true;
      entry.callback();
    }
  };
  return { timer, advance, scheduled: () => pending.filter((e) => !e.cancelled).map((e) => e.at - now) };
}

describe("controller/queue", () => {
  it("doubles the back-off per failure up to the cap", () => {
    const backoff = { baseMs: 100, maxMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, backoff)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });

  it("holds a key once however often it is added", async () => {
    const queue = new WorkQueue();
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/a");
    assert.equal(queue.depth, 2);
    assert.equal(await queue.get(), "ns/a");
    assert.equal(await queue.get(), "ns/b");
  });

  it("never hands out a key in process; one added meanwhile comes back when done", async () => {
    const queue = new WorkQueue();
    queue.add("ns/a");
    const key = await queue.get();
    queue.add("ns/a");
    assert.equal(queue.depth, 0, "not queued while in process");
    queue.done(key!);
    assert.equal(queue.depth, 1);
    assert.equal(await queue.get(), "ns/a");
  });

  it("wakes a waiting worker", async () => {
    const queue = new WorkQueue();
    const next = queue.get();
    queue.add("ns/a");
    assert.equal(await next, "ns/a");
  });

  it("retries a failing key after a growing delay, per key, and forgets on success", () => {
    const clock = fakeTimers();
    const queue = new WorkQueue({ baseMs: 100, maxMs: 10_000 }, clock.timer);
    assert.equal(queue.addRateLimited("ns/a"), 100);
    assert.equal(queue.addRateLimited("ns/a"), 200);
    assert.equal(queue.addRateLimited("ns/b"), 100, "another key has its own back-off");
    clock.advance(100);
    assert.equal(queue.depth, 1, "b is due, a's delay was replaced by the longer one");
    clock.advance(100);
    assert.equal(queue.depth, 2);
    queue.forget("ns/a");
    assert.equal(queue.addRateLimited("ns/a"), 100);
  });

  it("releases waiting workers and drops timers on shutdown", async () => {
    const clock = fakeTimers();
    const queue = new WorkQueue({ baseMs: 100, maxMs: 1000 }, clock.timer);
    const waiting = queue.get();
    queue.addAfter("ns/a", 50);
    queue.shutDown();
    assert.equal(await waiting, undefined);
    assert.deepEqual(clock.scheduled(), []);
    queue.add("ns/b");
    assert.equal(await queue.get(), undefined);
  });
});
