import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { Logger } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import type { AssetConfig } from "./config.ts";
import type { JobWithAsset } from "./store.ts";

/**
 * Webhooks per the Standard Webhooks specification: each delivery carries `webhook-id` (the same for every
 * attempt of one message), `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the user's `whsec_` secret). A job's final event is
 * delivered in the background, retried with exponential backoff and full jitter, every attempt recorded. The URL is
 * refused if its host resolves to a loopback, link-local, private or reserved address: when the job is created and
 * again at each delivery (DNS may change in between).
 */

export const WEBHOOK_ATTEMPTS = 5;
const TIMEOUT_MS = 10_000;
const ERROR_CHARS = 500;

/** The Standard Webhooks signature of one delivery. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export function newSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

const RANGES: [string, number, "ipv4" | "ipv6", string][] = [
  ["0.0.0.0", 8, "ipv4", "a 'this network' address"],
  ["10.0.0.0", 8, "ipv4", "a private (RFC 1918) address"],
  ["100.64.0.0", 10, "ipv4", "a private (CGNAT) address"],
  ["127.0.0.0", 8, "ipv4", "a loopback address"],
  ["169.254.0.0", 16, "ipv4", "a link-local address"],
  ["172.16.0.0", 12, "ipv4", "a private (RFC 1918) address"],
  ["192.168.0.0", 16, "ipv4", "a private (RFC 1918) address"],
  ["224.0.0.0", 4, "ipv4", "a multicast address"],
  ["240.0.0.0", 4, "ipv4", "a reserved address"],
  ["::", 128, "ipv6", "an unspecified address"],
  ["::1", 128, "ipv6", "a loopback address"],
  ["fc00::", 7, "ipv6", "a private (unique local) address"],
  ["fe80::", 10, "ipv6", "a link-local address"],
  ["ff00::", 8, "ipv6", "a multicast address"],
];
const BLOCKS = RANGES.map(([net, prefix, family, reason]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return { list, family, reason };
});

/** Why an address may not be called (loopback, private, link-local, ...), or undefined when it may. */
export function forbiddenAddress(address: string): string | undefined {
  let ip = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped) ip = mapped[1]!;
  const family = isIP(ip) === 4 ? "ipv4" : isIP(ip) === 6 ? "ipv6" : undefined;
  if (!family) return "not an IP address";
  return BLOCKS.find((b) => b.family === family && b.list.check(ip, family))?.reason;
}

export class WebhookRefused extends Error {}

/** The SSRF guard: throws WebhookRefused naming why the URL may not be called. */
export async function checkUrl(url: string, allowPrivate: boolean): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebhookRefused("webhook_url: not a URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new WebhookRefused("webhook_url: only http:// and https:// URLs are called");
  if (allowPrivate) return;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  let addresses: { address: string }[];
  try {
    addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new WebhookRefused(
      `webhook_url: ${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  if (addresses.length === 0) throw new WebhookRefused(`webhook_url: ${host} does not resolve`);
  for (const { address } of addresses) {
    const reason = forbiddenAddress(address);
    if (reason) {
      throw new WebhookRefused(
        `webhook_url: ${host} resolves to ${address}, ${reason}; loopback, link-local and private addresses are refused`,
      );
    }
  }
}

export interface Attempt {
  status: number | null;
  error: string | null;
  durationMs: number;
}

export type FinalEvent = "asset.generation.completed" | "asset.generation.failed";

export class Webhooks {
  readonly #db: Db;
  readonly #config: AssetConfig;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();

  constructor(deps: { db: Db; config: AssetConfig; log: Logger }) {
    this.#db = deps.db;
    this.#config = deps.config;
    this.#log = deps.log;
  }

  check(url: string): Promise<void> {
    return checkUrl(url, this.#config.webhookAllowPrivate);
  }

  /** The user's signing secret, made on first use. */
  async secretOf(userId: string): Promise<string> {
    const found = await this.#db.assetWebhookSecret.findUnique({ where: { userId } });
    if (found) return found.secret;
    const row = await this.#db.assetWebhookSecret.upsert({
      where: { userId },
      create: { userId, secret: newSecret() },
      update: {},
    });
    return row.secret;
  }

  /** One signed POST: the receiver's status, or why there was none. 2xx is success; a 3xx is not followed. */
  async send(url: string, secret: string, id: string, body: string): Promise<Attempt> {
    const started = Date.now();
    const took = () => Date.now() - started;
    try {
      await this.check(url);
    } catch (error) {
      return { status: null, error: (error as Error).message, durationMs: took() };
    }
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const response = await fetch(url, {
        method: "POST",
        redirect: "manual",
        body,
        headers: {
          "content-type": "application/json",
          "user-agent": "gaia-asset-webhooks",
          "webhook-id": id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": sign(secret, id, timestamp, body),
        },
        signal: AbortSignal.any([AbortSignal.timeout(TIMEOUT_MS), this.#stop.signal]),
      });
      await response.body?.cancel().catch(() => {});
      const status = response.status;
      if (status >= 200 && status < 300) return { status, error: null, durationMs: took() };
      if (status >= 300 && status < 400)
        return { status, error: "redirects are not followed", durationMs: took() };
      return { status, error: `the receiver answered ${status}`, durationMs: took() };
    } catch (error) {
      const name = (error as Error).name;
      const message =
        name === "TimeoutError"
          ? `no answer within ${TIMEOUT_MS / 1000} s`
          : `${(error as Error).message}${(error as { cause?: Error }).cause ? `: ${(error as { cause: Error }).cause.message}` : ""}`;
      return { status: null, error: message.slice(0, ERROR_CHARS), durationMs: took() };
    }
  }

  /** A signed ping, delivered now, not recorded (it belongs to no job). */
  async ping(userId: string, url: string): Promise<Attempt & { webhook_id: string }> {
    const id = `msg_${randomUUID()}`;
    const body = JSON.stringify({
      type: "asset.webhook.ping",
      timestamp: new Date().toISOString(),
      data: { message: "a test delivery from Gaia's asset service" },
    });
    return { ...(await this.send(url, await this.secretOf(userId), id, body)), webhook_id: id };
  }

  /** A job finished: its final event goes to its webhook_url (if it has one), in the background. */
  fire(jobId: string) {
    this.#background(async () => {
      const job = await this.#db.assetJob.findUnique({ where: { id: jobId }, include: { asset: true } });
      if (job?.webhookUrl) await this.deliver(job);
    });
  }

  /** Deliver the job's final event again, in the background; false when it has none to deliver. */
  replay(job: JobWithAsset): boolean {
    if (!job.webhookUrl || !finalEvent(job)) return false;
    this.#background(() => this.deliver(job));
    return true;
  }

  /** Up to WEBHOOK_ATTEMPTS attempts, each recorded; stops at the first 2xx or at a refusal (redirect, guard). */
  async deliver(job: JobWithAsset): Promise<void> {
    const event = finalEvent(job);
    if (!job.webhookUrl || !event) return;
    const secret = await this.secretOf(job.userId);
    const body = JSON.stringify(payloadOf(job, event));
    const id = `msg_${job.id}`;
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      if (this.#stop.signal.aborted) return;
      const result = await this.send(job.webhookUrl, secret, id, body);
      await this.#db.assetWebhookDelivery.create({
        data: {
          jobId: job.id,
          event,
          attempt,
          status: result.status,
          error: result.error,
          durationMs: result.durationMs,
        },
      });
      if (result.error === null) return;
      // A redirect or a refused address will not change by retrying; anything else (5xx, 4xx, no answer) may.
      const final = result.error === "redirects are not followed" || result.error.startsWith("webhook_url:");
      if (final || attempt === WEBHOOK_ATTEMPTS) return;
      // Exponential backoff with full jitter.
      const wait = Math.random() * this.#config.webhookRetryBaseMs * 2 ** (attempt - 1);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#stop.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  deliveries(jobId: string) {
    return this.#db.assetWebhookDelivery.findMany({
      where: { jobId },
      orderBy: [{ createdAt: "asc" }, { attempt: "asc" }],
    });
  }

  #background(run: () => Promise<void>) {
    const done = run()
      .catch((error) => this.#log.warn({ err: String(error) }, "asset webhook not delivered"))
      .finally(() => this.#pending.delete(done));
    this.#pending.add(done);
  }

  /** Shutting down: attempts in flight are abandoned (and their waits cut short). */
  async stop(): Promise<void> {
    this.#stop.abort(new Error("shutting down"));
    await Promise.allSettled([...this.#pending]);
  }
}

function finalEvent(job: JobWithAsset): FinalEvent | undefined {
  if (job.status === "completed") return "asset.generation.completed";
  if (job.status === "failed") return "asset.generation.failed";
  return undefined;
}

export function payloadOf(job: JobWithAsset, type: FinalEvent) {
  const done = job.status === "completed" && job.asset.storageKey;
  return {
    type,
    timestamp: (job.finishedAt ?? new Date()).toISOString(),
    data: {
      job_id: job.id,
      asset_id: job.assetId,
      status: job.status,
      provider: job.provider,
      cost_usd: job.status === "completed" ? Number(job.asset.costUsd) : null,
      download_url: done ? `/api/v1/assets/${job.assetId}/content` : null,
      error: job.error,
    },
  };
}
