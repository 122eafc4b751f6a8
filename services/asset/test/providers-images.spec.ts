import { strict as assert } from "node:assert";
import { freePort } from "../../../test/support/servers.ts";
import { OpenAIImagesProvider, redact } from "../src/providers/openai-images.ts";
import {
  aspectRatioFor,
  engineFor,
  STABILITY_LIST_USD,
  StabilityProvider,
  stylePresetFor,
} from "../src/providers/stability.ts";
import { type AssetSpec, type PriceOf, ProviderError, type Task } from "../src/providers/types.ts";
import {
  FAKE_OPENAI_IMAGES_KEY,
  type FakeOpenAIImages,
  startFakeOpenAIImages,
} from "./support/fake-openai-images.ts";
import { FAKE_STABILITY_KEY, type FakeStability, startFakeStability } from "./support/fake-stability.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const never = new AbortController().signal;
const noPrice: PriceOf = () => undefined;

function spec(overrides: Partial<AssetSpec> = {}): AssetSpec {
  return { type: "image", prompt: "a red fox in the snow", quality: "standard", ...overrides };
}

function pngSize(bytes: Buffer): { width: number; height: number } {
  assert.ok(bytes.subarray(0, 8).equals(PNG), "PNG signature");
  assert.equal(bytes.subarray(12, 16).toString("latin1"), "IHDR");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `a ProviderError, not ${String(error)}`);
    return error;
  }
  assert.fail("expected a ProviderError");
}

/** The task as the job stores it (JSON in a row) and reads it back after a restart. */
const stored = (task: Task): Task => JSON.parse(JSON.stringify(task));

describe("asset providers: OpenAI images over the official SDK", function () {
  this.timeout(15_000);
  let fake: FakeOpenAIImages;
  const provider = (
    options: { model?: string; apiKey?: string; timeoutMs?: number; baseUrl?: string } = {},
  ) =>
    new OpenAIImagesProvider(
      {
        apiKey: options.apiKey ?? FAKE_OPENAI_IMAGES_KEY,
        baseUrl: options.baseUrl ?? fake.baseUrl,
        timeoutMs: options.timeoutMs ?? 5_000,
      },
      { model: options.model },
    );

  before(async () => {
    fake = await startFakeOpenAIImages();
  });
  after(async () => fake?.close());

  it("makes a gpt-image-1 PNG within submit, and fetches it from the task alone after a restart", async () => {
    const openai = provider();
    assert.equal(openai.id, "openai");
    assert.equal(openai.capabilities.slow, false);
    assert.deepEqual(openai.capabilities.types, ["image", "texture", "sprite"]);
    assert.deepEqual(openai.capabilities.formats.image, ["png", "webp", "jpeg"]);
    assert.deepEqual(openai.capabilities.sizes, ["1024x1024", "1536x1024", "1024x1536"]);

    const before = fake.calls("/v1/images/generations");
    const task = await openai.submit(spec({ quality: "high", size: "1536x1024" }), never);
    assert.equal(fake.calls("/v1/images/generations"), before + 1);
    const seen = fake.requests.at(-1)!;
    assert.equal(seen.method, "POST");
    assert.equal(seen.path, "/v1/images/generations");
    assert.equal(seen.headers.authorization, `Bearer ${FAKE_OPENAI_IMAGES_KEY}`);
    assert.deepEqual(seen.body, {
      model: "gpt-image-1",
      prompt: "a red fox in the snow",
      n: 1,
      size: "1536x1024",
      quality: "high",
      output_format: "png",
    });
    assert.ok(task.id, "a task id");
    assert.equal(typeof task.state.b64, "string");

    // A restarted service has only the stored task: it polls and fetches without calling OpenAI again.
    const restarted = provider();
    assert.deepEqual(await restarted.poll(stored(task), never), { status: "succeeded" });
    const [file, ...rest] = await restarted.fetch(stored(task), never);
    assert.equal(rest.length, 0);
    assert.equal(file!.contentType, "image/png");
    assert.equal(file!.format, "png");
    assert.deepEqual(pngSize(file!.bytes), { width: 3, height: 2 });
    assert.equal(fake.calls("/v1/images/generations"), before + 1, "no second call");
  });

  it("maps draft/standard/high to low/medium/high and passes the format", async () => {
    const openai = provider();
    for (const [quality, sent] of [
      ["draft", "low"],
      ["standard", "medium"],
      ["high", "high"],
    ] as const) {
      await openai.submit(spec({ quality }), never);
      assert.equal(fake.requests.at(-1)!.body.quality, sent);
      assert.equal(fake.requests.at(-1)!.body.size, "1024x1024", "the default size");
    }
    const webp = await openai.fetch(await openai.submit(spec({ format: "webp" }), never), never);
    assert.equal(fake.requests.at(-1)!.body.output_format, "webp");
    assert.equal(webp[0]!.contentType, "image/webp");
    assert.equal(webp[0]!.bytes.subarray(8, 12).toString("latin1"), "WEBP");
    const jpeg = await openai.fetch(await openai.submit(spec({ format: "jpeg" }), never), never);
    assert.equal(jpeg[0]!.contentType, "image/jpeg");
    assert.equal(jpeg[0]!.bytes[0], 0xff);
  });

  it("asks for a transparent background for sprites and says style and exclusions in the prompt", async () => {
    await provider().submit(
      spec({ type: "sprite", style: "pixel art", negativePrompt: "text, watermark" }),
      never,
    );
    const body = fake.requests.at(-1)!.body;
    assert.equal(body.background, "transparent");
    assert.equal(body.prompt, "a red fox in the snow\nStyle: pixel art.\nAvoid: text, watermark.");
  });

  it("speaks DALL·E 3's parameters when configured for it", async () => {
    const dalle = provider({ model: "dall-e-3" });
    assert.deepEqual(dalle.capabilities.sizes, ["1024x1024", "1792x1024", "1024x1792"]);
    assert.deepEqual(dalle.capabilities.formats.image, ["png"]);
    const [file] = await dalle.fetch(
      await dalle.submit(spec({ quality: "high", size: "1792x1024" }), never),
      never,
    );
    assert.deepEqual(fake.requests.at(-1)!.body, {
      model: "dall-e-3",
      prompt: "a red fox in the snow",
      n: 1,
      size: "1792x1024",
      response_format: "b64_json",
      quality: "hd",
    });
    assert.equal(file!.contentType, "image/png");
    assert.deepEqual(pngSize(file!.bytes), { width: 7, height: 4 });
  });

  it("refuses sizes, formats and types the model does not offer without calling OpenAI", async () => {
    const before = fake.calls("/v1/images/generations");
    for (const [model, request] of [
      ["gpt-image-1", spec({ size: "1792x1024" })],
      ["dall-e-3", spec({ size: "1536x1024" })],
      ["dall-e-3", spec({ format: "webp" })],
      ["gpt-image-1", spec({ type: "music" })],
    ] as const) {
      const error = await providerError(provider({ model }).submit(request, never));
      assert.equal(error.provider, "openai");
      assert.equal(error.options.retryable, false);
      assert.equal(error.options.charged, false);
    }
    assert.equal(fake.calls("/v1/images/generations"), before);
  });

  it("downloads the image when the answer is a URL", async () => {
    fake.enqueue({ kind: "image", asUrl: true });
    const openai = provider();
    const [file] = await openai.fetch(await openai.submit(spec(), never), never);
    assert.ok(file!.bytes.subarray(0, 8).equals(PNG));
    assert.equal(fake.calls("/files/img-1.png"), 1);
  });

  it("401: not retryable, not charged, names openai and never shows the key", async () => {
    const wrong = "sk-proj-WRONGkey1234567890abcdef";
    const error = await providerError(provider({ apiKey: wrong }).submit(spec(), never));
    assert.equal(fake.requests.at(-1)!.headers.authorization, `Bearer ${wrong}`);
    assert.equal(error.provider, "openai");
    assert.equal(error.options.status, 401);
    assert.equal(error.options.retryable, false);
    assert.equal(error.options.charged, false);
    assert.match(error.message, /^openai: /);
    assert.match(error.message, /Incorrect API key provided/);
    assert.ok(!error.message.includes(wrong), error.message);
    assert.ok(!error.message.includes("WRONGkey"), error.message);
  });

  it("403: not retryable, not charged", async () => {
    fake.enqueue({
      kind: "error",
      status: 403,
      message: "Project does not have access to model gpt-image-1",
    });
    const error = await providerError(provider().submit(spec(), never));
    assert.equal(error.options.status, 403);
    assert.equal(error.options.retryable, false);
    assert.equal(error.options.charged, false);
  });

  it("429: retryable after Retry-After, not charged; out of quota is not retryable", async () => {
    fake.enqueue({ kind: "error", status: 429, message: "Rate limit reached for images", retryAfter: "7" });
    const limited = await providerError(provider().submit(spec(), never));
    assert.equal(limited.options.status, 429);
    assert.equal(limited.options.retryable, true);
    assert.equal(limited.options.charged, false);
    assert.equal(limited.options.retryAfterMs, 7_000);

    fake.enqueue({ kind: "error", status: 429, retryAfterMs: "1500" });
    assert.equal((await providerError(provider().submit(spec(), never))).options.retryAfterMs, 1_500);

    fake.enqueue({
      kind: "error",
      status: 429,
      message: "You exceeded your current quota, please check your plan and billing details.",
      type: "insufficient_quota",
      code: "insufficient_quota",
    });
    const quota = await providerError(provider().submit(spec(), never));
    assert.equal(quota.options.retryable, false);
    assert.equal(quota.options.charged, false);
  });

  it("500: retryable, not charged", async () => {
    fake.enqueue({ kind: "error", status: 500, message: "The server had an error processing your request." });
    const error = await providerError(provider().submit(spec(), never));
    assert.equal(error.options.status, 500);
    assert.equal(error.options.retryable, true);
    assert.equal(error.options.charged, false);
  });

  it("a server that never answers: after timeoutMs, charged (it may be making the image) and not asked again", async () => {
    fake.enqueue({ kind: "hang" });
    const started = Date.now();
    const error = await providerError(provider({ timeoutMs: 300 }).submit(spec(), never));
    const mayBeBilled = true;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3_000, `gave up after ${elapsed} ms`);
    assert.equal(error.provider, "openai");
    assert.equal(error.options.retryable, !mayBeBilled);
    assert.equal(error.options.charged, mayBeBilled);
    assert.match(error.message, /300 ms/);
    await fake.requests.at(-1)!.finished;
    assert.equal(fake.requests.at(-1)!.aborted, true, "the connection was closed");
  });

  it("a dropped connection may have been billed (charged, not retried); a refused one is retryable; a cancelled call is not", async () => {
    fake.enqueue({ kind: "drop" });
    const dropped = await providerError(provider().submit(spec(), never));
    assert.equal(dropped.options.retryable, false);
    assert.equal(dropped.options.charged, true);
    const refused = await providerError(
      provider({ baseUrl: `http://127.0.0.1:${await freePort()}` }).submit(spec(), never),
    );
    assert.equal(refused.options.retryable, true, refused.message);
    assert.equal(refused.options.charged, false);

    fake.enqueue({ kind: "hang" });
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 100);
    const cancelled = await providerError(provider().submit(spec(), cancel.signal));
    assert.equal(cancelled.options.retryable, false);
    assert.match(cancelled.message, /cancelled/);
  });

  it("a prompt the safety system rejects (400 moderation_blocked): not retryable, not charged", async () => {
    fake.enqueue({ kind: "moderation" });
    const error = await providerError(provider().submit(spec(), never));
    assert.equal(error.options.status, 400);
    assert.equal(error.options.retryable, false);
    assert.equal(error.options.charged, false);
    assert.match(error.message, /content policy/);
  });

  it("estimateUsd: the price given, else OpenAI's list price", () => {
    const asked: unknown[] = [];
    const priced: PriceOf = (...args) => {
      asked.push(args);
      return 0.5;
    };
    const openai = provider();
    assert.equal(openai.estimateUsd(spec({ type: "texture", quality: "high" }), priced), 0.5);
    assert.deepEqual(asked, [["openai", "texture", "high"]]);
    assert.equal(openai.estimateUsd(spec({ quality: "draft" }), noPrice), 0.011);
    assert.equal(openai.estimateUsd(spec({ quality: "standard" }), noPrice), 0.042);
    assert.equal(openai.estimateUsd(spec({ quality: "high" }), noPrice), 0.167);
    assert.equal(openai.estimateUsd(spec({ quality: "high", size: "1024x1536" }), noPrice), 0.25);
    const dalle = provider({ model: "dall-e-3" });
    assert.equal(dalle.estimateUsd(spec({ quality: "standard" }), noPrice), 0.04);
    assert.equal(dalle.estimateUsd(spec({ quality: "high", size: "1792x1024" }), noPrice), 0.12);
  });
});

describe("asset providers: Stability AI over fetch and FormData", function () {
  this.timeout(15_000);
  let fake: FakeStability;
  const provider = (options: { apiKey?: string; timeoutMs?: number; baseUrl?: string } = {}) =>
    new StabilityProvider({
      apiKey: options.apiKey ?? FAKE_STABILITY_KEY,
      baseUrl: options.baseUrl ?? fake.url,
      timeoutMs: options.timeoutMs ?? 5_000,
    });

  before(async () => {
    fake = await startFakeStability();
  });
  after(async () => fake?.close());

  it("posts the multipart form to sd3 for standard quality and keeps the PNG for fetch after a restart", async () => {
    const stability = provider();
    assert.equal(stability.id, "stability");
    assert.equal(stability.capabilities.slow, false);
    assert.deepEqual(stability.capabilities.formats.texture, ["png", "jpeg", "webp"]);

    const path = "/v2beta/stable-image/generate/sd3";
    const before = fake.calls(path);
    const task = await stability.submit(
      spec({ size: "1920x1080", negativePrompt: "blurry", style: "Pixel Art" }),
      never,
    );
    assert.equal(fake.calls(path), before + 1);
    const seen = fake.requests.at(-1)!;
    assert.equal(seen.method, "POST");
    assert.equal(seen.path, path);
    assert.equal(seen.headers.authorization, `Bearer ${FAKE_STABILITY_KEY}`);
    assert.equal(seen.headers.accept, "image/*");
    assert.match(String(seen.headers["content-type"]), /^multipart\/form-data; boundary=/);
    assert.deepEqual(seen.fields, {
      prompt: "a red fox in the snow",
      output_format: "png",
      aspect_ratio: "16:9",
      negative_prompt: "blurry",
      style_preset: "pixel-art",
      model: "sd3.5-large",
    });
    assert.equal(task.state.seed, "1234567");
    assert.equal(task.state.engine, "sd3");

    const restarted = provider();
    assert.deepEqual(await restarted.poll(stored(task), never), { status: "succeeded" });
    const [file] = await restarted.fetch(stored(task), never);
    assert.equal(file!.contentType, "image/png");
    assert.equal(file!.format, "png");
    assert.deepEqual(pngSize(file!.bytes), { width: 16, height: 9 });
    assert.equal(fake.calls(path), before + 1, "no second call");
  });

  it("chooses the engine by quality: draft → core, high → ultra; WebP at standard goes to core", async () => {
    const stability = provider();
    await stability.submit(spec({ quality: "draft" }), never);
    assert.equal(fake.requests.at(-1)!.path, "/v2beta/stable-image/generate/core");
    assert.equal(fake.requests.at(-1)!.fields.model, undefined);
    await stability.submit(spec({ quality: "high", format: "jpeg" }), never);
    assert.equal(fake.requests.at(-1)!.path, "/v2beta/stable-image/generate/ultra");
    assert.equal(fake.requests.at(-1)!.fields.output_format, "jpeg");
    const [webp] = await stability.fetch(await stability.submit(spec({ format: "webp" }), never), never);
    assert.equal(fake.requests.at(-1)!.path, "/v2beta/stable-image/generate/core");
    assert.equal(fake.requests.at(-1)!.fields.output_format, "webp");
    assert.equal(webp!.contentType, "image/webp");
    assert.equal(webp!.format, "webp");
    assert.equal(engineFor({ quality: "standard", format: "jpeg" }), "sd3");
  });

  it("maps sizes to the nearest aspect ratio and styles to presets", async () => {
    const cases: [string | undefined, string][] = [
      [undefined, "1:1"],
      ["1024x1024", "1:1"],
      ["1536x1024", "3:2"],
      ["1024x1536", "2:3"],
      ["1080x1920", "9:16"],
      ["2560x1080", "21:9"],
      ["800x1000", "4:5"],
      ["1280x1024", "5:4"],
      ["4000x1000", "21:9"],
      ["nonsense", "1:1"],
    ];
    for (const [size, ratio] of cases) assert.equal(aspectRatioFor(size), ratio, String(size));
    assert.equal(stylePresetFor("Comic Book"), "comic-book");
    assert.equal(stylePresetFor("3d_model"), "3d-model");
    assert.equal(stylePresetFor("watercolour"), undefined);

    const stability = provider();
    await stability.submit(spec({ style: "watercolour" }), never);
    assert.equal(fake.requests.at(-1)!.fields.style_preset, undefined);
    assert.equal(fake.requests.at(-1)!.fields.prompt, "a red fox in the snow. Style: watercolour.");
    await stability.submit(spec({ type: "texture", prompt: "mossy cobblestones" }), never);
    assert.equal(fake.requests.at(-1)!.fields.style_preset, "tile-texture");
  });

  it("401: not retryable, not charged, names stability and never shows the key", async () => {
    const wrong = "sk-WRONGstabilitykey0987654321";
    const error = await providerError(provider({ apiKey: wrong }).submit(spec(), never));
    assert.equal(fake.requests.at(-1)!.headers.authorization, `Bearer ${wrong}`);
    assert.equal(error.provider, "stability");
    assert.equal(error.options.status, 401);
    assert.equal(error.options.retryable, false);
    assert.equal(error.options.charged, false);
    assert.match(error.message, /^stability: authentication failed/);
    assert.ok(!error.message.includes(wrong), error.message);
  });

  it("an error that quotes the key or a bearer header is redacted", async () => {
    const key = FAKE_STABILITY_KEY;
    fake.enqueue({ kind: "error", status: 400, errors: [`authorization: Bearer ${key} is malformed`, key] });
    const error = await providerError(provider().submit(spec(), never));
    assert.equal(error.options.status, 400);
    assert.equal(error.options.retryable, false);
    assert.ok(!error.message.includes(key), error.message);
    assert.ok(!error.message.includes(key.slice(3)), error.message);
    // A key of any shape is removed, not only OpenAI-style sk-… tokens.
    assert.equal(redact("key plainSecret99 was refused", "plainSecret99"), "key [redacted] was refused");
  });

  it("429: retryable after Retry-After (60 s when absent), not charged", async () => {
    fake.enqueue({
      kind: "error",
      status: 429,
      name: "rate_limit_exceeded",
      errors: ["You have exceeded the rate limit of 150 requests within a 10 second period"],
      retryAfter: "3",
    });
    const limited = await providerError(provider().submit(spec(), never));
    assert.equal(limited.options.status, 429);
    assert.equal(limited.options.retryable, true);
    assert.equal(limited.options.charged, false);
    assert.equal(limited.options.retryAfterMs, 3_000);
    assert.match(limited.message, /rate_limit_exceeded/);

    fake.enqueue({ kind: "error", status: 429, name: "rate_limit_exceeded" });
    assert.equal((await providerError(provider().submit(spec(), never))).options.retryAfterMs, 60_000);
  });

  it("500: retryable, not charged; 402 out of credits and 422: not retryable", async () => {
    fake.enqueue({
      kind: "error",
      status: 500,
      name: "internal_error",
      errors: ["An unexpected server error"],
    });
    const failed = await providerError(provider().submit(spec(), never));
    assert.equal(failed.options.status, 500);
    assert.equal(failed.options.retryable, true);
    assert.equal(failed.options.charged, false);

    for (const status of [402, 413, 422]) {
      fake.enqueue({ kind: "error", status });
      const refused = await providerError(provider().submit(spec(), never));
      assert.equal(refused.options.status, status);
      assert.equal(refused.options.retryable, false);
      assert.equal(refused.options.charged, false);
    }
  });

  it("a server that never answers: after timeoutMs, charged (it may be making the image) and not asked again", async () => {
    fake.enqueue({ kind: "hang" });
    const started = Date.now();
    const error = await providerError(provider({ timeoutMs: 300 }).submit(spec(), never));
    const mayBeBilled = true;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3_000, `gave up after ${elapsed} ms`);
    assert.equal(error.provider, "stability");
    assert.equal(error.options.retryable, !mayBeBilled);
    assert.equal(error.options.charged, mayBeBilled);
    assert.match(error.message, /300 ms/);
    await fake.requests.at(-1)!.finished;
    assert.equal(fake.requests.at(-1)!.aborted, true);
  });

  it("a dropped connection may have been billed (charged, not retried); a refused one is retryable; a cancelled call is not", async () => {
    fake.enqueue({ kind: "drop" });
    const dropped = await providerError(provider().submit(spec(), never));
    assert.equal(dropped.options.retryable, false);
    assert.equal(dropped.options.charged, true);
    const refused = await providerError(
      provider({ baseUrl: `http://127.0.0.1:${await freePort()}` }).submit(spec(), never),
    );
    assert.equal(refused.options.retryable, true, refused.message);
    assert.equal(refused.options.charged, false);

    fake.enqueue({ kind: "hang" });
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 100);
    const cancelled = await providerError(provider().submit(spec(), cancel.signal));
    assert.equal(cancelled.options.retryable, false);
    assert.match(cancelled.message, /cancelled/);
  });

  it("CONTENT_FILTERED: the task fails, fetch refuses for good, and the blurred image is not kept", async () => {
    fake.enqueue({ kind: "filtered" });
    const stability = provider();
    const task = await stability.submit(spec(), never);
    assert.equal(task.state.finishReason, "CONTENT_FILTERED");
    assert.equal(task.state.b64, undefined);
    const progress = await stability.poll(stored(task), never);
    assert.equal(progress.status, "failed");
    assert.match(progress.status === "failed" ? progress.error : "", /content filter/);
    const error = await providerError(stability.fetch(stored(task), never));
    assert.equal(error.options.retryable, false);
    assert.equal(error.options.charged, true);
  });

  it("403 content_moderation: not retryable, not charged", async () => {
    fake.enqueue({ kind: "moderation" });
    const error = await providerError(provider().submit(spec(), never));
    assert.equal(error.options.status, 403);
    assert.equal(error.options.retryable, false);
    assert.equal(error.options.charged, false);
    assert.match(error.message, /content moderation/);
  });

  it("refuses formats and types it cannot deliver without calling Stability", async () => {
    const before = fake.requests.length;
    for (const request of [spec({ format: "svg" }), spec({ type: "model3d" })]) {
      const error = await providerError(provider().submit(request, never));
      assert.equal(error.options.retryable, false);
      assert.equal(error.options.charged, false);
    }
    assert.equal(fake.requests.length, before);
  });

  it("estimateUsd: the price given, else the engine's list price", () => {
    const stability = provider();
    const asked: unknown[] = [];
    const priced: PriceOf = (...args) => {
      asked.push(args);
      return 0.07;
    };
    assert.equal(stability.estimateUsd(spec({ type: "sprite", quality: "draft" }), priced), 0.07);
    assert.deepEqual(asked, [["stability", "sprite", "draft"]]);
    assert.equal(stability.estimateUsd(spec({ quality: "draft" }), noPrice), 0.03);
    assert.equal(stability.estimateUsd(spec({ quality: "standard" }), noPrice), 0.065);
    assert.equal(stability.estimateUsd(spec({ quality: "high" }), noPrice), 0.08);
    assert.equal(
      stability.estimateUsd(spec({ quality: "standard", format: "webp" }), noPrice),
      STABILITY_LIST_USD.core,
    );
  });
});
