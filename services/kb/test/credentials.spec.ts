import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GitHttpServer, startGitHttp } from "./support/git-http.ts";
import { type KbPlatform, startKbPlatform } from "./support/platform.ts";

/** An HTTPS-style remote with a token: the token travels as a header, and is never written down or shown. */

const KB = "/api/v0.2/kb";
const TOKEN = "ghp_kb-test-token-9f8e7d6c5b4a";

async function everyFile(dir: string): Promise<string> {
  let text = "";
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += await readFile(join(entry.parentPath, entry.name), "latin1").catch(() => "");
  }
  return text;
}

describe("kb with a remote over HTTP that needs a token", function () {
  this.timeout(90_000);
  let git: GitHttpServer;
  let root: string;
  const platforms: KbPlatform[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "gaia-kb-http-"));
    execFileSync("git", ["init", "-q", "--bare", "-b", "main", join(root, "kb.git")]);
    git = await startGitHttp(root, "kb-bot", TOKEN);
  });
  after(async () => {
    for (const p of platforms) await p.close();
    await git?.close();
  });

  it("clones, commits and pushes with KB_GIT_USERNAME and KB_GIT_PASSWORD, and keeps the token off the disk", async () => {
    const p = await startKbPlatform({
      mode: "git",
      remote: false,
      env: { KB_GIT_URL: `${git.url}/kb.git`, KB_GIT_USERNAME: "kb-bot", KB_GIT_PASSWORD: TOKEN },
    });
    platforms.push(p);
    const dev = await p.user("developer");
    const written = await p.call(dev, "POST", `${KB}/write`, {
      path: "shared/over-http.md",
      content: "# Over HTTP\n",
    });
    assert.equal(written.status, 201, JSON.stringify(written.body));
    assert.equal(
      execFileSync("git", ["--git-dir", join(root, "kb.git"), "show", "main:shared/over-http.md"], {
        encoding: "utf8",
      }),
      "# Over HTTP\n",
    );
    assert.ok(git.authorizations.some((a) => a?.startsWith("Basic ")));
    assert.ok(!(await everyFile(p.clonePath(0))).includes(TOKEN), "the token is nowhere in the working copy");
    const status = await p.call(dev, "GET", `${KB}/git/status`);
    assert.ok(!JSON.stringify(status.body).includes(TOKEN));
  });

  it("with a wrong token stays unready, saying the remote refused, without showing either token", async () => {
    const p = await startKbPlatform({
      mode: "git",
      remote: false,
      waitReady: false,
      env: { KB_GIT_URL: `${git.url}/kb.git`, KB_GIT_USERNAME: "kb-bot", KB_GIT_PASSWORD: "wrong-token-123" },
    });
    platforms.push(p);
    let detail = "";
    for (let i = 0; i < 100 && !/cannot clone/.test(detail); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const ready = await fetch(`${p.kbUrls[0]}/ready`);
      assert.equal(ready.status, 503);
      detail = ((await ready.json()) as { detail: string }).detail;
    }
    assert.match(detail, /cannot clone http:\/\/127\.0\.0\.1:\d+\/kb\.git \(branch main\)/);
    assert.match(detail, /401|Authentication failed|could not read Username/i);
    assert.ok(!detail.includes("wrong-token-123") && !detail.includes(TOKEN), detail);
  });
});
