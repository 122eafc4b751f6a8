import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
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
