import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { KB_CHANGED_SUBJECT } from "@gaia/kit";
import { connect } from "@nats-io/transport-node";
import { gitIn, type KbPlatform, type KbUser, startKbPlatform } from "./support/platform.ts";

/**
 * Two KB replicas, each with its own clone of one bare remote and its own gateway, and writers on both at once:
 * nothing accepted is lost, nothing refused is silent. Then the remote moves under them (a plain `git push`).
 */

const KB = "/api/v0.2/kb";
/**
 * Writes per client: the full hundred in git mode; hybrid mode shares the write path and adds its index, so
 * thirty there keep the tier's time in check (its two-replica runs took 97 s and 53 s at a hundred).
 */
const WRITES_BY_MODE = { git: 100, hybrid: 30 } as const;

const remoteVersions = (remote: string, path: string): string[] => {
  const git = gitIn(remote);
  const commits = git("rev-list", "main", "--", path).trim().split("\n").filter(Boolean);
  return commits.map((c) => {
    try {
      return git("show", `${c}:${path}`);
    } catch {
      return "<deleted>";
    }
  });
};

for (const mode of ["git", "hybrid"] as const) {
  const WRITES = WRITES_BY_MODE[mode];
  describe(`kb with two replicas on one remote (${mode} mode)`, function () {
    this.timeout(240_000);
    let p: KbPlatform;
    let a: KbUser;
    let b: KbUser;

    before(async () => {
      p = await startKbPlatform({ mode, replicas: 2 });
      [a, b] = await Promise.all([p.user("developer"), p.user("developer")]);
    });
    after(() => p?.close());

    it(`${WRITES} writes from each of two clients to one file: every accepted one is in the remote's history, every refused one got 409 with the current text`, async () => {
      const path = "shared/contested.md";
      assert.equal((await p.call(a, "POST", `${KB}/write`, { path, content: "start\n" })).status, 201);
      const writer = async (user: KbUser, via: number, name: string) => {
        const accepted: string[] = [];
        const refused: { current: string }[] = [];
        for (let i = 0; i < WRITES; i++) {
          const read = await p.call(user, "POST", `${KB}/read`, { path }, { via });
          assert.equal(read.status, 200, JSON.stringify(read.body));
          const content = `${name} ${i}\n`;
          const w = await p.call(
            user,
            "POST",
            `${KB}/write`,
            { path, content, base_version: read.body.version },
            { via },
          );
          if (w.status === 200) accepted.push(content);
          else {
            assert.equal(w.status, 409, JSON.stringify(w.body));
            assert.equal(typeof w.body.current_content, "string");
            assert.equal(w.body.your_content, content);
            refused.push({ current: w.body.current_content });
          }
        }
        return { accepted, refused };
      };
      const [ra, rb] = await Promise.all([writer(a, 0, "alpha"), writer(b, 1, "beta")]);
      const history = new Set(remoteVersions(p.remote!, path));
      for (const content of [...ra.accepted, ...rb.accepted])
        assert.ok(history.has(content), `lost: ${content}`);
      assert.equal(ra.accepted.length + ra.refused.length, WRITES);
      assert.equal(rb.accepted.length + rb.refused.length, WRITES);
      assert.ok(ra.accepted.length > 0 && rb.accepted.length > 0);
      // The current text a loser was shown is a version the remote really had.
      for (const { current } of [...ra.refused, ...rb.refused])
        assert.ok(history.has(current), `invented: ${current}`);
    });

    it(`${WRITES} writes from each of two clients to different files all land`, async () => {
      const writer = async (user: KbUser, via: number, folder: string) => {
        for (let i = 0; i < WRITES; i++) {
          const w = await p.call(
            user,
            "POST",
            `${KB}/write`,
            { path: `${folder}/note-${i}.md`, content: `# ${folder} ${i}\n` },
            { via },
          );
          assert.equal(w.status, 201, JSON.stringify(w.body));
        }
      };
      await Promise.all([writer(a, 0, "shared/left"), writer(b, 1, "shared/right")]);
      const files = gitIn(p.remote!)("ls-tree", "-r", "--name-only", "main").split("\n");
      for (const folder of ["shared/left", "shared/right"]) {
        for (let i = 0; i < WRITES; i++)
          assert.ok(files.includes(`${folder}/note-${i}.md`), `${folder}/note-${i}.md`);
      }
      // Edits of different lines of one file, from stale bases on two replicas, are merged, not refused.
      const path = "shared/merged.md";
      const first = await p.call(a, "POST", `${KB}/write`, { path, content: "1\n2\n3\n4\n5\n" });
      const base = first.body.version;
      const [x, y] = await Promise.all([
        p.call(
          a,
          "POST",
          `${KB}/write`,
          { path, content: "one\n2\n3\n4\n5\n", base_version: base },
          { via: 0 },
        ),
        p.call(
          b,
          "POST",
          `${KB}/write`,
          { path, content: "1\n2\n3\n4\nfive\n", base_version: base },
          { via: 1 },
        ),
      ]);
      assert.deepEqual([x.status, y.status], [200, 200], JSON.stringify([x.body, y.body]));
      assert.equal(gitIn(p.remote!)("show", `main:${path}`), "one\n2\n3\n4\nfive\n");
    });

    it("a change on one replica reaches the other's reads and searches without anyone asking (gaia.kb.changed)", async () => {
      const path = "shared/announced.md";
      const written = await p.call(
        a,
        "POST",
        `${KB}/write`,
        { path, content: "# Announced\n\nthe word brindlemoss\n" },
        { via: 0 },
      );
      assert.equal(written.status, 201);
      const deadline = Date.now() + 10_000;
      let read = await p.call(b, "POST", `${KB}/read`, { path }, { via: 1 });
      while (read.status !== 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        read = await p.call(b, "POST", `${KB}/read`, { path }, { via: 1 });
      }
      assert.equal(read.status, 200, "replica 1 pulled after replica 0 announced the change");
      assert.equal(read.body.version, written.body.version);
      const found = await p.call(b, "POST", `${KB}/search`, { query: "brindlemoss" }, { via: 1 });
      assert.deepEqual(
        found.body.results.map((h: { path: string }) => h.path),
        [path],
      );
    });

    it("a plain git push to the remote is readable and searchable on both replicas after sync, and moves stay moves", async () => {
      const seen: unknown[] = [];
      const nc = await connect({
        servers: p.nats
          .urlFor("kb")
          .replace(/^nats:\/\//, "")
          .replace(/^[^@]*@/, ""),
        ...credentials(p.nats.urlFor("kb")),
      });
      const sub = nc.subscribe(KB_CHANGED_SUBJECT);
      void (async () => {
        for await (const m of sub) seen.push(m.json());
      })();

      const outside = await p.outsideClone();
      writeFileSync(join(outside.dir, "shared", "from-outside.md"), "# Pushed\n\nthe word glimmerquartz\n");
      outside.git("add", "-A");
      outside.git("commit", "-qm", "pushed by plain git");
      outside.git("push", "-q", "origin", "HEAD:main");
      for (const via of [0, 1]) {
        const synced = await p.call(a, "POST", `${KB}/sync/from-git`, undefined, { via });
        assert.equal(synced.status, 200, JSON.stringify(synced.body));
        const found = await p.call(b, "POST", `${KB}/search`, { query: "glimmerquartz" }, { via });
        assert.deepEqual(
          found.body.results.map((h: { path: string }) => h.path),
          ["shared/from-outside.md"],
          `via ${via}`,
        );
      }
      // A move through the API is a rename in git: history follows the file.
      const moved = await p.call(a, "POST", `${KB}/move`, {
        from: "shared/from-outside.md",
        to: "shared/archive/outside.md",
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      const log = gitIn(p.remote!)(
        "log",
        "--follow",
        "--format=%s",
        "main",
        "--",
        "shared/archive/outside.md",
      );
      assert.deepEqual(log.trim().split("\n"), [
        "Move shared/from-outside.md to shared/archive/outside.md",
        "pushed by plain git",
      ]);
      const status = gitIn(p.remote!)("show", "--name-status", "-M", "--format=", "main");
      assert.match(status, /^R100\tshared\/from-outside\.md\tshared\/archive\/outside\.md/m);
      const author = gitIn(p.remote!)("log", "-1", "--format=%an <%ae>", "main");
      assert.equal(author.trim(), `${a.email.split("@")[0]} <${a.email}>`);

      await new Promise((r) => setTimeout(r, 300));
      await nc.drain();
      const paths = seen.flatMap((e) => (e as { paths: string[] }).paths);
      assert.ok(paths.includes("shared/archive/outside.md"), JSON.stringify(seen));
    });
  });
}

function credentials(url: string): { user?: string; pass?: string } {
  const u = new URL(url);
  return u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {};
}

describe("kb start-up with a remote it cannot reach", function () {
  this.timeout(60_000);
  let p: KbPlatform | undefined;
  after(() => p?.close());

  it("answers /health at once, stays unready naming the remote (without its password), and does not crash", async () => {
    p = await startKbPlatform({
      mode: "git",
      waitReady: false,
      env: { KB_GIT_URL: "http://reader:s3cr3t-token@127.0.0.1:9/kb.git" },
    });
    const kb = p.kbUrls[0]!;
    for (let i = 0; i < 3; i++) {
      const health = await fetch(`${kb}/health`);
      assert.equal(health.status, 200);
      const body = (await health.json()) as { storage: string };
      const ready = await fetch(`${kb}/ready`);
      assert.equal(ready.status, 503);
      const { detail } = (await ready.json()) as { detail: string };
      assert.match(detail, /^kb is not ready: /);
      if (i > 0) assert.match(detail, /cannot clone http:\/\/\*\*\*@127\.0\.0\.1:9\/kb\.git/);
      assert.ok(!detail.includes("s3cr3t") && !body.storage.includes("s3cr3t"), detail);
      await new Promise((r) => setTimeout(r, 700));
    }
    const user = await p.user("developer");
    const write = await p.call(user, "POST", `${KB}/write`, { path: "shared/x.md", content: "x" });
    assert.equal(write.status, 503, JSON.stringify(write.body));
    assert.match(write.body.detail, /not ready/);
  });
});
