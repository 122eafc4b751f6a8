import { strict as assert } from "node:assert";
import { BODY_LIMITS } from "@gaia/kit";
import { type ChatPlatform, startChatPlatform, type TestUser } from "./support/platform.ts";

/**
 * Every body limit holds end to end: a body exactly at its route's limit gets through the gateway and is read by
 * the service behind it (which then judges its content), and one byte more is the gateway's 413 — for each class
 * of route that a service of this build answers.
 */
describe("body limits through the gateway agree with the services behind it (PostgreSQL, Redis, NATS)", function () {
  this.timeout(60_000);
  let p: ChatPlatform;
  let alice: TestUser;

  before(async function () {
    this.timeout(120_000);
    p = await startChatPlatform();
    alice = await p.newUser();
  });
  after(async () => p?.close());

  /** A JSON object of exactly `size` bytes: `fields`, with the padding in `pad`. */
  const exactly = (size: number, fields: Record<string, unknown>, pad: string) => {
    const base = JSON.stringify({ ...fields, [pad]: "" });
    return JSON.stringify({ ...fields, [pad]: "a".repeat(size - Buffer.byteLength(base)) });
  };
  const send = async (path: string, body: string, withKey: boolean) => {
    const response = await fetch(`${p.gateway}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(withKey ? { "x-api-key": alice.key } : {}) },
      body,
    });
    return { status: response.status, body: (await response.json()) as { detail?: string } };
  };

  const classes: [string, number, string, Record<string, unknown>, string, boolean][] = [
    ["small (auth)", BODY_LIMITS.small, "/api/v1/auth/login", { email: "a@example.test" }, "password", false],
    ["default (conversations)", BODY_LIMITS.default, "/api/v1/conversations", {}, "title", true],
    ["chat (a chat turn)", BODY_LIMITS.chat, "/api/v1/chat", {}, "message", true],
  ];
  for (const [name, limit, path, fields, pad, withKey] of classes) {
    it(`${name}: ${limit} bytes reach the service, ${limit + 1} are refused with 413`, async () => {
      const atLimit = exactly(limit, fields, pad);
      assert.equal(Buffer.byteLength(atLimit), limit);
      const read = await send(path, atLimit, withKey);
      // The service read the whole body and refused what is in it (too long a field), not its size.
      assert.equal(read.status, 422, JSON.stringify(read.body).slice(0, 300));
      assert.match(String(read.body.detail), new RegExp(`^${pad}: `));

      const over = await send(path, exactly(limit + 1, fields, pad), withKey);
      assert.equal(over.status, 413);
      assert.equal(over.body.detail, "Request body too large");
    });
  }
});
