import assert from "node:assert/strict";
import type { StorageMode } from "../src/config.ts";
import { type KbPlatform, type KbUser, startKbPlatform } from "./support/platform.ts";

/** Every document operation, in each storage mode, through the gateway, on real git, PostgreSQL, Redis and NATS. */

const KB = "/api/v0.2/kb";

/** Git mode twice: with ripgrep, and with a binary that does not exist (the built-in scanner answers). */
const VARIANTS: { mode: StorageMode; label: string; env?: Record<string, string> }[] = [
  { mode: "git", label: "git" },
  { mode: "git", label: "git, without ripgrep", env: { KB_RIPGREP: "/nonexistent/rg" } },
  { mode: "hybrid", label: "hybrid" },
  { mode: "database", label: "database" },
];

for (const { mode, label, env } of VARIANTS) {
  describe(`kb documents in ${label} mode (through the gateway)`, function () {
    this.timeout(60_000);
    let p: KbPlatform;
    let dev: KbUser;
    let reader: KbUser;

    before(async () => {
      p = await startKbPlatform({ mode, env });
      dev = await p.user("developer");
      reader = await p.user("user");
    });
    after(() => p?.close());

    it("writes, reads with an ETag, lists, navigates, searches, assembles a context, moves and deletes", async () => {
      const lore =
        "# The Dragons of Arden\n\nEmberwing sleeps under the Ashen Peak.\nShe hoards moonsilver.\n";
      const created = await p.call(dev, "POST", `${KB}/write`, {
        path: "worlds/arden/dragons.md",
        content: lore,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.created, true);
      const version = created.body.version as string;
      assert.equal(created.headers.get("etag"), `"${version}"`);

      await p.call(dev, "POST", `${KB}/write`, {
        path: "worlds/arden/+index.md",
        content: "# Arden\n\nThe realm of Arden.\n\n- [Dragons](dragons.md)\n- [[towns/harrow]]\n",
      });
      await p.call(dev, "POST", `${KB}/write`, {
        path: "worlds/arden/towns/harrow.md",
        content: "# Harrow\n\nA fishing town that fears Emberwing.\n",
      });

      const read = await p.call(reader, "POST", `${KB}/read`, { path: "worlds/arden/dragons.md" });
      assert.equal(read.status, 200);
      assert.equal(read.body.content, lore);
      assert.equal(read.body.title, "The Dragons of Arden");
      assert.equal(read.body.version, version);
      assert.equal(read.headers.get("etag"), `"${version}"`);

      const list = await p.call(reader, "POST", `${KB}/list`, { path: "worlds/arden" });
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.entries.map((e: { name: string; type: string }) => `${e.type}:${e.name}`),
        ["folder:towns", "file:+index.md", "file:dragons.md"],
      );

      const nav = await p.call(reader, "POST", `${KB}/navigate`, { path: "worlds" });
      assert.equal(nav.status, 200);
      const arden = nav.body.tree.children.find((c: { name: string }) => c.name === "arden");
      assert.equal(arden.title, "Arden");
      assert.equal(arden.index, "worlds/arden/+index.md");
      assert.equal(arden.files, 3);

      const search = await p.call(reader, "POST", `${KB}/search`, { query: "Emberwing" });
      assert.equal(search.status, 200, JSON.stringify(search.body));
      assert.deepEqual(search.body.results.map((h: { path: string }) => h.path).sort(), [
        "worlds/arden/dragons.md",
        "worlds/arden/towns/harrow.md",
      ]);
      const hit = search.body.results.find((h: { path: string }) => h.path === "worlds/arden/dragons.md");
      assert.equal(hit.line, 3);
      assert.match(hit.snippet, /Emberwing sleeps/);
      assert.ok(hit.score > 0);
      assert.equal(search.body.total, 2);

      const phrase = await p.call(reader, "POST", `${KB}/search`, {
        query: "hoards moonsilver",
        mode: "phrase",
      });
      assert.deepEqual(
        phrase.body.results.map((h: { path: string }) => h.path),
        ["worlds/arden/dragons.md"],
      );
      const filtered = await p.call(reader, "POST", `${KB}/search`, {
        query: "Emberwing",
        path: "worlds/arden/towns",
      });
      assert.deepEqual(
        filtered.body.results.map((h: { path: string }) => h.path),
        ["worlds/arden/towns/harrow.md"],
      );
      const paged = await p.call(reader, "POST", `${KB}/search`, { query: "Emberwing", limit: 1, offset: 1 });
      assert.equal(paged.body.results.length, 1);
      assert.equal(paged.body.total, 2);

      const context = await p.call(reader, "POST", `${KB}/context`, {
        name: "worlds/arden",
        budget_tokens: 100,
      });
      assert.equal(context.status, 200, JSON.stringify(context.body));
      assert.deepEqual(
        context.body.included.map((i: { path: string }) => i.path),
        ["worlds/arden/+index.md", "worlds/arden/dragons.md", "worlds/arden/towns/harrow.md"],
      );
      assert.match(context.body.content, /Emberwing sleeps/);
      const small = await p.call(reader, "POST", `${KB}/context`, {
        name: "worlds/arden",
        budget_tokens: 40,
      });
      assert.ok(small.body.omitted.length > 0, JSON.stringify(small.body));
      assert.ok(small.body.tokens <= 40);

      const moved = await p.call(dev, "POST", `${KB}/move`, {
        from: "worlds/arden/dragons.md",
        to: "worlds/arden/lore/dragons.md",
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(
        (await p.call(reader, "POST", `${KB}/read`, { path: "worlds/arden/dragons.md" })).status,
        404,
      );
      assert.equal(
        (await p.call(reader, "POST", `${KB}/read`, { path: "worlds/arden/lore/dragons.md" })).body.content,
        lore,
      );

      const deleted = await p.call(dev, "DELETE", `${KB}/delete`, { path: "worlds/arden/lore/dragons.md" });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.equal(
        (await p.call(reader, "POST", `${KB}/read`, { path: "worlds/arden/lore/dragons.md" })).status,
        404,
      );
      const after = await p.call(reader, "POST", `${KB}/search`, { query: "moonsilver" });
      assert.deepEqual(after.body.results, []);
    });

    it("refuses a stale version whose edit overlaps, returning the current text and the writer's own", async () => {
      const first = await p.call(dev, "POST", `${KB}/write`, {
        path: "shared/rules.md",
        content: "one\ntwo\nthree\n",
      });
      const base = first.body.version as string;
      const mine = await p.call(dev, "POST", `${KB}/write`, {
        path: "shared/rules.md",
        content: "one\ntwo\nTHREE\n",
        base_version: base,
      });
      assert.equal(mine.status, 200);
      // Another writer, from the same base, changes a different line: merged.
      const theirs = await p.call(
        dev,
        "POST",
        `${KB}/write`,
        { path: "shared/rules.md", content: "ONE\ntwo\nthree\n" },
        {
          headers: { "if-match": `"${base}"` },
        },
      );
      assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
      assert.equal(theirs.body.merged, true);
      assert.equal(
        (await p.call(dev, "POST", `${KB}/read`, { path: "shared/rules.md" })).body.content,
        "ONE\ntwo\nTHREE\n",
      );
      // And one that changes the line the first writer changed: refused, with both texts.
      const loser = await p.call(dev, "POST", `${KB}/write`, {
        path: "shared/rules.md",
        content: "one\ntwo\n3\n",
        base_version: base,
      });
      assert.equal(loser.status, 409);
      assert.equal(loser.body.current_content, "ONE\ntwo\nTHREE\n");
      assert.equal(loser.body.your_content, "one\ntwo\n3\n");
      assert.match(loser.body.detail, /changed since/);
    });
  });
}

describe("kb cached answers (Redis, retired by every change)", function () {
  this.timeout(60_000);
  let p: KbPlatform;
  let dev: KbUser;
  let reader: KbUser;

  before(async () => {
    p = await startKbPlatform({ mode: "git" });
    [dev, reader] = await Promise.all([p.user("developer"), p.user()]);
  });
  after(() => p?.close());

  it("answers a repeated search from the cache, and never a stale one after a change", async () => {
    await p.call(dev, "POST", `${KB}/write`, { path: "shared/one.md", content: "the quillwort grows\n" });
    const stats = async () => (await p.call(dev, "GET", `${KB}/cache/stats`)).body;
    const before = await stats();
    const first = await p.call(reader, "POST", `${KB}/search`, { query: "quillwort" });
    const second = await p.call(reader, "POST", `${KB}/search`, { query: "quillwort" });
    assert.deepEqual(second.body, first.body);
    const mid = await stats();
    assert.equal(mid.hits - before.hits, 1);
    assert.equal(mid.misses - before.misses, 1);

    await p.call(dev, "POST", `${KB}/write`, { path: "shared/two.md", content: "more quillwort here\n" });
    const third = await p.call(reader, "POST", `${KB}/search`, { query: "quillwort" });
    assert.deepEqual(third.body.results.map((h: { path: string }) => h.path).sort(), [
      "shared/one.md",
      "shared/two.md",
    ]);

    assert.equal((await p.call(reader, "POST", `${KB}/cache/invalidate`)).status, 403);
    const invalidated = await p.call(dev, "POST", `${KB}/cache/invalidate`);
    assert.equal(invalidated.status, 200);
    assert.equal(typeof invalidated.body.generation, "number");
    const after = await stats();
    assert.ok(after.invalidations > mid.invalidations);
    assert.ok(after.hit_rate > 0 && after.hit_rate < 1);
  });
});
