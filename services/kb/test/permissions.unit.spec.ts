import assert from "node:assert/strict";
import { effectivePermissions, type Identity, type Role } from "@gaia/kit";
import { accessFor, type PathRule } from "../src/permissions.ts";

const who = (role: Role, userId = "u-1", permissions?: string[]): Identity => ({
  userId,
  role,
  permissions: effectivePermissions(role, permissions),
  authType: "api_key",
});

describe("kb path permissions (one pure function)", () => {
  it("by default: the world readable by all and writable by developers, users/ private to each user", () => {
    const user = accessFor(who("user"), []);
    assert.equal(user.canRead("worlds/arden/lore.md"), true);
    assert.equal(user.canWrite("worlds/arden/lore.md"), false);
    assert.equal(user.canRead("shared/rules.md"), true);
    assert.equal(user.canWrite("shared/rules.md"), false);
    assert.equal(user.canRead("users/u-1/notes.md"), true);
    assert.equal(user.canWrite("users/u-1/notes.md"), true);
    assert.equal(user.canRead("users/u-2/notes.md"), false);
    // A prefix is a folder, not a string prefix: users/u-10 is not u-1's.
    assert.equal(user.canRead("users/u-10/notes.md"), false);
    const dev = accessFor(who("developer"), []);
    assert.equal(dev.canWrite("shared/rules.md"), true);
    assert.equal(dev.canRead("users/u-2/notes.md"), false);
    const guest = accessFor(who("guest"), []);
    assert.equal(guest.canRead("shared/rules.md"), true);
    assert.equal(guest.canWrite("users/u-1/notes.md"), false);
    const admin = accessFor(who("admin"), []);
    assert.equal(admin.canRead("users/u-2/notes.md"), true);
    assert.equal(admin.canWrite("shared/secret/plans.md"), true);
  });

  it("the longest prefix wins, and a deny inside an allowed folder holds", () => {
    const rules: PathRule[] = [
      { role: "user", pathPrefix: "shared/secret", canRead: false, canWrite: false },
      { role: "user", pathPrefix: "shared/secret/public", canRead: true, canWrite: false },
    ];
    const user = accessFor(who("user"), rules);
    assert.equal(user.canRead("shared/rules.md"), true);
    assert.equal(user.canRead("shared/secret/plans.md"), false);
    assert.equal(user.canRead("shared/secret"), false);
    assert.equal(user.canRead("shared/secret/public/poster.md"), true);
    // The rules name the role: a developer is not concerned.
    assert.equal(accessFor(who("developer"), rules).canRead("shared/secret/plans.md"), true);
  });

  it("a user's own rule beats their role's on the same prefix", () => {
    const rules: PathRule[] = [
      { role: "user", pathPrefix: "studio", canRead: false, canWrite: false },
      { userId: "u-1", pathPrefix: "studio", canRead: true, canWrite: true },
    ];
    assert.equal(accessFor(who("user"), rules).canRead("studio/a.md"), true);
    assert.equal(
      accessFor(who("user", "u-1", ["kb:read", "kb:write"]), rules).canWrite("studio/a.md"),
      false,
    );
    assert.equal(accessFor(who("user", "u-2"), rules).canRead("studio/a.md"), false);
  });

  it("a key narrowed below its owner's permissions narrows what it may do", () => {
    const chatOnly = accessFor(who("developer", "u-1", ["chat:create"]), []);
    assert.equal(chatOnly.canRead("shared/rules.md"), false);
    const readOnly = accessFor(who("developer", "u-1", ["kb:read"]), []);
    assert.equal(readOnly.canRead("shared/rules.md"), true);
    assert.equal(readOnly.canWrite("shared/rules.md"), false);
    // In their own folder kb:read is enough.
    assert.equal(readOnly.canWrite("users/u-1/notes.md"), true);
  });
});
