import assert from "node:assert/strict";
import pg from "pg";
import { asService, sharedPostgres } from "../../../test/support/servers.ts";
import type { BackendName } from "../src/registry.ts";

/**
 * Each service's PostgreSQL role, as the migration step grants it, against a real server with password checks.
 * The table below is written out here on purpose, not derived from DATABASE_ROLES: it is what each service is
 * meant to reach, and the grants must match it.
 */
const TABLES = [
  "users",
  "api_keys",
  "refresh_tokens",
  "audit_log",
  "conversations",
  "messages",
  "personas",
  "usage_records",
  "provider_pricing",
  "assets",
  "asset_jobs",
  "asset_job_events",
  "asset_webhook_secrets",
  "asset_webhook_deliveries",
  "kb_path_permissions",
  "kb_documents",
  "kb_document_versions",
  "kb_sync_state",
  "kb_conflicts",
  "api_key_budgets",
] as const;
type Table = (typeof TABLES)[number];
const W = "write";
const R = "read";
const ACCESS: Record<BackendName, Partial<Record<Table, "read" | "write">>> = {
  auth: { users: W, api_keys: W, refresh_tokens: W, audit_log: W },
  chat: {
    conversations: W,
    messages: W,
    personas: W,
    usage_records: W,
    provider_pricing: R,
    api_key_budgets: R,
  },
  asset: {
    assets: W,
    asset_jobs: W,
    asset_job_events: W,
    asset_webhook_secrets: W,
    asset_webhook_deliveries: W,
    usage_records: W,
    provider_pricing: W,
    api_key_budgets: R,
  },
  kb: {
    kb_path_permissions: W,
    kb_documents: W,
    kb_document_versions: W,
    kb_sync_state: W,
    kb_conflicts: W,
  },
};

async function as<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const refused = (error: unknown) => /permission denied/.test(String(error));

describe("database roles: each service reaches its own tables only (real PostgreSQL)", function () {
  this.timeout(60_000);
  let owner: string;

  before(async () => {
    owner = await (await sharedPostgres()).createDatabase();
  });

  for (const service of Object.keys(ACCESS) as BackendName[]) {
    it(`${service}: reads and writes what it owns, reads what it may, and is refused the rest`, async () => {
      await as(asService(owner, service), async (client) => {
        for (const table of TABLES) {
          const expected = ACCESS[service][table];
          const read = await client.query(`SELECT 1 FROM "${table}" LIMIT 1`).then(
            () => true,
            (error) => (refused(error) ? false : Promise.reject(error)),
          );
          // DELETE ... WHERE false changes nothing but needs the privilege, so it proves write access safely.
          const write =
            table === "api_key_budgets"
              ? false
              : await client.query(`DELETE FROM "${table}" WHERE false`).then(
                  () => true,
                  (error) => (refused(error) ? false : Promise.reject(error)),
                );
          assert.deepEqual(
            { read, write },
            { read: expected !== undefined, write: expected === "write" },
            `${service} on ${table}`,
          );
        }
        await assert.rejects(client.query("CREATE TABLE intruder (id int)"), refused, "no new tables");
      });
    });
  }

  it("chat reads a key's spending limit through the view, never the key hashes", async () => {
    await as(asService(owner, "chat"), async (client) => {
      await assert.rejects(client.query("SELECT key_hash FROM api_keys"), refused);
      const columns = await client.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_key_budgets' ORDER BY 1",
      );
      assert.deepEqual(
        columns.rows.map((r) => r.column_name),
        ["budget_usd", "id", "user_id"],
      );
    });
  });

  it("refuses a role's name with the wrong password", async () => {
    const url = new URL(asService(owner, "chat"));
    url.password = "not-the-password";
    await assert.rejects(
      as(url.toString(), async () => {}),
      /password authentication failed/,
    );
  });
});
