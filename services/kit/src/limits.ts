import type { ServiceName } from "./registry.ts";

/**
 * Request body limits, one home for both sides: the gateway gives each route one of these classes and refuses a
 * larger body with 413 before it is read; each service parses bodies up to the largest class of the routes that
 * lead to it, so a body the gateway lets through is never refused behind it.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

export const BODY_LIMITS = {
  /** Credentials, tokens, key names. */
  small: 64 * KiB,
  default: 1 * MiB,
  /** A chat message or a completion's whole history. */
  chat: 4 * MiB,
  /** KB documents and asset requests with references. */
  upload: 16 * MiB,
} as const;
export type BodyClass = keyof typeof BODY_LIMITS;

/** The largest body each service parses; the gateway's route-table test holds the routes to it. */
export const SERVICE_BODY_LIMITS: Record<ServiceName, number> = {
  gateway: BODY_LIMITS.small,
  auth: BODY_LIMITS.small,
  chat: BODY_LIMITS.chat,
  asset: BODY_LIMITS.upload,
  kb: BODY_LIMITS.upload,
  web: BODY_LIMITS.default,
};
