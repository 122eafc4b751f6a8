import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { queryAsOwner } from "../../../test/support/servers.ts";
import { gitIn, type KbPlatform, type KbUser, startKbPlatform } from "./support/platform.ts";

/**
 * A crash between commit and push leaves a local commit the remote lacks; meanwhile someone pushes. At the next
 * start the local work is replayed on top: what does not collide lands, what collides becomes a conflict record
 * with both texts, and no conflict marker is ever committed.
 */

const KB = "/api/v0.2/kb";

describe("kb sync keeps unpushed local work (git mode with a remote)", function () {
  this.timeout(90_000);
  let p: KbPlatform;
  let dev: KbUser;
  let reader: KbUser;

  before(async () => {
    p = await startKbPlatform({ mode: "git" });
    [dev, reader] = await Promise.all([p.user("developer"), p.user()]);
  });
  after(() => p?.close());

  it("commits files left in the working copy (an edit by hand, a crash mid-write) at its next start", async () => {
    assert.equal(
      (await p.call(dev, "POST", `${KB}/write`, { path: "shared/stray.md", content: "one\n" })).status,
      201,
    );
    await p.stopKb(0);
    writeFileSync(join(p.clonePath(0), "shared", "stray.md"), "one, edited by hand\n");
    writeFileSync(join(p.clonePath(0), "shared", "left-behind.md"), "# Left behind\n");
    await p.startKb(0);
    const remote = gitIn(p.remote!);
    assert.equal(remote("show", "main:shared/stray.md"), "one, edited by hand\n");
    assert.equal(remote("show", "main:shared/left-behind.md"), "# Left behind\n");
    assert.equal(gitIn(p.clonePath(0))("status", "--porcelain"), "");
  });

  it("replays what does not collide, records what does, and resolves it by the writer's choice", async () => {
    assert.equal(
      (await p.call(dev, "POST", `${KB}/write`, { path: "shared/story.md", content: "a\nb\nc\n" })).status,
      201,
    );
    await p.stopKb(0);

    // The crash: a commit in the clone that never reached the remote.
    const clone = gitIn(p.clonePath(0));
    writeFileSync(join(p.clonePath(0), "shared", "story.md"), "a\nB-local\nc\n");
    writeFileSync(join(p.clonePath(0), "shared", "local-only.md"), "# Only here\n");
    clone("add", "-A");
    clone("commit", "-qm", "local work, never pushed");
    // Meanwhile, someone else changes the same line.
    const outside = await p.outsideClone();
    writeFileSync(join(outside.dir, "shared", "story.md"), "a\nB-remote\nc\n");
    outside.git("commit", "-qam", "remote work");
    outside.git("push", "-q", "origin", "HEAD:main");

    await p.startKb(0);
    const remote = gitIn(p.remote!);
    assert.equal(remote("show", "main:shared/story.md"), "a\nB-remote\nc\n");
    assert.equal(remote("show", "main:shared/local-only.md"), "# Only here\n");
    assert.doesNotMatch(remote("log", "-p", "main"), /^[+](<<<<<<<|>>>>>>>)/m);

    const listed = await p.call(dev, "GET", `${KB}/conflicts`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.equal(listed.body.total, 1);
    const [conflict] = listed.body.conflicts;
    assert.equal(conflict.path, "shared/story.md");
    assert.equal(conflict.ours, "a\nB-local\nc\n");
    assert.equal(conflict.theirs, "a\nB-remote\nc\n");
    assert.equal((await p.call(reader, "GET", `${KB}/conflicts`)).status, 403);
    assert.equal((await p.call(dev, "GET", `${KB}/git/status`)).body.conflicts, 1);

    const bad = await p.call(dev, "POST", `${KB}/conflicts/${conflict.id}/resolve`, { choice: "merged" });
    assert.equal(bad.status, 422);
    const resolved = await p.call(dev, "POST", `${KB}/conflicts/${conflict.id}/resolve`, {
      choice: "merged",
      content: "a\nB-local and B-remote\nc\n",
    });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    assert.equal(remote("show", "main:shared/story.md"), "a\nB-local and B-remote\nc\n");
    assert.equal((await p.call(dev, "GET", `${KB}/conflicts`)).body.total, 0);
    const again = await p.call(dev, "POST", `${KB}/conflicts/${conflict.id}/resolve`, { choice: "ours" });
    assert.equal(again.status, 404);
  });
});

describe("kb adopts, pulls on its own, and indexes only what changed", function () {
  this.timeout(90_000);
  const platforms: KbPlatform[] = [];
  after(async () => {
    for (const p of platforms) await p.close();
  });

  it("adopts a remote that already has history, as it is, and pulls it every KB_SYNC_INTERVAL_S", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gaia-kb-adopt-"));
    const bare = join(dir, "studio.git");
    execFileSync("git", ["init", "-q", "--bare", "-b", "main", bare]);
    execFileSync("git", ["clone", "-q", bare, join(dir, "seed")], { stdio: "ignore" });
    const seed = gitIn(join(dir, "seed"));
    writeFileSync(join(dir, "seed", "lore.md"), "# Lore\n\nThe old world.\n");
    seed("add", "-A");
    seed("commit", "-qm", "first");
    writeFileSync(join(dir, "seed", "lore.md"), "# Lore\n\nThe old world, revised.\n");
    seed("commit", "-qam", "second");
    seed("push", "-q", "origin", "HEAD:main");

    const p = await startKbPlatform({ mode: "git", remotePath: bare, env: { KB_SYNC_INTERVAL_S: "1" } });
    platforms.push(p);
    const reader = await p.user();
    assert.equal(
      (await p.call(reader, "POST", `${KB}/read`, { path: "lore.md" })).body.content,
      "# Lore\n\nThe old world, revised.\n",
    );
    assert.deepEqual(gitIn(bare)("log", "--format=%s", "main").trim().split("\n"), ["second", "first"]);
    assert.equal(
      (await p.call(reader, "POST", `${KB}/read`, { path: "README.md" })).status,
      404,
      "no seed README on an adopted repository",
    );

    writeFileSync(join(dir, "seed", "news.md"), "# News\n\nthe word thornapple\n");
    seed("add", "-A");
    seed("commit", "-qm", "third");
    seed("push", "-q", "origin", "HEAD:main");
    let found: string[] = [];
    for (let i = 0; i < 60 && found.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = (await p.call(reader, "POST", `${KB}/search`, { query: "thornapple" })).body.results.map(
        (h: { path: string }) => h.path,
      );
    }
    assert.deepEqual(found, ["news.md"], "pulled on its own within a few seconds");
  });

  it("hybrid mode re-indexes only the paths a synced commit changed", async () => {
    const p = await startKbPlatform({ mode: "hybrid" });
    platforms.push(p);
    const dev = await p.user("developer");
    for (const name of ["a", "b", "c"]) {
      assert.equal(
        (await p.call(dev, "POST", `${KB}/write`, { path: `shared/${name}.md`, content: `# ${name}\n` }))
          .status,
        201,
      );
    }
    const stamps = async () =>
      new Map(
        (
          await queryAsOwner<{ path: string; updated_at: Date }>(
            p.databaseUrl,
            `SELECT path, updated_at FROM kb_documents`,
          )
        ).map((r) => [r.path, r.updated_at.getTime()]),
      );
    const before = await stamps();
    const outside = await p.outsideClone();
    writeFileSync(join(outside.dir, "shared", "b.md"), "# b\n\nchanged outside: the word wolfsbane\n");
    outside.git("commit", "-qam", "change b");
    outside.git("push", "-q", "origin", "HEAD:main");
    assert.equal((await p.call(dev, "POST", `${KB}/sync/from-git`)).body.changed_files, 1);
    const after = await stamps();
    assert.equal(after.get("shared/a.md"), before.get("shared/a.md"));
    assert.equal(after.get("shared/c.md"), before.get("shared/c.md"));
    assert.notEqual(after.get("shared/b.md"), before.get("shared/b.md"));
    const found = await p.call(dev, "POST", `${KB}/search`, { query: "wolfsbane" });
    assert.deepEqual(
      found.body.results.map((h: { path: string }) => h.path),
      ["shared/b.md"],
    );
  });
});

describe("kb with a remote that refuses a push", function () {
  this.timeout(60_000);
  let p: KbPlatform;
  after(() => p?.close());

  it("answers 502 naming the refusal, and leaves the working copy as the remote has it", async () => {
    p = await startKbPlatform({ mode: "git" });
    const dev = await p.user("developer");
    assert.equal(
      (await p.call(dev, "POST", `${KB}/write`, { path: "shared/kept.md", content: "before\n" })).status,
      201,
    );
    const hook = join(p.remote!, "hooks", "pre-receive");
    writeFileSync(hook, "#!/bin/sh\necho 'the studio froze this branch' >&2\nexit 1\n", { mode: 0o755 });
    const refused = await p.call(dev, "POST", `${KB}/write`, { path: "shared/kept.md", content: "after\n" });
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    assert.match(refused.body.detail, /did not take the change.*(pre-receive|declined)/);
    assert.equal(
      (await p.call(dev, "POST", `${KB}/read`, { path: "shared/kept.md" })).body.content,
      "before\n",
    );
    const status = await p.call(dev, "GET", `${KB}/git/status`);
    assert.equal(status.body.ahead, 0);
    assert.equal(gitIn(p.clonePath(0))("status", "--porcelain"), "");
    rmSync(hook);
    assert.equal(
      (await p.call(dev, "POST", `${KB}/write`, { path: "shared/kept.md", content: "after\n" })).status,
      200,
    );
  });
});
