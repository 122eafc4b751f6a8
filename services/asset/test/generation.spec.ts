import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { queryAsOwner } from "../../../test/support/servers.ts";
import {
  FAKE_OPENAI_IMAGES_KEY,
  type FakeOpenAIImages,
  startFakeOpenAIImages,
} from "./support/fake-openai-images.ts";
import { FAKE_STABILITY_KEY, type FakeStability, startFakeStability } from "./support/fake-stability.ts";
import { type AssetPlatform, type AssetUser, startAssetPlatform } from "./support/platform.ts";

/**
 * Cost choice, cache, fallback, idempotency, budgets and progress events, with the OpenAI and Stability
 * adapters talking to local servers that speak those providers' wire formats.
 */

const API = "/api/v1/assets";
const GENERATIONS = "/v1/images/generations";
const STABILITY_CORE = "/v2beta/stable-image/generate/core";

describe("asset generation against provider servers (OpenAI images, Stability)", function () {
  this.timeout(120_000);
  let p: AssetPlatform;
  let openai: FakeOpenAIImages;
  let stability: FakeStability;
  let alice: AssetUser;

  before(async () => {
    [openai, stability] = await Promise.all([startFakeOpenAIImages(), startFakeStability()]);
    p = await startAssetPlatform({
      env: {
        OPENAI_API_KEY: FAKE_OPENAI_IMAGES_KEY,
        OPENAI_BASE_URL: openai.baseUrl,
        STABILITY_API_KEY: FAKE_STABILITY_KEY,
        STABILITY_BASE_URL: stability.url,
        GAIA_ASSET_MAX_ATTEMPTS: "2",
      },
    });
    alice = await p.user();
  });
  after(async () => {
    await p?.close();
    await Promise.all([openai?.close(), stability?.close()]);
  });

  it("takes the cheapest provider that can, charges what it cost, and serves a repeat from the cache with no call", async () => {
    // Draft images: Stability core ($0.03) is dearer than OpenAI low ($0.011).
    const before = openai.calls(GENERATIONS);
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a misty harbour",
      quality: "draft",
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.provider, "openai");
    assert.equal(made.body.cost_usd, 0.011);
    assert.match(made.body.explanation, /openai is the cheapest.*then stability/);
    assert.equal(openai.calls(GENERATIONS), before + 1);
    const usage = await queryAsOwner<{ service: string; provider: string; cost_usd: string }>(
      p.databaseUrl,
      `SELECT service, provider, cost_usd FROM usage_records WHERE user_id = '${alice.userId}'`,
    );
    assert.deepEqual(
      usage.map((u) => [u.service, u.provider, Number(u.cost_usd)]),
      [["asset", "openai", 0.011]],
    );
    const png = Buffer.from(await (await p.raw(alice, made.body.download_url)).arrayBuffer());
    assert.equal(png.subarray(1, 4).toString(), "PNG");

    const again = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "A misty harbour ",
      quality: "draft",
    });
    assert.equal(again.body.strategy, "cache");
    assert.equal(again.body.cost_usd, 0);
    assert.equal(openai.calls(GENERATIONS), before + 1, "the cache called no provider");

    const estimate = await p.call(alice, "POST", "/api/v0.2/assets/pricing/cost-estimator/estimate", {
      type: "image",
      prompt: "anything",
      quality: "high",
    });
    assert.equal(estimate.status, 200);
    assert.deepEqual(
      estimate.body.candidates.map((c: { provider: string; estimate_usd: number }) => [
        c.provider,
        c.estimate_usd,
      ]),
      [
        ["stability", 0.08],
        ["openai", 0.167],
      ],
    );
    assert.equal(openai.calls(GENERATIONS), before + 1, "estimating spends nothing");
  });

  it("falls back to the next provider of the same kind when one fails before charging, and records who served", async () => {
    openai.enqueue({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "texture",
      prompt: "mossy stone",
      quality: "draft",
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.provider, "stability");
    assert.equal(made.body.cost_usd, 0.03);
    const events = await p.call(alice, "GET", `${API}/jobs/${made.body.job_id}`);
    assert.equal(events.body.provider, "stability");
    assert.ok(stability.calls(STABILITY_CORE) >= 1);
  });

  it("a replayed Idempotency-Key attaches to the first job: one provider call, one charge", async () => {
    const body = { type: "image", prompt: "the lighthouse keeper", quality: "draft", wait: false };
    const headers = { "idempotency-key": `idem-${Date.now()}` };
    const before = openai.calls(GENERATIONS);
    openai.enqueue({ kind: "image", delayMs: 300 });
    const [a, b] = await Promise.all([
      p.call(alice, "POST", `${API}/generate`, body, headers),
      p.call(alice, "POST", `${API}/generate`, body, headers),
    ]);
    assert.equal(a.body.job_id, b.body.job_id);
    assert.equal(a.status, 202);
    const job = await waitForJob(p, alice, a.body.job_id);
    assert.equal(job.status, "completed");
    const replay = await p.call(alice, "POST", `${API}/generate`, body, headers);
    assert.equal(replay.body.job_id, a.body.job_id);
    assert.equal(replay.body.attached, true);
    assert.equal(openai.calls(GENERATIONS), before + 1);
    const charges = await queryAsOwner<{ n: string }>(
      p.databaseUrl,
      `SELECT count(*) AS n FROM usage_records WHERE user_id = '${alice.userId}'`,
    );
    assert.equal(Number(charges[0]!.n), 3, "three generations so far, each charged once");
  });

  it("streams a job's progress as SSE with ids; Last-Event-ID resumes exactly; JetStream has the lifecycle", async () => {
    // A subscriber of its own (asset's user may publish there, not listen).
    const creds = new URL(p.nats.url);
    const nc = await connect({
      servers: `${creds.hostname}:${creds.port}`,
      user: decodeURIComponent(creds.username),
      pass: decodeURIComponent(creds.password),
    });
    const seen: { subject: string; job_id: string }[] = [];
    const sub = nc.subscribe("gaia.asset.generation.>");
    void (async () => {
      for await (const m of sub) seen.push({ subject: m.subject, ...(m.json() as { job_id: string }) });
    })();
    openai.enqueue({ kind: "image", delayMs: 400 });
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a slow sunrise",
      quality: "draft",
      wait: false,
    });
    assert.equal(made.status, 202);
    const events = await sse(p, alice, `${API}/jobs/${made.body.job_id}/events`);
    const types = events.map((e) => e.event);
    assert.equal(types[0], "queued");
    assert.equal(types.at(-1), "completed");
    assert.ok(types.includes("started"));
    assert.deepEqual(
      events.map((e) => Number(e.id)),
      events.map((_, i) => i + 1),
      "ids count up from 1",
    );
    const resumed = await sse(p, alice, `${API}/jobs/${made.body.job_id}/events`, { "last-event-id": "2" });
    assert.deepEqual(
      resumed.map((e) => e.id),
      events.slice(2).map((e) => e.id),
    );
    await new Promise((r) => setTimeout(r, 300));
    await nc.drain();
    const mine = seen.filter((e) => e.job_id === made.body.job_id).map((e) => e.subject);
    assert.ok(
      mine.includes("gaia.asset.generation.started") && mine.includes("gaia.asset.generation.completed"),
      JSON.stringify(mine),
    );
  });

  it("refuses a request over the caller's budget before any provider is called", async () => {
    await p.restartAsset({ GAIA_USER_BUDGET_USD: "0.05" });
    const before = openai.calls(GENERATIONS) + stability.calls(STABILITY_CORE);
    const high = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "an expensive dragon",
      quality: "high",
    });
    assert.ok([402, 429].includes(high.status), JSON.stringify(high.body));
    assert.match(high.body.detail, /budget/);
    assert.equal(openai.calls(GENERATIONS) + stability.calls(STABILITY_CORE), before);
    const carol = await p.user();
    const capped = await p.call(carol, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a cheap rat",
      quality: "draft",
      max_cost_usd: 0.001,
    });
    assert.equal(capped.status, 422, JSON.stringify(capped.body));
    assert.match(capped.body.detail, /max_cost_usd/);
  });

  it("a provider still silent at the job's deadline: failed, asked once, and no other provider asked", async () => {
    await p.restartAsset({ GAIA_ASSET_JOB_TIMEOUT_S: "1", GAIA_USER_BUDGET_USD: "" });
    const dave = await p.user();
    const [openaiBefore, stabilityBefore] = [openai.calls(GENERATIONS), stability.calls(STABILITY_CORE)];
    openai.enqueue({ kind: "hang" });
    const made = await p.call(dave, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a silent bell",
      quality: "draft",
      wait: false,
    });
    assert.equal(made.status, 202, JSON.stringify(made.body));
    const job = await waitForJob(p, dave, made.body.job_id);
    assert.equal(job.status, "failed");
    assert.match(job.error, /did not answer in time/);
    assert.equal(
      openai.calls(GENERATIONS),
      openaiBefore + 1,
      "asked once: it may be making and billing the image",
    );
    assert.equal(
      stability.calls(STABILITY_CORE),
      stabilityBefore,
      "no fallback after a request that may have been billed",
    );
  });
});

async function waitForJob(p: AssetPlatform, user: AssetUser, id: string) {
  for (let i = 0; i < 200; i++) {
    const job = await p.call(user, "GET", `/api/v1/assets/jobs/${id}`);
    if (["completed", "failed", "canceled"].includes(job.body.status)) return job.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

async function sse(p: AssetPlatform, user: AssetUser, path: string, headers: Record<string, string> = {}) {
  const response = await p.raw(user, path, headers);
  assert.equal(response.status, 200);
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.includes("data:"))
    .map((block) => {
      const field = (name: string) =>
        block
          .split("\n")
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return { id: field("id"), event: field("event"), data: JSON.parse(field("data") ?? "{}") };
    });
}
