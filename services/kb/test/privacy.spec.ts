import assert from "node:assert/strict";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type KbPlatform, type KbUser, startKbPlatform } from "./support/platform.ts";

/**
 * The attacker's view: a user probing for another user's private notes and for files outside the repository.
 * Nothing they may not read may show anywhere: not in a search hit, snippet, count, listing, tree, context or
 * error message.
 */

const KB = "/api/v0.2/kb";
const SECRET = "zyxwombat";

describe("kb privacy and path safety (git mode with a remote, through the gateway)", function () {
  this.timeout(90_000);
  let p: KbPlatform;
  let alice: KbUser;
  let mallory: KbUser;
  let admin: KbUser;
  let dev: KbUser;

  before(async () => {
    p = await startKbPlatform({ mode: "git" });
    [alice, mallory, admin, dev] = await Promise.all([
      p.user(),
      p.user(),
      p.user("admin"),
      p.user("developer"),
    ]);
    const own = await p.call(alice, "POST", `${KB}/write`, {
      path: `users/${alice.userId}/diary.md`,
      content: `# Alice's diary\n\nThe password to the vault is ${SECRET}.\n`,
    });
    assert.equal(own.status, 201, JSON.stringify(own.body));
    await p.call(dev, "POST", `${KB}/write`, {
      path: "shared/public.md",
      content: `# Public\n\nNothing about ${SECRET} here... or is there\n`,
    });
    await p.call(dev, "POST", `${KB}/write`, {
      path: "shared/secret/plans.md",
      content: `# Plans\n\nThe ${SECRET} heist.\n`,
    });
    await p.call(dev, "POST", `${KB}/write`, {
      path: "shared/secret/+index.md",
      content: "# Secret plans\n\n- [plans](plans.md)\n",
    });
  });
  after(() => p?.close());

  const everywhere = (body: unknown) => JSON.stringify(body);

  it("a user's private file never appears to another user: read, search, snippet, count, list, navigate, context", async () => {
    const path = `users/${alice.userId}/diary.md`;
    const read = await p.call(mallory, "POST", `${KB}/read`, { path });
    assert.equal(read.status, 404);
    // The same answer as for a file that does not exist at all.
    const none = await p.call(mallory, "POST", `${KB}/read`, { path: `users/${alice.userId}/nothing.md` });
    assert.deepEqual(read.body, { ...none.body, detail: `No file at ${path}` });

    const search = await p.call(mallory, "POST", `${KB}/search`, { query: SECRET });
    assert.deepEqual(search.body.results.map((h: { path: string }) => h.path).sort(), [
      "shared/public.md",
      "shared/secret/plans.md",
    ]);
    assert.equal(search.body.total, 2);
    const regex = await p.call(mallory, "POST", `${KB}/search`, { query: "vault is", mode: "phrase" });
    assert.equal(regex.body.total, 0);
    assert.ok(!everywhere(regex.body).includes("diary"));

    const aliceSees = await p.call(alice, "POST", `${KB}/search`, { query: SECRET });
    assert.equal(aliceSees.body.total, 3);

    for (const [op, body] of [
      ["list", { path: "users" }],
      ["list", { path: `users/${alice.userId}` }],
      ["navigate", { path: "users" }],
      ["context", { name: `users/${alice.userId}` }],
    ] as const) {
      const answer = await p.call(mallory, "POST", `${KB}/${op}`, body);
      assert.equal(answer.status, 404, `${op} ${JSON.stringify(answer.body)}`);
      assert.ok(!everywhere(answer.body).includes("diary"), op);
    }
    const root = await p.call(mallory, "POST", `${KB}/list`, {});
    assert.ok(!root.body.entries.some((e: { name: string }) => e.name === "users"), everywhere(root.body));
    const tree = await p.call(mallory, "POST", `${KB}/navigate`, { depth: 10 });
    assert.ok(!everywhere(tree.body).includes(alice.userId));

    // Nor can they change it, or move it away, or learn that it exists by trying.
    const overwrite = await p.call(mallory, "POST", `${KB}/write`, { path, content: "mine now" });
    assert.equal(overwrite.status, 403);
    assert.ok(!everywhere(overwrite.body).includes(SECRET));
    const move = await p.call(mallory, "POST", `${KB}/move`, {
      from: path,
      to: `users/${mallory.userId}/stolen.md`,
    });
    assert.equal(move.status, 404);
    const remove = await p.call(mallory, "DELETE", `${KB}/delete`, { path });
    assert.equal(remove.status, 404);
    assert.equal((await p.call(alice, "POST", `${KB}/read`, { path })).status, 200);
    // An admin may read everything.
    assert.equal((await p.call(admin, "POST", `${KB}/read`, { path })).status, 200);
  });

  it("a deny rule under a readable folder holds everywhere, and lifting it restores access", async () => {
    const denied = await p.call(admin, "POST", `${KB}/permissions`, {
      role: "user",
      path_prefix: "shared/secret/**",
      can_read: false,
    });
    assert.equal(denied.status, 201, JSON.stringify(denied.body));
    const refusedForUser = await p.call(mallory, "POST", `${KB}/permissions`, {
      role: "user",
      path_prefix: "",
      can_read: true,
    });
    assert.equal(refusedForUser.status, 403);

    assert.equal(
      (await p.call(mallory, "POST", `${KB}/read`, { path: "shared/secret/plans.md" })).status,
      404,
    );
    const search = await p.call(mallory, "POST", `${KB}/search`, { query: SECRET });
    assert.deepEqual(
      search.body.results.map((h: { path: string }) => h.path),
      ["shared/public.md"],
    );
    assert.equal(search.body.total, 1);
    assert.equal((await p.call(mallory, "POST", `${KB}/context`, { name: "shared/secret" })).status, 404);
    const shared = await p.call(mallory, "POST", `${KB}/context`, { name: "shared" });
    assert.ok(!everywhere(shared.body).includes("plans"), everywhere(shared.body));
    const list = await p.call(mallory, "POST", `${KB}/list`, { path: "shared" });
    assert.deepEqual(
      list.body.entries.map((e: { name: string }) => e.name),
      ["public.md"],
    );
    // Developers are not concerned by a rule for users.
    assert.equal((await p.call(dev, "POST", `${KB}/read`, { path: "shared/secret/plans.md" })).status, 200);

    const rules = await p.call(admin, "GET", `${KB}/permissions`);
    assert.equal(rules.body.rules.length, 1);
    assert.equal(rules.body.rules[0].path_prefix, "shared/secret");
    assert.equal((await p.call(admin, "DELETE", `${KB}/permissions/${denied.body.rule.id}`)).status, 204);
    assert.equal(
      (await p.call(mallory, "POST", `${KB}/read`, { path: "shared/secret/plans.md" })).status,
      200,
    );
    assert.equal((await p.call(mallory, "POST", `${KB}/search`, { query: SECRET })).body.total, 2);
  });

  it("refuses traversal, absolute paths, NUL, backslashes and .git with a detail, and reaches nothing outside", async () => {
    for (const path of [
      "../../etc/passwd",
      "/etc/passwd",
      "a/../../x.md",
      "shared\\..\\x.md",
      "shared/a\u0000.md",
    ]) {
      for (const [method, op, body] of [
        ["POST", "read", { path }],
        ["POST", "write", { path, content: "x" }],
        ["DELETE", "delete", { path }],
      ] as const) {
        const answer = await p.call(admin, method, `${KB}/${op}`, body);
        assert.ok(
          [400, 422].includes(answer.status),
          `${op} ${path}: ${answer.status} ${everywhere(answer.body)}`,
        );
        assert.equal(typeof answer.body.detail, "string");
      }
    }
    for (const path of [".git/config", "shared/.git/hooks/pre-commit.md"]) {
      const answer = await p.call(admin, "POST", `${KB}/read`, { path });
      assert.equal(answer.status, 403, path);
      assert.match(answer.body.detail, /\.git/);
    }
    assert.ok(
      [400, 422].includes((await p.call(admin, "POST", `${KB}/search`, { query: "x", path: "../" })).status),
    );
    assert.ok([400, 422].includes((await p.call(admin, "POST", `${KB}/list`, { path: "/etc" })).status));
  });

  it("symlinks pushed from outside lead nowhere: not read, not written through, not searched", async () => {
    const outside = await p.outsideClone();
    symlinkSync("/etc", join(outside.dir, "shared", "etc"));
    symlinkSync("/etc/passwd", join(outside.dir, "shared", "passwd.md"));
    writeFileSync(join(outside.dir, "shared", "fine.md"), "# Fine\n\nfreshly pushed\n");
    outside.git("add", "-A");
    outside.git("commit", "-qm", "plant symlinks");
    outside.git("push", "-q", "origin", "HEAD:main");
    const synced = await p.call(dev, "POST", `${KB}/sync/from-git`);
    assert.equal(synced.status, 200, everywhere(synced.body));

    assert.equal((await p.call(admin, "POST", `${KB}/read`, { path: "shared/fine.md" })).status, 200);
    const link = await p.call(admin, "POST", `${KB}/read`, { path: "shared/passwd.md" });
    assert.equal(link.status, 403);
    assert.ok(!everywhere(link.body).includes("root:"));
    const through = await p.call(admin, "POST", `${KB}/read`, { path: "shared/etc/passwd.md" });
    assert.equal(through.status, 403);
    const write = await p.call(admin, "POST", `${KB}/write`, { path: "shared/etc/evil.md", content: "x" });
    assert.equal(write.status, 403);
    const search = await p.call(admin, "POST", `${KB}/search`, { query: "root" });
    assert.ok(!everywhere(search.body).includes("/bin/"), everywhere(search.body));
    const list = await p.call(admin, "POST", `${KB}/list`, { path: "shared" });
    assert.ok(!list.body.entries.some((e: { name: string }) => e.name === "etc" || e.name === "passwd.md"));
  });

  it("refuses files over the size limit (413) and files that are not text (415), storing nothing", async () => {
    const big = await p.call(dev, "POST", `${KB}/write`, {
      path: "shared/big.md",
      content: "x".repeat(1024 * 1024 + 1),
    });
    assert.equal(big.status, 413, everywhere(big.body).slice(0, 300));
    const binary = await p.call(dev, "POST", `${KB}/write`, { path: "shared/logo.png", content: "PNG" });
    assert.equal(binary.status, 415);
    assert.match(binary.body.detail, /\.md/);
    assert.equal((await p.call(dev, "POST", `${KB}/read`, { path: "shared/big.md" })).status, 404);
  });
});
