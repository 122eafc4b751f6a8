import { createHash } from "node:crypto";
import {
  NATS_USERS,
  type NatsUser,
  natsAuthorization,
  passwordVariable,
  REDIS_USERS,
  type RedisUser,
  redisAcl,
} from "@gaia/kit/datastores";

/**
 * The users an external Redis or NATS needs for Gaia's services to connect each as itself, as the operator
 * gives them to the managed servers (kit datastores.ts): printed for the administrator of a server the operator
 * does not run. Neither output holds a password: Redis's ACL file gets each password's SHA-256, NATS's
 * configuration names environment variables that nats-server reads when it starts.
 */

export class MissingPasswords extends Error {
  constructor(readonly variables: string[]) {
    super(`set ${variables.join(", ")} (one password per user), then run this again`);
  }
}

/** A Redis ACL file (`aclfile` in redis.conf) with one user per service, from GAIA_REDIS_PASSWORD_<USER>. */
export function redisAclFile(env: NodeJS.ProcessEnv): string {
  const missing = REDIS_USERS.map((u) => passwordVariable("redis", u)).filter((v) => !env[v]);
  if (missing.length > 0) throw new MissingPasswords(missing);
  const sha256 = (user: RedisUser) =>
    createHash("sha256").update(env[passwordVariable("redis", user)]!).digest("hex");
  return `${redisAcl(sha256, "#")
    .map((rule) => `user ${rule.join(" ")}`)
    .join("\n")}\n`;
}

/**
 * nats-server's `authorization` block; each password is the variable $GAIA_NATS_PASSWORD_<USER> of its environment,
 * whose value must be quoted (`"pw"`): nats-server parses it as configuration, and `1e5…` or `-x…` would not read
 * back as a string.
 */
export function natsAuthorizationBlock(): string {
  return `${natsAuthorization((user: NatsUser) => `$${passwordVariable("nats", user)}`)}\n`;
}

export const NATS_PASSWORD_VARIABLES = NATS_USERS.map((u) => passwordVariable("nats", u));
