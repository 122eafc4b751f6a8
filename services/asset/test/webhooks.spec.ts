import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { sign } from "../src/webhooks.ts";
import { type AssetPlatform, type AssetUser, startAssetPlatform } from "./support/platform.ts";

/**
 * Standard Webhooks deliveries of a job's final event, through the gateway, to a local receiver that verifies each
 * one with the official `standardwebhooks` library: retries, redirects refused, the delivery log, ping, replay,
 * and the SSRF guard.
 */

const API = "/api/v1/assets";

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Statuses to answer on a path, in turn (then 200). */
  answer(path: string, ...statuses: number[]): void;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const queues = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({
        path,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString(),
      });
      const status = queues.get(path)?.shift() ?? 200;
      if (status >= 300 && status < 400) res.setHeader("location", `${url}/elsewhere`);
      res.writeHead(status).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    answer(path, ...statuses) {
      queues.set(path, statuses);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("asset webhooks (Standard Webhooks) through the gateway", function () {
  this.timeout(120_000);
  let p: AssetPlatform;
  let receiver: Receiver;
  let alice: AssetUser;
  let secret: string;

  before(async () => {
    receiver = await startReceiver();
    p = await startAssetPlatform({
      env: { GAIA_ASSET_WEBHOOK_ALLOW_PRIVATE: "true", GAIA_ASSET_WEBHOOK_RETRY_BASE_MS: "20" },
    });
    alice = await p.user();
    const got = await p.call(alice, "GET", `${API}/webhooks/secret`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    secret = got.body.secret;
  });
  after(async () => {
    await p?.close();
    await receiver?.close();
  });

  // biome-ignore lint/suspicious/noExplicitAny: tests read the event field by field.
  const verified = (r: Received) => new Webhook(secret).verify(r.body, r.headers) as Record<string, any>;
  const deliveries = async (jobId: string, n: number) =>
    until(`${n} deliveries of ${jobId}`, async () => {
      const listed = await p.call(alice, "GET", `${API}/jobs/${jobId}/deliveries`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return listed.body.deliveries.length >= n ? listed.body.deliveries : undefined;
    });

  it("signs as the specification says (the official library agrees)", () => {
    const s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const at = new Date(1_674_087_231_000);
    assert.equal(sign(s, "msg_1", 1_674_087_231, '{"a":1}'), new Webhook(s).sign("msg_1", at, '{"a":1}'));
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/);
  });

  it("a completed job delivers one signed event, recorded, and the secret stays the same", async () => {
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a signed lighthouse",
      webhook_url: `${receiver.url}/done`,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.job.webhook_url, `${receiver.url}/done`);
    const got = await until("the delivery", () => receiver.received.find((r) => r.path === "/done"));
    const event = verified(got);
    assert.equal(event.type, "asset.generation.completed");
    assert.equal(event.data.job_id, made.body.job_id);
    assert.equal(event.data.asset_id, made.body.asset_id);
    assert.equal(event.data.status, "completed");
    assert.equal(event.data.provider, "placeholder");
    assert.equal(event.data.cost_usd, 0);
    assert.equal(event.data.download_url, `${API}/${made.body.asset_id}/content`);
    assert.equal(event.data.error, null);
    assert.equal(got.headers["webhook-id"], `msg_${made.body.job_id}`);
    assert.match(got.headers["webhook-timestamp"]!, /^\d{10}$/);
    const [one] = await deliveries(made.body.job_id, 1);
    assert.equal(one.attempt, 1);
    assert.equal(one.status, 200);
    assert.equal(one.event, "asset.generation.completed");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(receiver.received.filter((r) => r.path === "/done").length, 1, "delivered once");
    assert.equal((await p.call(alice, "GET", `${API}/webhooks/secret`)).body.secret, secret);
  });

  it("retries a receiver answering 500 twice, then 200: three attempts recorded and listed", async () => {
    receiver.answer("/flaky", 500, 500);
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a flaky receiver",
      webhook_url: `${receiver.url}/flaky`,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const listed = await deliveries(made.body.job_id, 3);
    assert.deepEqual(
      listed.map((d: { attempt: number; status: number }) => [d.attempt, d.status]),
      [
        [1, 500],
        [2, 500],
        [3, 200],
      ],
    );
    assert.match(listed[0].error, /500/);
    const got = receiver.received.filter((r) => r.path === "/flaky");
    assert.equal(got.length, 3);
    for (const r of got) assert.equal(verified(r).data.job_id, made.body.job_id);
    assert.equal(
      new Set(got.map((r) => r.headers["webhook-id"])).size,
      1,
      "one message id for every attempt",
    );
  });

  it("does not follow a redirect: recorded as such, its Location never requested", async () => {
    receiver.answer("/moved", 302, 302, 302, 302, 302);
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a moved receiver",
      webhook_url: `${receiver.url}/moved`,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const [first] = await deliveries(made.body.job_id, 1);
    assert.equal(first.status, 302);
    assert.equal(first.error, "redirects are not followed");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await deliveries(made.body.job_id, 1)).length, 1, "a redirect is not retried");
    assert.equal(receiver.received.filter((r) => r.path === "/elsewhere").length, 0);
  });

  it("pings: a signed test delivery now, answering the receiver's status", async () => {
    const ok = await p.call(alice, "POST", `${API}/webhooks/test`, { url: `${receiver.url}/ping` });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.delivered, true);
    assert.equal(ok.body.status, 200);
    const got = receiver.received.find((r) => r.path === "/ping")!;
    assert.equal(verified(got).type, "asset.webhook.ping");
    receiver.answer("/ping-down", 503);
    const down = await p.call(alice, "POST", `${API}/webhooks/test`, { url: `${receiver.url}/ping-down` });
    assert.equal(down.body.delivered, false);
    assert.equal(down.body.status, 503);
    const bad = await p.call(alice, "POST", `${API}/webhooks/test`, { url: "ftp://example.com" });
    assert.equal(bad.status, 422);
  });

  it("replays a job's final event on request", async () => {
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a replayed event",
      webhook_url: `${receiver.url}/replay`,
    });
    await deliveries(made.body.job_id, 1);
    const replay = await p.call(alice, "POST", `${API}/jobs/${made.body.job_id}/deliveries/replay`);
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    const listed = await deliveries(made.body.job_id, 2);
    assert.deepEqual(
      listed.map((d: { status: number }) => d.status),
      [200, 200],
    );
    const got = receiver.received.filter((r) => r.path === "/replay");
    assert.equal(got.length, 2);
    assert.equal(verified(got[1]!).data.job_id, made.body.job_id);
    const none = await p.call(alice, "POST", `${API}/generate`, { type: "image", prompt: "no hook here" });
    assert.equal(
      (await p.call(alice, "POST", `${API}/jobs/${none.body.job_id}/deliveries/replay`)).status,
      409,
    );
    const bob = await p.user();
    assert.equal((await p.call(bob, "GET", `${API}/jobs/${made.body.job_id}/deliveries`)).status, 404);
  });

  it("refuses a webhook_url on a private address unless allowed (422, no job made)", async () => {
    await p.restartAsset({ GAIA_ASSET_WEBHOOK_ALLOW_PRIVATE: "false" });
    const before = await p.call(alice, "GET", `${API}/jobs`);
    for (const url of [
      `${receiver.url}/nope`,
      "http://[::1]:9/x",
      "http://169.254.169.254/latest",
      "http://10.1.2.3/",
    ]) {
      const refused = await p.call(alice, "POST", `${API}/generate`, {
        type: "image",
        prompt: "a private hook",
        webhook_url: url,
      });
      assert.equal(refused.status, 422, `${url}: ${JSON.stringify(refused.body)}`);
      assert.match(refused.body.detail, /private addresses are refused/);
    }
    assert.match(
      (await p.call(alice, "POST", `${API}/webhooks/test`, { url: `${receiver.url}/nope` })).body.detail,
      /127\.0\.0\.1, a loopback address/,
    );
    assert.equal(
      (await p.call(alice, "GET", `${API}/jobs`)).body.total,
      before.body.total,
      "no job was made",
    );
    assert.equal(receiver.received.filter((r) => r.path === "/nope").length, 0);
  });
});
