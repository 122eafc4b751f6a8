import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  authnSealKey,
  credentialHash,
  type Identity,
  openIdentity,
  parseIdentity,
  sealIdentity,
} from "../src/index.ts";

const admin: Identity = {
  userId: "u-1",
  email: "a@example.test",
  role: "admin",
  permissions: ["admin:all"],
  authType: "api_key",
  keyId: "k-1",
};
const key = authnSealKey("an-internal-token-of-at-least-32-characters");
const hash = credentialHash("gaia_abcdefgh_secret");
const now = 1_900_000_000;

describe("the shared credential cache contract (unit)", () => {
  it("hashes a credential as SHA-256 hex of the whole string", () => {
    assert.equal(credentialHash("gaia_k"), createHash("sha256").update("gaia_k").digest("hex"));
  });

  it("opens what it sealed, for the same credential, until the seal expires", () => {
    const sealed = sealIdentity(key, hash, admin, now + 600);
    assert.deepEqual(openIdentity(key, hash, sealed, now), { kind: "identity", identity: admin });
    assert.deepEqual(openIdentity(key, hash, sealed, now + 600), { kind: "forged" }, "expired");
    assert.deepEqual(openIdentity(key, hash, null, now), { kind: "missing" });
  });

  it("calls forged every value that auth did not seal for this credential", () => {
    const sealed = JSON.parse(
      sealIdentity(key, hash, { ...admin, role: "user", permissions: [] }, now + 600),
    );
    const forgeries: Record<string, string> = {
      "a bare identity with a valid shape": JSON.stringify(admin),
      "a sealed entry with its role raised": JSON.stringify({
        ...sealed,
        identity: { ...sealed.identity, role: "admin", permissions: ["admin:all"] },
      }),
      "a sealed entry with its lifetime extended": JSON.stringify({ ...sealed, exp: now + 86_400 }),
      "a seal made with another key": sealIdentity(authnSealKey("x".repeat(40)), hash, admin, now + 600),
      "a truncated mac": JSON.stringify({ ...sealed, mac: sealed.mac.slice(0, 10) }),
      "not JSON": "{",
      "JSON null": "null",
    };
    for (const [what, raw] of Object.entries(forgeries))
      assert.deepEqual(openIdentity(key, hash, raw, now), { kind: "forged" }, what);
    const moved = sealIdentity(key, credentialHash("another credential"), admin, now + 600);
    assert.deepEqual(
      openIdentity(key, hash, moved, now),
      { kind: "forged" },
      "moved from another credential",
    );
  });

  it("derives different keys from different internal tokens", () => {
    assert.notDeepEqual(authnSealKey("a".repeat(32)), authnSealKey("b".repeat(32)));
    assert.equal(authnSealKey("a".repeat(32)).length, 32);
  });

  it("takes identities from outside only with the Identity shape", () => {
    assert.deepEqual(parseIdentity({ ...admin, extra: 1 }), admin);
    assert.equal(parseIdentity({ ...admin, role: "root" }), undefined);
    assert.equal(parseIdentity({ ...admin, permissions: ["everything"] }), undefined);
    assert.equal(parseIdentity({ ...admin, authType: "magic" }), undefined);
    assert.equal(parseIdentity({ ...admin, userId: "" }), undefined);
    assert.equal(parseIdentity("nope"), undefined);
    assert.throws(() => sealIdentity(key, hash, { ...admin, role: "root" as "admin" }, now));
  });
});
