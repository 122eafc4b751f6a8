import type { BackendName } from "../registry.ts";

/**
 * One PostgreSQL role per service, granted only the tables that service owns (and what it may read of others').
 * The migration step, as the database's owner, creates the roles and keeps their grants exactly as written here;
 * each service then connects as its own role. The gateway keeps no data and has none.
 */

export interface RoleGrants {
  /** Tables (and views) the service reads and writes. */
  readWrite: readonly string[];
  /** Tables and views it may only read. */
  read: readonly string[];
  /** Sequences behind its BIGSERIAL columns. */
  sequences: readonly string[];
}

export const DATABASE_ROLES: Record<BackendName, RoleGrants> = {
  auth: {
    readWrite: ["users", "api_keys", "refresh_tokens", "audit_log"],
    read: [],
    sequences: ["audit_log_id_seq"],
  },
  chat: {
    readWrite: ["conversations", "messages", "personas", "persona_selections", "usage_records"],
    read: ["provider_pricing", "api_key_budgets"],
    sequences: ["usage_records_id_seq"],
  },
  asset: {
    // provider_pricing: an admin's price overrides for asset providers are written through asset's pricing API.
    readWrite: [
      "assets",
      "asset_jobs",
      "asset_job_events",
      "asset_webhook_secrets",
      "asset_webhook_deliveries",
      "usage_records",
      "provider_pricing",
    ],
    read: ["api_key_budgets"],
    sequences: ["usage_records_id_seq"],
  },
  kb: {
    readWrite: [
      "kb_path_permissions",
      "kb_documents",
      "kb_document_versions",
      "kb_sync_state",
      "kb_conflicts",
    ],
    read: [],
    sequences: [],
  },
};

export const databaseRole = (service: BackendName) => `gaia_${service}`;

/** PostgreSQL string literal: the password is generated, but quote it properly anyway. */
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The statements that make `service`'s role exist with this password and exactly these grants: whatever it held
 * before on the schema's tables is revoked first, so a table moved to another service is taken away.
 */
export function roleStatements(service: BackendName, password: string, schema = "public"): string[] {
  const role = ident(databaseRole(service));
  const grants = DATABASE_ROLES[service];
  const on = (tables: readonly string[]) => tables.map((t) => `${ident(schema)}.${ident(t)}`).join(", ");
  return [
    `DO $$ BEGIN CREATE ROLE ${role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    `ALTER ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD ${literal(password)}`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${ident(schema)} FROM ${role}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${ident(schema)} FROM ${role}`,
    `REVOKE CREATE ON SCHEMA ${ident(schema)} FROM ${role}`,
    `GRANT USAGE ON SCHEMA ${ident(schema)} TO ${role}`,
    ...(grants.readWrite.length
      ? [`GRANT SELECT, INSERT, UPDATE, DELETE ON ${on(grants.readWrite)} TO ${role}`]
      : []),
    ...(grants.read.length ? [`GRANT SELECT ON ${on(grants.read)} TO ${role}`] : []),
    ...(grants.sequences.length
      ? [`GRANT USAGE, SELECT ON SEQUENCE ${on(grants.sequences)} TO ${role}`]
      : []),
  ];
}

/** `postgresql://owner:pw@host/db` → the same database as `service`'s role. */
export function roleUrl(ownerUrl: string, service: BackendName, password: string): string {
  const url = new URL(ownerUrl);
  url.username = databaseRole(service);
  url.password = password;
  return url.toString();
}

/** GAIA_DB_PASSWORD_<SERVICE>: given to the migration step, which makes or updates each such service's role. */
export const rolePasswordVariable = (service: BackendName) => `GAIA_DB_PASSWORD_${service.toUpperCase()}`;

/** The services whose role passwords this environment holds, with them. */
export function rolePasswords(env: NodeJS.ProcessEnv): Partial<Record<BackendName, string>> {
  const found: Partial<Record<BackendName, string>> = {};
  for (const service of Object.keys(DATABASE_ROLES) as BackendName[]) {
    const value = env[rolePasswordVariable(service)];
    if (value) found[service] = value;
  }
  return found;
}

/** Run each service's role statements in one transaction: a role is never left half granted. */
export async function applyRoles(
  execute: (statements: string[]) => Promise<void>,
  passwords: Partial<Record<BackendName, string>>,
): Promise<BackendName[]> {
  const services = Object.keys(passwords) as BackendName[];
  await execute(services.flatMap((service) => roleStatements(service, passwords[service]!)));
  return services;
}
