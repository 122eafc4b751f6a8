import { isIP } from "node:net";
import { readEnv } from "@gaia/kit";
import { z } from "zod";
import type { RateLimits } from "./ratelimit.ts";
import type { TimeoutClass } from "./route-table.ts";

const count = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
const ms = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

const PROXY_NAMES = ["loopback", "linklocal", "uniquelocal"];

/** An address, a CIDR (`10.0.0.0/8`, `fd00::/8`) or one of proxy-addr's names for a range. */
export function isProxySpec(entry: string): boolean {
  if (PROXY_NAMES.includes(entry)) return true;
  const [address = "", bits, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const proxyList = z
  .string()
  .default("")
  .transform((value) =>
    value
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean),
  )
  .refine((entries) => entries.every(isProxySpec), "expected comma-separated addresses or CIDRs");

/** The gateway's own variables, beside the platform ones every process reads. */
export const gatewayEnv = z.object({
  /** Comma-separated origins admitted by CORS; empty (none) by default, `*` for any (development). */
  GAIA_CORS_ORIGINS: z.string().default(""),
  /** Proxies in front of the gateway (an ingress) whose X-Forwarded-For names the client; none by default. */
  GAIA_TRUSTED_PROXIES: proxyList,
  GAIA_RATE_LIMIT_WINDOW_SECONDS: count(60),
  GAIA_RATE_LIMIT_ADMIN: count(600),
  GAIA_RATE_LIMIT_DEVELOPER: count(300),
  GAIA_RATE_LIMIT_USER: count(120),
  GAIA_RATE_LIMIT_GUEST: count(30),
  GAIA_RATE_LIMIT_ANONYMOUS: count(60),
  GAIA_GATEWAY_TIMEOUT_MS: ms(30_000),
  /** LLM calls and SSE: the wait for the first byte and between two chunks, not the stream's whole life. */
  GAIA_GATEWAY_STREAM_TIMEOUT_MS: ms(300_000),
  GAIA_GATEWAY_LONG_TIMEOUT_MS: ms(600_000),
  GAIA_GATEWAY_HEALTH_TIMEOUT_MS: ms(1_500),
  /** How long this process trusts an identity it resolved before asking the shared cache again; 0 disables. */
  GAIA_GATEWAY_IDENTITY_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  /** The secret auth expects on /internal/*, without which the gateway cannot authenticate; in development auth generates it under GAIA_DATA_DIR. */
  GAIA_INTERNAL_TOKEN: z.preprocess((v) => (v === "" ? undefined : v), z.string().min(32).optional()),
});

export interface GatewayConfig {
  corsOrigins: string[];
  trustedProxies: string[];
  rateLimits: RateLimits;
  timeouts: Record<TimeoutClass, number>;
  healthTimeoutMs: number;
  identityCacheMs: number;
  internalToken?: string;
}

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = readEnv(gatewayEnv, env);
  return {
    corsOrigins: e.GAIA_CORS_ORIGINS.split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    trustedProxies: e.GAIA_TRUSTED_PROXIES,
    rateLimits: {
      windowSeconds: e.GAIA_RATE_LIMIT_WINDOW_SECONDS,
      perMinute: {
        admin: e.GAIA_RATE_LIMIT_ADMIN,
        developer: e.GAIA_RATE_LIMIT_DEVELOPER,
        user: e.GAIA_RATE_LIMIT_USER,
        guest: e.GAIA_RATE_LIMIT_GUEST,
        anonymous: e.GAIA_RATE_LIMIT_ANONYMOUS,
      },
    },
    timeouts: {
      default: e.GAIA_GATEWAY_TIMEOUT_MS,
      stream: e.GAIA_GATEWAY_STREAM_TIMEOUT_MS,
      long: e.GAIA_GATEWAY_LONG_TIMEOUT_MS,
    },
    healthTimeoutMs: e.GAIA_GATEWAY_HEALTH_TIMEOUT_MS,
    identityCacheMs: e.GAIA_GATEWAY_IDENTITY_CACHE_MS,
    internalToken: e.GAIA_INTERNAL_TOKEN,
  };
}
