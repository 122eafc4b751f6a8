import { DATABASE_ROLES, databaseRole, rolePasswordVariable } from "@gaia/kit/db/roles";
import type { BackendName } from "@gaia/kit/registry";
import type { V1EnvVar } from "@kubernetes/client-node";
import type { ExternalStore, GaiaPlatform, ProviderName, ServiceName } from "../api/types.ts";
import { natsHost } from "./nats.ts";
import { DATASTORE_PORTS } from "./ports.ts";
import { postgresHost } from "./postgres.ts";
import { redisHost } from "./redis.ts";
import {
  INTERNAL_TOKEN_KEY,
  internalTokenSecretName,
  JWT_KEY_ID,
  JWT_PRIVATE_KEY,
  jwtSecretName,
  natsSecretName,
  POSTGRES_DATABASE,
  POSTGRES_PASSWORD_KEY,
  POSTGRES_USER,
  postgresRolesSecretName,
  postgresSecretName,
  redisSecretName,
} from "./secrets.ts";

/**
 * The environment of Gaia's containers beyond the shared ConfigMap: connection URLs (secrets among them) and
 * each service's own credentials. A service gets only the provider keys it uses.
 */

const secretEnv = (name: string, secret: string, key: string, optional?: boolean): V1EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional } : {}) } },
});

/** Environment variable of each provider's key, and of its base URL where the SDK has one. */
const PROVIDER_ENV: Record<ProviderName, { key: string; baseURL?: string; consumer: ServiceName }> = {
  openai: { key: "OPENAI_API_KEY", baseURL: "OPENAI_BASE_URL", consumer: "chat" },
  anthropic: { key: "ANTHROPIC_API_KEY", baseURL: "ANTHROPIC_BASE_URL", consumer: "chat" },
  stability: { key: "STABILITY_API_KEY", consumer: "asset" },
  meshy: { key: "MESHY_API_KEY", consumer: "asset" },
  mubert: { key: "MUBERT_API_KEY", consumer: "asset" },
  freesound: { key: "FREESOUND_API_KEY", consumer: "asset" },
  midjourney: { key: "MIDJOURNEY_API_KEY", consumer: "asset" },
};

/**
 * DATABASE_URL. The managed PostgreSQL is reached as the service's own role (kit db/roles.ts), whose password
 * Kubernetes expands into the URL; the migration Job connects as the owner and is given every role's password,
 * so that it makes the roles and their grants. An external database takes the URL of the user's Secret: each
 * service its own (serviceSecretRef, the key named after it) where given, the migration Job always secretRef's.
 */
export function databaseEnv(platform: GaiaPlatform, who: ServiceName | "migration"): V1EnvVar[] {
  const { postgres } = platform.spec;
  if (postgres.external)
    return [externalEnv("DATABASE_URL", postgres.external, who === "migration" ? undefined : who)];
  const at = `${postgresHost(platform)}:${DATASTORE_PORTS.postgres}/${POSTGRES_DATABASE}`;
  if (who === "migration") {
    // Kubernetes expands $(VAR) from variables defined earlier, so the password never sits in the pod spec.
    return [
      secretEnv("GAIA_POSTGRES_PASSWORD", postgresSecretName(platform), POSTGRES_PASSWORD_KEY),
      { name: "DATABASE_URL", value: `postgresql://${POSTGRES_USER}:$(GAIA_POSTGRES_PASSWORD)@${at}` },
      ...ROLE_SERVICES.map((service) =>
        secretEnv(rolePasswordVariable(service), postgresRolesSecretName(platform), service),
      ),
    ];
  }
  if (!isRoleService(who)) {
    // The gateway and web keep no data: a URL without credentials spares them an embedded database and opens nothing.
    return [{ name: "DATABASE_URL", value: `postgresql://${at}` }];
  }
  return [
    secretEnv("GAIA_POSTGRES_PASSWORD", postgresRolesSecretName(platform), who),
    { name: "DATABASE_URL", value: `postgresql://${databaseRole(who)}:$(GAIA_POSTGRES_PASSWORD)@${at}` },
  ];
}

/**
 * An external datastore's URL: the service's own key of serviceSecretRef when there is one (and a service asks),
 * else the shared secretRef.
 */
function externalEnv(name: string, store: ExternalStore, service?: ServiceName): V1EnvVar {
  return store.serviceSecretRef && service
    ? secretEnv(name, store.serviceSecretRef.name, service)
    : secretEnv(name, store.secretRef.name, store.secretRef.key);
}

const ROLE_SERVICES = Object.keys(DATABASE_ROLES) as BackendName[];
const isRoleService = (service: ServiceName): service is BackendName =>
  (ROLE_SERVICES as string[]).includes(service);

/**
 * DATABASE_URL, REDIS_URL and NATS_URL. The managed Redis and NATS are reached as the service's own user, whose
 * password Kubernetes expands into the URL; external ones take the URL of the user's Secret, the service's own
 * when the platform names a serviceSecretRef.
 */
export function datastoreEnv(platform: GaiaPlatform, service: ServiceName): V1EnvVar[] {
  const { redis, nats } = platform.spec;
  const env = databaseEnv(platform, service);
  if (redis.external) {
    env.push(externalEnv("REDIS_URL", redis.external, service));
  } else {
    env.push(secretEnv("GAIA_REDIS_PASSWORD", redisSecretName(platform), service), {
      name: "REDIS_URL",
      value: `redis://${service}:$(GAIA_REDIS_PASSWORD)@${redisHost(platform)}:${DATASTORE_PORTS.redis}`,
    });
  }
  if (nats.external) {
    env.push(externalEnv("NATS_URL", nats.external, service));
  } else {
    env.push(secretEnv("GAIA_NATS_PASSWORD", natsSecretName(platform), service), {
      name: "NATS_URL",
      value: `nats://${service}:$(GAIA_NATS_PASSWORD)@${natsHost(platform)}:${DATASTORE_PORTS.nats}`,
    });
  }
  return env;
}

function ownEnv(platform: GaiaPlatform, service: ServiceName): V1EnvVar[] {
  const { spec } = platform;
  const env: V1EnvVar[] = [];
  for (const [provider, wiring] of Object.entries(PROVIDER_ENV) as [
    ProviderName,
    (typeof PROVIDER_ENV)[ProviderName],
  ][]) {
    const config = spec.providers?.[provider];
    if (!config || wiring.consumer !== service) continue;
    env.push(secretEnv(wiring.key, config.secretRef.name, config.secretRef.key));
    if (wiring.baseURL && config.baseURL) env.push({ name: wiring.baseURL, value: config.baseURL });
  }
  const proxies = spec.exposure.trustedProxies ?? [];
  if (service === "gateway" && proxies.length > 0)
    env.push({ name: "GAIA_TRUSTED_PROXIES", value: proxies.join(",") });
  if (service === "gateway" || service === "auth") {
    env.push(secretEnv("GAIA_INTERNAL_TOKEN", internalTokenSecretName(platform), INTERNAL_TOKEN_KEY));
  }
  if (service === "auth") {
    env.push(secretEnv("GAIA_JWT_PRIVATE_KEY", jwtSecretName(platform), JWT_PRIVATE_KEY));
    env.push(secretEnv("GAIA_JWT_KEY_ID", jwtSecretName(platform), JWT_KEY_ID));
    const supabase = spec.auth?.supabase;
    if (supabase?.jwtSecretRef) {
      env.push(secretEnv("SUPABASE_JWT_SECRET", supabase.jwtSecretRef.name, supabase.jwtSecretRef.key));
    }
    if (supabase?.jwksUrl) env.push({ name: "SUPABASE_JWKS_URL", value: supabase.jwksUrl });
  }
  if (service === "kb" && spec.kb.git) {
    const { git } = spec.kb;
    env.push({ name: "KB_GIT_URL", value: git.url }, { name: "KB_GIT_BRANCH", value: git.branch });
    if (git.credentialsSecretRef) {
      env.push(secretEnv("KB_GIT_USERNAME", git.credentialsSecretRef.name, "username", true));
      env.push(secretEnv("KB_GIT_PASSWORD", git.credentialsSecretRef.name, "password", true));
      // The key of a kubernetes.io/ssh-auth Secret, for ssh:// and git@ remotes.
      env.push(secretEnv("KB_GIT_SSH_KEY", git.credentialsSecretRef.name, "ssh-privatekey", true));
    }
  }
  return env;
}

/** Everything a service's container gets besides the ConfigMap; the user's spec.services.<name>.env wins. */
export function serviceEnv(platform: GaiaPlatform, service: ServiceName): V1EnvVar[] {
  const user = (platform.spec.services[service].env ?? []) as V1EnvVar[];
  const overridden = new Set(user.map((variable) => variable.name));
  const operator = [...datastoreEnv(platform, service), ...ownEnv(platform, service)].filter(
    (v) => !overridden.has(v.name),
  );
  return [...operator, ...user];
}
