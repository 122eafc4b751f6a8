import assert from "node:assert/strict";
import { type AssetPlatform, type AssetUser, startAssetPlatform } from "./support/platform.ts";

/** The placeholder provider end to end through the gateway: real files, no keys, every result labelled. */

const API = "/api/v1/assets";

describe("assets with the offline placeholder (through the gateway)", function () {
  this.timeout(60_000);
  let p: AssetPlatform;
  let alice: AssetUser;
  let bob: AssetUser;

  before(async () => {
    p = await startAssetPlatform();
    [alice, bob] = await Promise.all([p.user(), p.user()]);
  });
  after(() => p?.close());

  it("makes an image, a 3D model and a sound, each a real file, labelled as the placeholder", async () => {
    for (const [type, magic, mime] of [
      ["image", Buffer.from([0x89, 0x50, 0x4e, 0x47]), "image/png"],
      ["model3d", Buffer.from("glTF"), "model/gltf-binary"],
      ["sound", Buffer.from("RIFF"), "audio/wav"],
    ] as const) {
      const made = await p.call(alice, "POST", `${API}/generate`, {
        type,
        prompt: `a lantern for ${type}`,
        wait: true,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.equal(made.body.strategy, "generate");
      assert.equal(made.body.provider, "placeholder");
      assert.equal(made.body.cost_usd, 0);
      assert.equal(made.body.asset.offline_placeholder, true);
      assert.match(made.body.explanation, /offline placeholder/);
      const content = await p.raw(alice, made.body.download_url);
      assert.equal(content.status, 200);
      assert.equal(content.headers.get("content-type")?.split(";")[0], mime);
      const bytes = Buffer.from(await content.arrayBuffer());
      assert.deepEqual(bytes.subarray(0, magic.length), magic, type);
      assert.equal(Number(content.headers.get("content-length")), bytes.length);
    }
  });

  it("serves byte ranges and ETags, and keeps a private asset from other users", async () => {
    const made = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "a ranged banner",
      size: "64x32",
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const url = made.body.download_url;
    const whole = await p.raw(alice, url);
    const etag = whole.headers.get("etag")!;
    const bytes = Buffer.from(await whole.arrayBuffer());
    const part = await p.raw(alice, url, { range: "bytes=0-9" });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 0-9/${bytes.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(0, 10));
    const tail = await p.raw(alice, url, { range: "bytes=-4" });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 4));
    assert.equal((await p.raw(alice, url, { range: `bytes=${bytes.length + 5}-` })).status, 416);
    assert.equal((await p.raw(alice, url, { "if-none-match": etag })).status, 304);
    const thumbnail = await p.raw(alice, made.body.asset.thumbnail_url);
    assert.equal(thumbnail.status, 200);

    assert.equal((await p.call(bob, "GET", `${API}/${made.body.asset_id}`)).status, 404);
    assert.equal((await p.raw(bob, url)).status, 404);
    assert.equal((await p.call(bob, "DELETE", `${API}/${made.body.asset_id}`)).status, 404);
    const listed = await p.call(alice, "GET", `${API}?type=image`);
    assert.ok(listed.body.assets.some((a: { id: string }) => a.id === made.body.asset_id));
    assert.ok(
      !(await p.call(bob, "GET", API)).body.assets.some((a: { id: string }) => a.id === made.body.asset_id),
    );
  });

  it("answers the same request from the cache at no cost, and a public one for everyone", async () => {
    const body = { type: "sprite", prompt: "A  Goblin archer", visibility: "public" };
    const first = await p.call(alice, "POST", `${API}/generate`, body);
    assert.equal(first.body.strategy, "generate");
    const again = await p.call(alice, "POST", `${API}/generate`, { ...body, prompt: "a goblin   archer" });
    assert.equal(again.status, 201);
    assert.equal(again.body.strategy, "cache");
    assert.equal(again.body.cost_usd, 0);
    assert.notEqual(again.body.asset_id, first.body.asset_id);
    const forBob = await p.call(bob, "POST", `${API}/generate`, body);
    assert.equal(forBob.body.strategy, "cache");
    const bytes = await (await p.raw(bob, forBob.body.download_url)).arrayBuffer();
    assert.deepEqual(
      Buffer.from(bytes),
      Buffer.from(await (await p.raw(alice, first.body.download_url)).arrayBuffer()),
    );
  });

  it("refuses what it cannot make with 422 naming what it can, and bad input before anything runs", async () => {
    const format = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "x",
      format: "tiff",
    });
    assert.equal(format.status, 422);
    assert.match(format.body.detail, /format: image comes as png, svg/);
    const provider = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "x",
      provider: "nobody",
    });
    assert.equal(provider.status, 422);
    assert.match(provider.body.detail, /provider: nobody is not configured here; configured: placeholder/);
    const long = await p.call(alice, "POST", `${API}/generate`, { type: "image", prompt: "x".repeat(4001) });
    assert.equal(long.status, 422);
    assert.match(long.body.detail, /prompt/);
    const type = await p.call(alice, "POST", `${API}/generate`, { type: "video", prompt: "x" });
    assert.equal(type.status, 422);
    assert.match(type.body.detail, /type/);
    const unknown = await p.call(alice, "POST", `${API}/generate`, {
      type: "image",
      prompt: "x",
      webhook_url: "http://x",
    });
    assert.equal(unknown.status, 422);
  });

  it("deletes an asset and its stored bytes", async () => {
    const made = await p.call(alice, "POST", `${API}/generate`, { type: "image", prompt: "a doomed statue" });
    assert.equal((await p.call(alice, "DELETE", `${API}/${made.body.asset_id}`)).status, 204);
    assert.equal((await p.call(alice, "GET", `${API}/${made.body.asset_id}`)).status, 404);
    const { readdir } = await import("node:fs/promises");
    assert.ok(!(await readdir(p.storageDir)).includes(made.body.asset_id));
  });

  it("fails the job cleanly when its files cannot be stored, and keeps nothing half written", async () => {
    const { writeFile, readdir } = await import("node:fs/promises");
    const { join } = await import("node:path");
    // A file where the storage folder should be: every write under it fails, as on a full or read-only disk.
    const blocked = join(p.storageDir, "not-a-folder");
    await writeFile(blocked, "x");
    await p.restartAsset({ GAIA_ASSET_STORAGE_DIR: blocked });
    try {
      const made = await p.call(alice, "POST", `${API}/generate`, {
        type: "image",
        prompt: "an unstorable vase",
      });
      assert.equal(made.status, 502, JSON.stringify(made.body));
      assert.equal(made.body.status, "failed");
      assert.match(made.body.job.error, /could not be stored/);
      assert.equal(made.body.download_url, null);
      assert.ok(!(await readdir(p.storageDir)).includes(made.body.asset_id));
    } finally {
      await p.restartAsset({ GAIA_ASSET_STORAGE_DIR: p.storageDir });
    }
  });
});
