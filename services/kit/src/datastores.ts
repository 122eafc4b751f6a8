/**
 * Who may do what in Redis and NATS: one user per service, each limited to the keys, commands and subjects it
 * uses. The operator renders these into the managed servers and the tests start theirs from the same builders,
 * so a service that reaches past its grant fails in the tests as it would in a cluster. Pure: no client here.
 */

import { SERVICE_NAMES, type ServiceName } from "./registry.ts";
import {
  CREDENTIAL_REVOKED_SUBJECT,
  IDENTITY_REVOKED_SUBJECT,
  KB_CHANGED_SUBJECT,
  WORLD_UPDATES_SUBJECTS,
} from "./subjects.ts";

/** Every cache key starts with this (RedisCache's prefix), so ACL key patterns can name it. */
export const CACHE_KEY_PREFIX = "gaia:";

/** Subjects kept on JetStream so that nothing published is lost while a consumer is away. */
export const DURABLE_STREAMS = {
  GAIA_ASSET_EVENTS: ["gaia.asset.generation.>"],
} as const;
export type DurableStream = keyof typeof DURABLE_STREAMS;

/** A key pattern (after the prefix) and whether its holder only reads it. */
interface KeyGrant {
  pattern: string;
  readOnly?: true;
}

/**
 * The Redis commands behind each Cache call (kit/src/cache.ts), including those its INCR script runs: Redis
 * checks a script's calls against the caller's ACL too.
 */
const CACHE_COMMANDS = {
  get: ["get"],
  set: ["set"],
  del: ["del"],
  incr: ["evalsha", "eval", "incrby", "pexpire", "pttl"],
  addToSet: ["multi", "sadd", "pexpire", "exec"],
  setMembers: ["smembers"],
} as const;
type CacheCall = keyof typeof CACHE_COMMANDS;

/** What ioredis sends on every connection: INFO for its ready check (RedisCache turns CLIENT SETINFO off). */
const CONNECT_COMMANDS = ["info"];

interface RedisGrant {
  keys: KeyGrant[];
  calls: CacheCall[];
}

const NO_KEYS: RedisGrant = { keys: [], calls: [] };

/** Each service's Redis user. Services that keep nothing in Redis still connect (the runtime opens the cache). */
export const REDIS_GRANTS: Record<ServiceName, RedisGrant> = {
  gateway: {
    // Reads the identities auth caches; counts its own rate limits.
    keys: [{ pattern: "authn:*", readOnly: true }, { pattern: "ratelimit:*" }],
    calls: ["get", "incr"],
  },
  auth: {
    keys: [
      { pattern: "authn:*" },
      { pattern: "authn-user:*" },
      { pattern: "authn-epoch" },
      { pattern: "login:*" },
      { pattern: "register:*" },
    ],
    calls: ["get", "set", "del", "incr", "addToSet", "setMembers"],
  },
  asset: NO_KEYS,
  chat: NO_KEYS,
  // Cached reads and searches, and the generation counter that a change bumps to retire them all at once.
  kb: { keys: [{ pattern: "kb:*" }], calls: ["get", "set", "del", "incr"] },
  web: NO_KEYS,
};

/** The user the managed Redis's probes authenticate as: PING and nothing else. */
export const REDIS_PROBE_USER = "probe";
export const REDIS_USERS = [...SERVICE_NAMES, REDIS_PROBE_USER] as const;
export type RedisUser = (typeof REDIS_USERS)[number];

/**
 * The environment variable that holds a datastore user's password wherever Gaia hands one over — the managed
 * servers' pods and `gaia grants` alike: GAIA_REDIS_PASSWORD_AUTH, GAIA_NATS_PASSWORD_GAME_SERVER, …
 */
export const passwordVariable = (store: "redis" | "nats", user: RedisUser | NatsUser) =>
  `GAIA_${store.toUpperCase()}_PASSWORD_${user.toUpperCase().replaceAll("-", "_")}`;

/**
 * The ACL rules of each Redis user, as `user` directive arguments: the default user off, then one user per
 * service and the probe's. `password` gives the text after `>` — the password itself, or a placeholder the
 * deployment expands — or, with `form` "#", the SHA-256 (hex) of the password, so an ACL file need not hold it.
 */
export function redisAcl(password: (user: RedisUser) => string, form: ">" | "#" = ">"): string[][] {
  const rules: string[][] = [["default", "off"]];
  for (const service of SERVICE_NAMES) {
    const grant = REDIS_GRANTS[service];
    const keys = grant.keys.map((k) => `${k.readOnly ? "%R" : ""}~${CACHE_KEY_PREFIX}${k.pattern}`);
    const commands = new Set([...CONNECT_COMMANDS, ...grant.calls.flatMap((call) => CACHE_COMMANDS[call])]);
    rules.push([
      service,
      "on",
      `${form}${password(service)}`,
      "resetkeys",
      ...keys,
      "resetchannels",
      "-@all",
      ...[...commands].map((command) => `+${command}`),
    ]);
  }
  rules.push([
    REDIS_PROBE_USER,
    "on",
    `${form}${password(REDIS_PROBE_USER)}`,
    "resetkeys",
    "resetchannels",
    "-@all",
    "+ping",
  ]);
  return rules;
}

/** redis-server arguments that define those users (Redis overwrites its process title, hiding them). */
export function redisUserArgs(password: (user: RedisUser) => string): string[] {
  return redisAcl(password).flatMap((rule) => ["--user", ...rule]);
}

/** The subjects a NATS user may publish and subscribe to. */
export interface NatsGrant {
  publish: string[];
  subscribe: string[];
}

export const NATS_GAME_SERVER_USER = "game-server";

/**
 * What every service's bus does on connect (kit/src/bus.ts): ask JetStream for its account, look up each durable
 * stream and create it when missing, with replies on an inbox; and every runtime follows auth's signed identity
 * revocations (revocation.ts), since every service verifies identity tokens.
 */
const BUS_BASE: NatsGrant = {
  publish: [
    "$JS.API.INFO",
    ...Object.keys(DURABLE_STREAMS).flatMap((s) => [
      `$JS.API.STREAM.INFO.${s}`,
      `$JS.API.STREAM.CREATE.${s}`,
    ]),
  ],
  subscribe: ["_INBOX.>", IDENTITY_REVOKED_SUBJECT],
};

const NATS_SERVICE_GRANTS: Record<ServiceName, NatsGrant> = {
  gateway: { publish: [], subscribe: [CREDENTIAL_REVOKED_SUBJECT] },
  auth: { publish: ["gaia.auth.>"], subscribe: [] },
  asset: { publish: ["gaia.asset.generation.>"], subscribe: [] },
  chat: { publish: ["gaia.chat.>"], subscribe: [WORLD_UPDATES_SUBJECTS] },
  kb: { publish: [KB_CHANGED_SUBJECT], subscribe: [KB_CHANGED_SUBJECT] },
  web: { publish: [], subscribe: [] },
};

export const NATS_USERS = [...SERVICE_NAMES, NATS_GAME_SERVER_USER] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** Every NATS user's permissions. Game servers publish world updates and may not listen to anything. */
export function natsGrants(): Record<NatsUser, NatsGrant> {
  const grants = {} as Record<NatsUser, NatsGrant>;
  for (const service of SERVICE_NAMES) {
    const own = NATS_SERVICE_GRANTS[service];
    grants[service] = {
      publish: [...BUS_BASE.publish, ...own.publish],
      subscribe: [...BUS_BASE.subscribe, ...own.subscribe],
    };
  }
  grants[NATS_GAME_SERVER_USER] = { publish: [WORLD_UPDATES_SUBJECTS], subscribe: [] };
  return grants;
}

const quoted = (subjects: string[]) => `[${subjects.map((s) => JSON.stringify(s)).join(", ")}]`;
/** An empty allow list would allow everything; nothing allowed is a deny of all. */
const rule = (subjects: string[]) => (subjects.length > 0 ? `allow: ${quoted(subjects)}` : 'deny: [">"]');

/**
 * nats-server's `authorization` block with every user. `password` gives the value after `password:` — a quoted
 * literal, or a `$VARIABLE` the server reads from its environment. `extra` adds entries verbatim (the tests'
 * unrestricted user).
 */
export function natsAuthorization(password: (user: NatsUser) => string, extra: string[] = []): string {
  const grants = natsGrants();
  const users = NATS_USERS.map((user) => {
    const { publish, subscribe } = grants[user];
    return `    { user: ${JSON.stringify(user)}, password: ${password(user)}, permissions: { publish: { ${rule(publish)} }, subscribe: { ${rule(subscribe)} } } }`;
  });
  return ["authorization {", "  users: [", ...users, ...extra.map((e) => `    ${e}`), "  ]", "}"].join("\n");
}
