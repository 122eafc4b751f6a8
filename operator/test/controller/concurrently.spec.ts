import assert from "node:assert/strict";
import { eachConcurrently } from "../../src/controller/concurrently.ts";

describe("controller/concurrently", () => {
  it("works on every item once, never more than the limit at a time", async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await eachConcurrently([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5 * (n % 3)));
      seen.push(n);
      running--;
    });
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(peak, 3);
  });

  it("does nothing for no items", async () => {
    let calls = 0;
    await eachConcurrently([], 8, async () => {
      calls++;
    });
    assert.equal(calls, 0);
  });
});
