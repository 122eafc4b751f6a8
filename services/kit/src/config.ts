import { isIP } from "node:net";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { METRICS_PORT } from "./registry.ts";

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol.replace(/:$/, ""));
        } catch {
          return false;
        }
      },
      `expected a ${protocols.map((p) => `${p}://`).join(" or ")} URL`,
    );

const port = z.coerce.number().int().min(1).max(65535);
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

/** Variables every Gaia process reads. Service-specific variables are parsed by each service with `readEnv`. */
export const platformEnv = z.object({
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  GAIA_DATA_DIR: z.string().default(".gaia"),
  DATABASE_URL: optional(url(["postgres", "postgresql"])),
  REDIS_URL: optional(url(["redis", "rediss"])),
  NATS_URL: optional(url(["nats", "tls", "ws", "wss"])),
  GAIA_AUTH_URL: optional(url(["http", "https"])),
  GAIA_ASSET_URL: optional(url(["http", "https"])),
  GAIA_CHAT_URL: optional(url(["http", "https"])),
  GAIA_KB_URL: optional(url(["http", "https"])),
  GAIA_WEB_URL: optional(url(["http", "https"])),
  GAIA_GATEWAY_URL: optional(url(["http", "https"])),
  /** Set in a cluster, where services find each other as http://gaia-<name>:<port>. */
  GAIA_IN_CLUSTER: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  /**
   * The address every service of this process listens on: loopback unless told otherwise, so that `gaia dev` on a
   * laptop is not reachable from the network. Containers and clusters set 0.0.0.0.
   */
  GAIA_BIND: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z
      .string()
      .trim()
      .refine((value) => isIP(value) !== 0, "expected an IP address, e.g. 127.0.0.1 or 0.0.0.0")
      .default("127.0.0.1"),
  ),
  GAIA_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(url(["http", "https"])),
  GAIA_GATEWAY_PORT: port.default(8666),
  GAIA_AUTH_PORT: port.default(8001),
  GAIA_ASSET_PORT: port.default(8002),
  GAIA_CHAT_PORT: port.default(8003),
  GAIA_KB_PORT: port.default(8004),
  GAIA_WEB_PORT: port.default(8080),
  /** Prometheus metrics of every service in the process, on a port of their own. */
  GAIA_METRICS_PORT: port.default(METRICS_PORT),
});

export type PlatformEnv = z.output<typeof platformEnv>;

/**
 * Parse environment variables against a schema. The first problem becomes a ConfigError naming the variable,
 * e.g. `REDIS_URL: expected a redis:// or rediss:// URL (got "localhost")`. Values of secret-looking variables
 * are never echoed.
 */
export function readEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? "environment");
  const raw = env[name];
  const shown =
    raw === undefined ? "it is not set" : isSecretName(name) ? "value hidden" : `got ${JSON.stringify(raw)}`;
  throw new ConfigError(`${name}: ${issue.message} (${shown})`);
}

export function isSecretName(name: string): boolean {
  return /KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL|DATABASE_URL|REDIS_URL|NATS_URL/i.test(name);
}

let cached: PlatformEnv | undefined;
/** The platform variables of this process, parsed once. */
export function platformConfig(): PlatformEnv {
  cached ??= readEnv(platformEnv);
  return cached;
}
