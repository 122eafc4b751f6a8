import { randomFillSync } from "node:crypto";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { CLIENT_ADDRESS_HEADER, IDENTITY_HEADER, INTERNAL_TOKEN_HEADER } from "@gaia/kit";
import type { Target } from "./route-table.ts";

/**
 * Which headers cross the gateway. Hop-by-hop headers stay on their hop; `x-gaia-*` headers are the
 * platform's own and never come from a client; credentials go only to the service that checks them.
 */

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "expect",
  "http2-settings",
]);

/** Headers set by the gateway itself on the way in; a client's copy is dropped. */
const SET_BY_GATEWAY = new Set([
  "x-request-id",
  "traceparent",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
]);

/** Who may see the caller's raw credentials and cookies: auth checks them, web keeps its own sessions. */
const CREDENTIAL_HEADERS: Record<Target, ReadonlySet<string>> = {
  auth: new Set(["authorization", "x-api-key", "cookie"]),
  web: new Set(["cookie"]),
  asset: new Set(),
  chat: new Set(),
  kb: new Set(),
};
const ALL_CREDENTIAL_HEADERS = new Set(["authorization", "x-api-key", "cookie"]);

export const isInternal = (name: string) => name.startsWith("x-gaia-");

export interface UpstreamContext {
  target: Target;
  /** The service token for X-Gaia-Identity, when the caller is authenticated. */
  identityToken?: string;
  requestId: string;
  traceparent?: string;
  clientAddress: string;
  proto: string;
  /** For auth only: the client's address, and the internal token that makes auth believe it. */
  vouch?: { internalToken: string | undefined; clientAddress: string };
}

/** A W3C trace context header, version 00. */
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Random ids come from a pool filled 256 traces at a time: one system call instead of one per request. */
const ID_BYTES = 24;
const pool = Buffer.allocUnsafe(ID_BYTES * 256);
let used = pool.length;

export function newTraceparent(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const trace = pool.toString("hex", used, used + 16);
  const span = pool.toString("hex", used + 16, used + ID_BYTES);
  used += ID_BYTES;
  return `00-${trace}-${span}-01`;
}

/** The client's trace context when it is well-formed, else a new trace. */
export function traceparentOf(headers: IncomingHttpHeaders): string {
  const given = headers.traceparent;
  return typeof given === "string" && TRACEPARENT.test(given) ? given : newTraceparent();
}

export function upstreamHeaders(headers: IncomingHttpHeaders, ctx: UpstreamContext): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const credentials = CREDENTIAL_HEADERS[ctx.target];
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || SET_BY_GATEWAY.has(name) || isInternal(name)) continue;
    if (ALL_CREDENTIAL_HEADERS.has(name) && !credentials.has(name)) continue;
    out[name] = headers[name];
  }
  // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
  const connection = headers.connection;
  if (connection) for (const name of connection.toLowerCase().split(",")) delete out[name.trim()];
  if (ctx.identityToken) out[IDENTITY_HEADER] = ctx.identityToken;
  if (ctx.vouch?.internalToken) {
    out[INTERNAL_TOKEN_HEADER] = ctx.vouch.internalToken;
    out[CLIENT_ADDRESS_HEADER] = ctx.vouch.clientAddress;
  }
  out["x-request-id"] = ctx.requestId;
  out.traceparent = ctx.traceparent ?? traceparentOf(headers);
  const forwardedFor = headers["x-forwarded-for"];
  out["x-forwarded-for"] = forwardedFor ? `${forwardedFor}, ${ctx.clientAddress}` : ctx.clientAddress;
  out["x-forwarded-proto"] = ctx.proto;
  if (headers.host) out["x-forwarded-host"] = headers.host;
  return out;
}

/** Response headers from a backend, minus those of its own hop and the request id the gateway already set. */
export function skipResponseHeader(name: string): boolean {
  return HOP_BY_HOP.has(name) || name === "x-request-id" || isInternal(name);
}
