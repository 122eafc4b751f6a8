import assert from "node:assert/strict";
import { HttpError } from "@gaia/kit";
import { checkStorable, filePath, folderPath } from "../src/paths.ts";

const refusal = (fn: () => unknown): number => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HttpError, String(error));
    assert.ok(error.detail.length > 0);
    return error.status;
  }
  assert.fail("expected a refusal");
};

describe("kb paths (pure)", () => {
  it("keeps canonical relative paths", () => {
    assert.equal(filePath("worlds/arden/lore.md"), "worlds/arden/lore.md");
    assert.equal(folderPath("worlds/arden/"), "worlds/arden");
    assert.equal(folderPath(""), "");
    assert.equal(folderPath("/"), "");
    assert.equal(filePath("notes/.hidden.md"), "notes/.hidden.md");
    // Names a shell or Windows would read specially are plain names here: nothing expands them.
    assert.equal(filePath("~/x.md"), "~/x.md");
    assert.equal(filePath("C:/x.md"), "C:/x.md");
  });

  it("refuses traversal, absolute paths, NUL, backslashes and anything under .git", () => {
    for (const bad of ["../etc/passwd", "a/../../b.md", "a/./b.md", "/etc/passwd", "a//b.md"]) {
      assert.equal(
        refusal(() => filePath(bad)),
        400,
        bad,
      );
    }
    assert.equal(
      refusal(() => filePath("a\u0000b.md")),
      400,
    );
    assert.equal(
      refusal(() => filePath("a\\..\\b.md")),
      400,
    );
    for (const git of [".git/config", "a/.git/HEAD", ".GIT/config", ".git"]) {
      assert.equal(
        refusal(() => filePath(git)),
        403,
        git,
      );
    }
    assert.equal(
      refusal(() => filePath("")),
      400,
    );
    assert.equal(
      refusal(() => filePath(42)),
      400,
    );
    assert.equal(
      refusal(() => filePath("a/".repeat(300))),
      400,
    );
  });

  it("refuses files over the size limit (413) and files that are not text (415)", () => {
    const limits = { maxFileBytes: 10, extensions: new Set(["md"]) };
    assert.equal(
      refusal(() => checkStorable("a.md", "x".repeat(11), limits)),
      413,
    );
    assert.equal(
      refusal(() => checkStorable("a.png", "x", limits)),
      415,
    );
    assert.equal(
      refusal(() => checkStorable("Makefile", "x", limits)),
      415,
    );
    checkStorable("a.md", "x".repeat(10), limits);
  });
});

describe("kb paths: the published pattern and the check agree", () => {
  it("accepts by pattern exactly what the check accepts (the fuzz tier relies on it)", async () => {
    const { FILE_PATH_PATTERN } = await import("@gaia/kit/contracts/kb");
    const pattern = new RegExp(FILE_PATH_PATTERN);
    const samples = [
      "a.md",
      "x/y/z.md",
      ".h.md",
      "...",
      "..a",
      "a b/c.md",
      "~/x.md",
      "",
      "/a",
      "a/",
      "a//b",
      ".",
      "..",
      "a/../b",
      "a/./b",
      "a\\b",
      "a\u0000b",
      "a\u001fb",
      "a\u007fb",
      "ü/ß.md",
    ];
    for (const sample of samples) {
      let accepted = true;
      try {
        filePath(sample);
      } catch {
        accepted = false;
      }
      assert.equal(pattern.test(sample), accepted, JSON.stringify(sample));
    }
  });
});
