import { NATS_GAME_SERVER_USER, NATS_USERS, REDIS_USERS } from "@gaia/kit/datastores";
import { DATABASE_ROLES } from "@gaia/kit/db/roles";
import type { V1Secret } from "@kubernetes/client-node";
import type { GaiaPlatform } from "../api/types.ts";
import { childMeta, childName } from "./labels.ts";
import type { JwtMaterial } from "./material.ts";

/**
 * The Secrets the operator generates. They are created once and never applied again: rotating a signing key
 * or a database password by accident would log everyone out or lock the services out of their database.
 */

export const JWT_PRIVATE_KEY = "private-key.pem";
export const JWT_KEY_ID = "key-id";
export const INTERNAL_TOKEN_KEY = "token";
export const POSTGRES_USER_KEY = "username";
export const POSTGRES_PASSWORD_KEY = "password";
export const NATS_USER_KEY = "username";
export const NATS_PASSWORD_KEY = "password";
/** The role and database a managed PostgreSQL is initialised with. */
export const POSTGRES_USER = "gaia";
export const POSTGRES_DATABASE = "gaia";

export function jwtSecretName(platform: GaiaPlatform): string {
  return childName(platform, "jwt");
}

export function postgresSecretName(platform: GaiaPlatform): string {
  return childName(platform, "postgres-credentials");
}

/** One password per Redis ACL user, keyed by the user's name. */
/** The passwords of the services' own PostgreSQL roles (kit db/roles.ts), one key per service. */
export function postgresRolesSecretName(platform: GaiaPlatform): string {
  return childName(platform, "postgres-roles");
}

export function redisSecretName(platform: GaiaPlatform): string {
  return childName(platform, "redis-credentials");
}

/** One password per service's NATS user, keyed by the service's name. */
export function natsSecretName(platform: GaiaPlatform): string {
  return childName(platform, "nats-credentials");
}

/** The NATS user game servers publish world updates as: a Secret of its own, to hand to them alone. */
export function natsGameServerSecretName(platform: GaiaPlatform): string {
  return childName(platform, "nats-game-server");
}

/** The secret the gateway presents to auth to mint service tokens; both must hold the same one. */
export function internalTokenSecretName(platform: GaiaPlatform): string {
  return childName(platform, "internal-token");
}

/** The generated Secrets, wanted whatever the spec says (a password must outlive a switch to an external database). */
export function generatedSecretNames(platform: GaiaPlatform): string[] {
  return [
    jwtSecretName(platform),
    internalTokenSecretName(platform),
    postgresSecretName(platform),
    postgresRolesSecretName(platform),
    redisSecretName(platform),
    natsSecretName(platform),
    natsGameServerSecretName(platform),
  ];
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

export function jwtSecret(platform: GaiaPlatform, material: JwtMaterial): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(platform, "jwt", "auth", "credentials"),
    type: "Opaque",
    data: { [JWT_PRIVATE_KEY]: b64(material.privateKeyPem), [JWT_KEY_ID]: b64(material.keyId) },
  };
}

export function internalTokenSecret(platform: GaiaPlatform, token: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(platform, "internal-token", "auth", "credentials"),
    type: "Opaque",
    data: { [INTERNAL_TOKEN_KEY]: b64(token) },
  };
}

export function postgresSecret(platform: GaiaPlatform, password: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(platform, "postgres-credentials", "postgres", "credentials"),
    type: "Opaque",
    data: { [POSTGRES_USER_KEY]: b64(POSTGRES_USER), [POSTGRES_PASSWORD_KEY]: b64(password) },
  };
}

const passwords = (users: readonly string[], password: () => string) =>
  Object.fromEntries(users.map((user) => [user, b64(password())]));

export function postgresRolesSecret(platform: GaiaPlatform, password: () => string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(platform, "postgres-roles", "postgres", "credentials"),
    type: "Opaque",
    data: passwords(Object.keys(DATABASE_ROLES), password),
  };
}

export function redisSecret(platform: GaiaPlatform, password: () => string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(platform, "redis-credentials", "redis", "credentials"),
    type: "Opaque",
    data: passwords(REDIS_USERS, password),
  };
}

export function natsSecret(platform: GaiaPlatform, password: () => string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(platform, "nats-credentials", "nats", "credentials"),
    type: "Opaque",
    data: passwords(
      NATS_USERS.filter((user) => user !== NATS_GAME_SERVER_USER),
      password,
    ),
  };
}

export function natsGameServerSecret(platform: GaiaPlatform, password: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(platform, "nats-game-server", "nats", "credentials"),
    type: "Opaque",
    data: { [NATS_USER_KEY]: b64(NATS_GAME_SERVER_USER), [NATS_PASSWORD_KEY]: b64(password) },
  };
}

/**
 * Secrets the user names in the spec, whose content the pods consume: a change of their data must roll the pods,
 * and a missing one is reported rather than left to fail container start.
 */
export function referencedSecretNames(platform: GaiaPlatform): string[] {
  const { spec } = platform;
  const names = new Set<string>();
  for (const provider of Object.values(spec.providers ?? {})) names.add(provider.secretRef.name);
  if (spec.auth?.supabase?.jwtSecretRef) names.add(spec.auth.supabase.jwtSecretRef.name);
  if (spec.kb.git?.credentialsSecretRef) names.add(spec.kb.git.credentialsSecretRef.name);
  for (const store of [spec.postgres, spec.redis, spec.nats])
    if (store.external) {
      names.add(store.external.secretRef.name);
      if (store.external.serviceSecretRef) names.add(store.external.serviceSecretRef.name);
    }
  for (const service of Object.values(spec.services)) {
    for (const env of service.env ?? []) {
      if (env.valueFrom?.secretKeyRef && !env.valueFrom.secretKeyRef.optional)
        names.add(env.valueFrom.secretKeyRef.name);
    }
  }
  return [...names].sort();
}
