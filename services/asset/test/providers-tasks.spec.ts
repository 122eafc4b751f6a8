import { strict as assert } from "node:assert";
import { FreesoundProvider, licenceName, queries } from "../src/providers/freesound.ts";
import { MeshyProvider } from "../src/providers/meshy.ts";
import { aspectRatio, imaginePrompt, MidjourneyProvider } from "../src/providers/midjourney.ts";
import { MubertProvider } from "../src/providers/mubert.ts";
import {
  type AssetProvider,
  type AssetSpec,
  type PriceOf,
  type Progress,
  ProviderError,
  type Task,
} from "../src/providers/types.ts";
import { type FakeFreesound, startFakeFreesound } from "./support/fake-freesound.ts";
import { type FakeMeshy, startFakeMeshy, TINY_PNG } from "./support/fake-meshy.ts";
import { type FakeMidjourney, startFakeMidjourney } from "./support/fake-midjourney.ts";
import { FAKE_MUBERT_TOKEN, type FakeMubert, startFakeMubert } from "./support/fake-mubert.ts";

const never = () => new AbortController().signal;
const noPrice: PriceOf = () => undefined;
/** What the runner keeps in PostgreSQL: the Task as JSON, nothing else. */
const saved = (task: Task): Task => JSON.parse(JSON.stringify(task));

async function untilDone(provider: AssetProvider, task: Task, max = 40) {
  const seen: Progress[] = [];
  for (let i = 0; i < max; i++) {
    const progress = await provider.poll(task, never());
    seen.push(progress);
    if (progress.status !== "running") return { final: progress, seen };
  }
  throw new Error(`${provider.id}: still running after ${max} polls`);
}

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a ProviderError");
}

const model = (over: Partial<AssetSpec> = {}): AssetSpec => ({
  type: "model3d",
  prompt: "a wooden treasure chest with iron bands",
  quality: "standard",
  ...over,
});

describe("asset task providers against wire-compatible fakes", () => {
  let meshy: FakeMeshy;
  let mubert: FakeMubert;
  let freesound: FakeFreesound;
  let mj: FakeMidjourney;

  before(async () => {
    [meshy, mubert, freesound, mj] = await Promise.all([
      startFakeMeshy(),
      startFakeMubert(),
      startFakeFreesound(),
      startFakeMidjourney(),
    ]);
  });
  after(async () => {
    await Promise.all([meshy?.close(), mubert?.close(), freesound?.close(), mj?.close()]);
  });

  const newMeshy = (apiKey = meshy.key, timeoutMs = 5000) =>
    new MeshyProvider({ apiKey, baseUrl: meshy.url, timeoutMs });
  const newMubert = (apiKey = mubert.key, timeoutMs = 5000) =>
    new MubertProvider({ apiKey, baseUrl: mubert.url, timeoutMs });
  const newFreesound = (apiKey = freesound.key, timeoutMs = 5000) =>
    new FreesoundProvider({ apiKey, baseUrl: freesound.url, timeoutMs });
  const newMj = (apiKey = mj.key, timeoutMs = 5000) =>
    new MidjourneyProvider({ apiKey, baseUrl: mj.url, timeoutMs });

  describe("meshy (text to 3D, preview then refine)", () => {
    it("submits a preview, refines it, and fetches a real GLB and its thumbnail", async () => {
      const before = { ...meshy.submitted };
      const provider = newMeshy();
      const task = await provider.submit(model({ style: "low poly", negativePrompt: "blurry" }), never());
      assert.equal(task.state.stage, "preview");
      assert.equal(task.state.previewId, task.id);
      const body = meshy.bodies.at(-1)!;
      assert.equal(body.mode, "preview");
      assert.equal(body.prompt, "a wooden treasure chest with iron bands, low poly");
      assert.equal(body.negative_prompt, "blurry");
      assert.equal(body.art_style, undefined);

      const { final, seen } = await untilDone(provider, task);
      assert.deepEqual(final, { status: "succeeded" });
      assert.ok(
        seen.some((p) => p.status === "running" && p.previewReady),
        "the preview is reported ready",
      );
      const progress = seen.flatMap((p) =>
        p.status === "running" && p.progress !== undefined ? [p.progress] : [],
      );
      assert.deepEqual(
        progress,
        [...progress].sort((a, b) => a - b),
        "progress only grows",
      );
      assert.equal(task.state.stage, "refine");
      assert.equal(typeof task.state.refineId, "string");
      assert.equal(meshy.bodies.at(-1)!.mode, "refine");
      assert.equal(meshy.bodies.at(-1)!.preview_task_id, task.id);

      const files = await provider.fetch(task, never());
      assert.equal(files.length, 2);
      const [glb, thumbnail] = files;
      assert.equal(glb!.format, "glb");
      assert.equal(glb!.contentType, "model/gltf-binary");
      assert.equal(glb!.bytes.subarray(0, 4).toString("latin1"), "glTF");
      assert.equal(glb!.bytes.readUInt32LE(4), 2);
      assert.equal(glb!.bytes.readUInt32LE(8), glb!.bytes.length);
      assert.equal(glb!.bytes.subarray(16, 20).toString("latin1"), "JSON");
      assert.equal(thumbnail!.format, "png");
      assert.ok(thumbnail!.bytes.equals(TINY_PNG));
      assert.deepEqual(meshy.submitted, { preview: before.preview + 1, refine: before.refine + 1 });
      assert.ok(
        meshy.downloads.every((d) => d.authorization === undefined),
        "the signed CDN links get no key",
      );
    });

    it("delivers FBX when the request asks for it; a legacy model gets its art_style as such", async () => {
      await newMeshy().submit(model({ style: "sculpture" }), never());
      assert.equal(
        meshy.bodies.at(-1)!.art_style,
        undefined,
        "Meshy-6 ignores art_style: the style is in the prompt",
      );
      assert.equal(meshy.bodies.at(-1)!.prompt, "a wooden treasure chest with iron bands, sculpture");
      const provider = new MeshyProvider(
        { apiKey: meshy.key, baseUrl: meshy.url, timeoutMs: 5000 },
        { aiModel: "meshy-5" },
      );
      const task = await provider.submit(model({ format: "fbx", style: "Sculpture" }), never());
      assert.equal(meshy.bodies.at(-1)!.art_style, "sculpture");
      assert.equal(meshy.bodies.at(-1)!.ai_model, "meshy-5");
      assert.equal(meshy.bodies.at(-1)!.prompt, "a wooden treasure chest with iron bands");
      await untilDone(provider, task);
      const [fbx] = await provider.fetch(task, never());
      assert.equal(fbx!.format, "fbx");
      assert.equal(fbx!.bytes.subarray(0, 18).toString("latin1"), "Kaydara FBX Binary");
    });

    it("a new instance given only the Task saved after submit() resumes in the preview stage", async () => {
      const before = { ...meshy.submitted };
      const first = newMeshy();
      const task = saved(await first.submit(model(), never()));
      // The service restarts: nothing of `first` survives but the saved row.
      const second = newMeshy();
      const resumed = saved(task);
      const { final } = await untilDone(second, resumed);
      assert.deepEqual(final, { status: "succeeded" });
      const files = await second.fetch(resumed, never());
      assert.equal(files[0]!.bytes.subarray(0, 4).toString("latin1"), "glTF");
      assert.deepEqual(meshy.submitted, { preview: before.preview + 1, refine: before.refine + 1 });
    });

    it("a new instance given the Task saved in the refine stage neither previews nor refines again", async () => {
      const before = { ...meshy.submitted };
      const first = newMeshy();
      const task = await first.submit(model(), never());
      let progress: Progress;
      do progress = await first.poll(task, never());
      while (task.state.stage !== "refine" && progress.status === "running");
      assert.equal(task.state.stage, "refine");
      const row = saved(task); // the runner saves task.state after the poll that changed it

      const second = newMeshy();
      const { final, seen } = await untilDone(second, row);
      assert.deepEqual(final, { status: "succeeded" });
      assert.ok(seen.every((p) => p.status !== "running" || p.previewReady));
      assert.equal(row.state.refineId, task.state.refineId);
      const files = await newMeshy().fetch(saved(row), never());
      assert.equal(files[0]!.format, "glb");
      assert.deepEqual(meshy.submitted, { preview: before.preview + 1, refine: before.refine + 1 });
    });

    it("draft quality stops at the preview, for the preview's price", async () => {
      const before = { ...meshy.submitted };
      const provider = newMeshy();
      assert.ok(
        provider.estimateUsd(model({ quality: "draft" }), noPrice) < provider.estimateUsd(model(), noPrice),
      );
      const task = await provider.submit(model({ quality: "draft" }), never());
      const { final } = await untilDone(provider, task);
      assert.deepEqual(final, { status: "succeeded" });
      assert.equal(task.state.stage, "preview");
      const [glb] = await provider.fetch(task, never());
      assert.equal(glb!.format, "glb");
      assert.deepEqual(meshy.submitted, { preview: before.preview + 1, refine: before.refine });
    });

    it("a task that ends FAILED is a failed Progress with Meshy's reason", async () => {
      meshy.failNextTask("The prompt was flagged by moderation");
      const provider = newMeshy();
      const task = await provider.submit(model(), never());
      const { final } = await untilDone(provider, task);
      assert.equal(final.status, "failed");
      assert.match(
        (final as { error: string }).error,
        /preview task failed: The prompt was flagged by moderation/,
      );
    });

    it("a refine that fails reports the refine stage", async () => {
      const provider = newMeshy();
      const task = await provider.submit(model(), never());
      meshy.failNextTask("texturing crashed");
      const { final } = await untilDone(provider, task);
      assert.equal(final.status, "failed");
      assert.match((final as { error: string }).error, /refine task failed: texturing crashed/);
    });

    it("cancel deletes the task of the current stage", async () => {
      const provider = newMeshy();
      const task = await provider.submit(model(), never());
      await provider.cancel(task, never());
      assert.equal(meshy.deleted.at(-1), task.id);
      await provider.cancel(task, never()); // already gone: nothing to do
    });

    it("refuses formats and types it cannot make, before anything is created", async () => {
      const before = { ...meshy.submitted };
      const provider = newMeshy();
      const format = await providerError(provider.submit(model({ format: "usdz" }), never()));
      assert.equal(format.options.charged, false);
      assert.equal(format.options.retryable, false);
      await providerError(provider.submit(model({ type: "image" }), never()));
      assert.deepEqual(meshy.submitted, before);
    });

    it("prices from PriceOf when it has a price, else the list price", () => {
      const provider = newMeshy();
      assert.equal(provider.estimateUsd(model(), noPrice), 0.3);
      assert.equal(
        provider.estimateUsd(model(), (p, type, quality) =>
          p === "meshy" && type === "model3d" && quality === "standard" ? 0.42 : undefined,
        ),
        0.42,
      );
    });
  });

  describe("mubert (music generation)", () => {
    const music = (over: Partial<AssetSpec> = {}): AssetSpec => ({
      type: "music",
      prompt: "calm exploration theme for a forest level",
      style: "ambient, lo-fi",
      durationS: 42.4,
      quality: "standard",
      ...over,
    });

    it("creates a track with the duration and style asked, polls until done and fetches its MP3", async () => {
      const before = mubert.submitted;
      const provider = newMubert();
      const task = await provider.submit(music(), never());
      const body = mubert.bodies.at(-1)!;
      assert.deepEqual(body, {
        prompt: "calm exploration theme for a forest level, ambient, lo-fi",
        duration: 42,
        format: "mp3",
        bitrate: 192,
        intensity: "medium",
        mode: "track",
      });
      const { final } = await untilDone(provider, task);
      assert.deepEqual(final, { status: "succeeded" });
      const [file] = await provider.fetch(task, never());
      assert.equal(file!.format, "mp3");
      assert.equal(file!.contentType, "audio/mpeg");
      assert.equal(file!.bytes.subarray(0, 3).toString("latin1"), "ID3");
      assert.equal(mubert.submitted, before + 1);
      assert.ok(
        mubert.downloads.every((d) => d.accessToken === undefined),
        "the CDN link gets no token",
      );
    });

    it("delivers WAV when asked", async () => {
      const provider = newMubert();
      const task = await provider.submit(music({ format: "wav", quality: "high", durationS: 2 }), never());
      assert.equal(mubert.bodies.at(-1)!.duration, 5, "Mubert's shortest track");
      assert.equal(mubert.bodies.at(-1)!.bitrate, 320);
      await untilDone(provider, task);
      const [file] = await provider.fetch(task, never());
      assert.equal(file!.format, "wav");
      assert.equal(file!.contentType, "audio/wav");
      assert.equal(file!.bytes.subarray(0, 4).toString("latin1"), "RIFF");
      assert.equal(file!.bytes.subarray(8, 12).toString("latin1"), "WAVE");
    });

    it("a new instance given only the saved Task resumes without a second submission", async () => {
      const before = mubert.submitted;
      const task = saved(await newMubert().submit(music(), never()));
      await newMubert().poll(saved(task), never());
      const { final } = await untilDone(newMubert(), saved(task));
      assert.deepEqual(final, { status: "succeeded" });
      const [file] = await newMubert().fetch(saved(task), never());
      assert.equal(file!.format, "mp3");
      assert.equal(mubert.submitted, before + 1);
    });

    it("a generation that fails is a failed Progress", async () => {
      mubert.failNextTrack();
      const provider = newMubert();
      const task = await provider.submit(music(), never());
      const { final } = await untilDone(provider, task);
      assert.equal(final.status, "failed");
      assert.match((final as { error: string }).error, /generation failed/);
    });

    it("a licence refusal (403) is neither retryable nor charged", async () => {
      mubert.fail({ status: 403, message: "The duration is not allowed by the license" });
      const error = await providerError(newMubert().submit(music(), never()));
      assert.equal(error.options.status, 403);
      assert.equal(error.options.retryable, false);
      assert.equal(error.options.charged, false);
      assert.match(error.message, /^mubert: creating the track: HTTP 403: The duration is not allowed/);
    });
  });

  describe("freesound (search, HQ preview, licence)", () => {
    const sound = (over: Partial<AssetSpec> = {}): AssetSpec => ({
      type: "sound",
      prompt: "laser zap",
      quality: "standard",
      ...over,
    });

    it("searches with the token, takes the best match and fetches its HQ preview with licence and attribution", async () => {
      const provider = newFreesound();
      assert.equal(provider.estimateUsd(sound(), noPrice), 0);
      const task = await provider.submit(sound(), never());
      assert.equal(task.id, "100");
      const params = freesound.queries.at(-1)!;
      assert.equal(params.get("query"), "laser zap");
      assert.equal(params.get("fields"), "id,name,license,username,previews,duration,url");
      assert.equal(params.get("token"), null, "the key never goes in a URL");
      assert.deepEqual(await provider.poll(task, never()), { status: "succeeded" });
      const [file] = await provider.fetch(task, never());
      assert.equal(file!.format, "mp3");
      assert.equal(file!.contentType, "audio/mpeg");
      assert.equal(file!.bytes.subarray(0, 3).toString("latin1"), "ID3");
      assert.deepEqual(file!.licence, {
        name: "CC-BY 4.0",
        url: "https://creativecommons.org/licenses/by/4.0/",
        attribution: "Laser zap long.wav by sfxmaker (freesound.org/s/100)",
        source: "https://freesound.org/people/sfxmaker/sounds/100/",
      });
      assert.match(freesound.downloads.at(-1)!, /100_\d+-hq\.mp3$/);
    });

    it("keeps within the duration asked", async () => {
      const task = await newFreesound().submit(sound({ durationS: 2 }), never());
      assert.equal(task.id, "200");
      assert.equal(freesound.queries.at(-1)!.get("filter"), "duration:[0 TO 2]");
      const [file] = await newFreesound().fetch(saved(task), never());
      assert.equal(file!.licence?.name, "CC0 1.0");
      assert.equal(file!.licence?.attribution, "Laser zap short.wav by pixelbeep (freesound.org/s/200)");
    });

    it("searches a long prompt by its keywords, then fewer of them", async () => {
      const before = freesound.searches;
      const task = await newFreesound().submit(sound({ prompt: "A door slamming in an old house" }), never());
      assert.equal(task.id, "300");
      assert.equal(freesound.searches, before + 3);
      assert.deepEqual(queries("A door slamming in an old house"), [
        "door slamming old house",
        "door slamming old",
        "door",
      ]);
      const [file] = await newFreesound().fetch(saved(task), never());
      assert.equal(file!.licence?.name, "CC-BY-NC 3.0");
    });

    it("a new instance fetches from the saved Task without searching again", async () => {
      const task = saved(await newFreesound().submit(sound(), never()));
      const before = freesound.searches;
      const fresh = newFreesound();
      assert.deepEqual(await fresh.poll(saved(task), never()), { status: "succeeded" });
      const [file] = await fresh.fetch(saved(task), never());
      assert.equal(file!.licence?.attribution, "Laser zap long.wav by sfxmaker (freesound.org/s/100)");
      assert.equal(freesound.searches, before);
    });

    it("no match is a ProviderError that is neither retryable nor charged", async () => {
      const error = await providerError(newFreesound().submit(sound({ prompt: "whale song" }), never()));
      assert.equal(error.provider, "freesound");
      assert.equal(error.options.retryable, false);
      assert.equal(error.options.charged, false);
    });

    it("names Creative Commons deeds", () => {
      assert.equal(licenceName("http://creativecommons.org/publicdomain/zero/1.0/"), "CC0 1.0");
      assert.equal(licenceName("https://creativecommons.org/licenses/by/4.0/"), "CC-BY 4.0");
      assert.equal(licenceName("http://creativecommons.org/licenses/by-nc/3.0/"), "CC-BY-NC 3.0");
      assert.equal(licenceName("http://creativecommons.org/licenses/sampling+/1.0/"), "Sampling+ 1.0");
    });
  });

  describe("midjourney-compatible task API", () => {
    const image = (over: Partial<AssetSpec> = {}): AssetSpec => ({
      type: "image",
      prompt: "a lighthouse on a cliff at dusk",
      style: "oil painting",
      negativePrompt: "people",
      size: "1920x1080",
      quality: "standard",
      ...over,
    });

    it("submits an imagine, follows its progress and fetches the PNG", async () => {
      const before = mj.submitted;
      const provider = newMj();
      const task = await provider.submit(image(), never());
      assert.equal(mj.prompts.at(-1), "a lighthouse on a cliff at dusk, oil painting --no people --ar 16:9");
      const { final, seen } = await untilDone(provider, task);
      assert.deepEqual(final, { status: "succeeded" });
      const progress = seen.flatMap((p) => (p.status === "running" && p.progress ? [p.progress] : []));
      assert.ok(progress.length > 0 && progress.every((p) => p > 0 && p < 100), `progress ${progress}`);
      const [png] = await provider.fetch(task, never());
      assert.equal(png!.format, "png");
      assert.equal(png!.contentType, "image/png");
      assert.ok(png!.bytes.equals(TINY_PNG));
      assert.equal(mj.submitted, before + 1);
    });

    it("a new instance given only the saved Task resumes without a second imagine", async () => {
      const before = mj.submitted;
      const task = saved(await newMj().submit(image({ type: "texture", size: undefined }), never()));
      assert.match(mj.prompts.at(-1)!, /--tile$/);
      await newMj().poll(saved(task), never());
      const { final } = await untilDone(newMj(), saved(task));
      assert.deepEqual(final, { status: "succeeded" });
      const [png] = await newMj().fetch(saved(task), never());
      assert.equal(png!.format, "png");
      assert.equal(mj.submitted, before + 1);
    });

    it("a FAILURE is a failed Progress with the proxy's failReason", async () => {
      mj.failNextTask("[Banned prompt] It looks like your prompt may violate our community standards");
      const provider = newMj();
      const task = await provider.submit(image(), never());
      const { final } = await untilDone(provider, task);
      assert.deepEqual(final, {
        status: "failed",
        error: "[Banned prompt] It looks like your prompt may violate our community standards",
      });
    });

    it("a task the proxy forgot is failed, not polled forever", async () => {
      const provider = newMj();
      const task = await provider.submit(image(), never());
      mj.forgetTasks();
      const progress = await provider.poll(task, never());
      assert.equal(progress.status, "failed");
    });

    it("refusal codes: 23 (queue full) may pass later, 24 (banned word) will not", async () => {
      const provider = newMj();
      mj.refuseNext(23, "队列已满，请稍后尝试");
      const full = await providerError(provider.submit(image(), never()));
      assert.equal(full.options.retryable, true);
      assert.equal(full.options.charged, false);
      assert.match(full.message, /code 23/);
      mj.refuseNext(24, "可能包含敏感词");
      const banned = await providerError(provider.submit(image(), never()));
      assert.equal(banned.options.retryable, false);
      assert.equal(banned.options.charged, false);
    });

    it("builds Midjourney parameters from the spec", () => {
      assert.equal(aspectRatio("1024x1024"), "1:1");
      assert.equal(aspectRatio("1536x1024"), "3:2");
      assert.equal(
        imaginePrompt(
          image({ prompt: "a ship --ar 1:1 --tile at sea", style: undefined, negativePrompt: undefined }),
        ),
        "a ship at sea --ar 16:9",
      );
      assert.equal(
        imaginePrompt(image({ type: "texture", prompt: "mossy stones", style: "", size: "512x512" })),
        "mossy stones --no people --tile",
      );
      assert.throws(() => new MidjourneyProvider({ apiKey: "k", timeoutMs: 1000 }), /base URL/);
    });
  });

  describe("failures map to ProviderError, with the key kept out", () => {
    const cases = [
      {
        id: "meshy",
        make: (key?: string, timeoutMs?: number) => newMeshy(key, timeoutMs),
        spec: () => model(),
        fake: () => meshy,
        paid: true,
      },
      {
        id: "mubert",
        make: (key?: string, timeoutMs?: number) => newMubert(key, timeoutMs),
        spec: (): AssetSpec => ({ type: "music", prompt: "boss fight", durationS: 30, quality: "standard" }),
        fake: () => mubert,
        paid: true,
      },
      {
        id: "freesound",
        make: (key?: string, timeoutMs?: number) => newFreesound(key, timeoutMs),
        spec: (): AssetSpec => ({ type: "sound", prompt: "laser zap", quality: "standard" }),
        fake: () => freesound,
        paid: false,
      },
      {
        id: "midjourney",
        make: (key?: string, timeoutMs?: number) => newMj(key, timeoutMs),
        spec: (): AssetSpec => ({ type: "sprite", prompt: "a pixel-art potion", quality: "draft" }),
        fake: () => mj,
        paid: true,
      },
    ];

    for (const c of cases) {
      describe(c.id, () => {
        it("a refused key is 401: not retryable, not charged, the provider named, the key absent", async () => {
          const wrong =
            c.id === "mubert" ? "8d2c8b3b-0000-0000-0000-000000000000:ct_wrong_token_777" : "wrong_key_777";
          const error = await providerError(c.make(wrong).submit(c.spec(), never()));
          assert.equal(error.provider, c.id);
          assert.ok(error.message.startsWith(`${c.id}: `), error.message);
          assert.equal(error.options.status, 401);
          assert.equal(error.options.retryable, false);
          assert.equal(error.options.charged, false);
          for (const secret of [wrong, ...wrong.split(":"), c.fake().key, FAKE_MUBERT_TOKEN])
            assert.ok(!error.message.includes(secret), `${error.message} contains a secret`);
        });

        it("429 is retryable and says when to retry", async () => {
          c.fake().fail({ status: 429, retryAfter: "2" });
          const error = await providerError(c.make().submit(c.spec(), never()));
          assert.equal(error.options.status, 429);
          assert.equal(error.options.retryable, true);
          assert.equal(error.options.retryAfterMs, 2000);
          assert.equal(error.options.charged, false);
        });

        it("500 is retryable", async () => {
          c.fake().fail({ status: 500 });
          const error = await providerError(c.make().submit(c.spec(), never()));
          assert.equal(error.options.status, 500);
          assert.equal(error.options.retryable, true);
          assert.equal(error.options.charged, false);
        });

        it("a provider message quoting the key is redacted", async () => {
          const key = c.fake().key;
          c.fake().fail({ status: 400, message: `bad request for key ${key}` });
          const error = await providerError(c.make().submit(c.spec(), never()));
          assert.ok(!error.message.includes(key), error.message);
          for (const part of key.split(":")) assert.ok(!error.message.includes(part), error.message);
          assert.match(error.message, /\[redacted\]/);
          assert.equal(error.options.retryable, false);
        });

        it("an answer that never comes times out: retryable, and charged if the work may exist", async () => {
          c.fake().fail({ hang: true });
          const started = Date.now();
          const error = await providerError(c.make(undefined, 300).submit(c.spec(), never()));
          assert.ok(Date.now() - started < 3000);
          assert.match(error.message, /timed out after 300 ms/);
          assert.equal(error.options.retryable, true);
          assert.equal(error.options.charged, c.paid);
        });

        it("the caller's abort is thrown as it is, not as a provider failure", async () => {
          c.fake().fail({ hang: true });
          const controller = new AbortController();
          const pending = c.make().submit(c.spec(), controller.signal);
          setTimeout(() => controller.abort(new Error("shutting down")), 50);
          await assert.rejects(
            pending,
            (error: Error) => !(error instanceof ProviderError) && /shutting down/.test(error.message),
          );
        });

        if (c.paid)
          it("a failure while polling a task that exists is charged", async () => {
            const provider = c.make();
            const task = await provider.submit(c.spec(), never());
            c.fake().fail({ status: 503, retryAfter: "1", on: "poll" });
            const error = await providerError(provider.poll(task, never()));
            assert.equal(error.options.status, 503);
            assert.equal(error.options.retryable, true);
            assert.equal(error.options.charged, true);
            assert.equal(error.options.retryAfterMs, 1000);
            const { final } = await untilDone(provider, task);
            assert.deepEqual(final, { status: "succeeded" });
          });
      });
    }
  });
});
