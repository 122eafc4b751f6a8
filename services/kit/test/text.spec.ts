import assert from "node:assert/strict";
import fc from "fast-check";
import { sharedPostgres } from "../../../test/support/servers.ts";
import { anyText } from "../../../test/support/text.ts";
import { type Database, openDatabase } from "../src/db/client.ts";
import { storableText, unstorable } from "../src/text.ts";

/** The checker against the real thing: PostgreSQL through the driver every service uses. */
describe("text PostgreSQL can store, checked against PostgreSQL (property)", function () {
  this.timeout(60_000);
  let db: Database;

  before(async () => {
    db = await openDatabase({ kind: "postgres", url: await (await sharedPostgres()).createDatabase() });
    await db.prisma.$executeRawUnsafe("CREATE TABLE text_probe (id serial PRIMARY KEY, t text, j jsonb)");
  });
  after(() => db?.close());

  /** Whether PostgreSQL stores the string, as text and as a jsonb key and value, and gives back the same. */
  const roundTrips = async (text: string) => {
    try {
      const [row] = await db.prisma.$queryRaw<{ id: number }[]>`
        INSERT INTO text_probe (t, j) VALUES (${text}, ${JSON.stringify({ [text]: text })}::jsonb) RETURNING id`;
      const [back] = await db.prisma.$queryRaw<{ t: string; j: Record<string, string> }[]>`
        SELECT t, j FROM text_probe WHERE id = ${row!.id}`;
      return back!.t === text && JSON.stringify(back!.j) === JSON.stringify({ [text]: text });
    } catch {
      return false;
    }
  };

  it("accepts exactly the strings PostgreSQL stores and reads back unchanged", async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(anyText(), async (text) => {
        const accepted = unstorable(text) === undefined;
        if (!accepted) refused++;
        assert.equal(accepted, await roundTrips(text), JSON.stringify(text));
      }),
      { numRuns: 200 },
    );
    assert.ok(refused > 20 && refused < 180, `both kinds were tried (${refused} of 200 refused)`);
  });

  it("makes any model output storable, changing nothing that was storable already", async () => {
    await fc.assert(
      fc.asyncProperty(anyText(), async (text) => {
        const kept = storableText(text);
        assert.ok(await roundTrips(kept), JSON.stringify(text));
        if (unstorable(text) === undefined) assert.equal(kept, text);
      }),
      { numRuns: 100 },
    );
  });
});
