import { HttpError, identityOf, notFound, parseInput, unprocessable } from "@gaia/kit";
import type { Express, Response } from "express";
import { z } from "zod";
import type { AssetStore } from "../store.ts";
import { WebhookRefused, type Webhooks } from "../webhooks.ts";

/**
 * /api/v1/assets webhooks: the caller's signing secret, a signed ping, a job's delivery attempts and their replay;
 * and the SSRF guard on a generation request's webhook_url (checked here, before the job exists).
 */

const BASE = "/api/v1/assets";
const testBody = z
  .object({ url: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }).max(2000) })
  .strict();

async function guard(webhooks: Webhooks, url: string) {
  try {
    await webhooks.check(url);
  } catch (error) {
    if (error instanceof WebhookRefused) throw unprocessable(error.message);
    throw error;
  }
}

export function mountWebhooks(app: Express, deps: { store: AssetStore; webhooks: Webhooks }) {
  const { store, webhooks } = deps;

  // Before the generate route: a webhook_url that may not be called is refused before any job is made.
  app.post(`${BASE}/generate`, async (req, _res, next) => {
    const url = (req.body as { webhook_url?: unknown } | undefined)?.webhook_url;
    if (typeof url === "string" && URL.canParse(url)) await guard(webhooks, url);
    next();
  });

  app.get(`${BASE}/webhooks/secret`, async (_req, res) => {
    res.json({ secret: await webhooks.secretOf(identityOf(res.locals).userId) });
  });

  app.post(`${BASE}/webhooks/test`, async (req, res) => {
    const { url } = parseInput(testBody, req.body ?? {});
    await guard(webhooks, url);
    const sent = await webhooks.ping(identityOf(res.locals).userId, url);
    res.json({
      webhook_id: sent.webhook_id,
      delivered: sent.error === null,
      status: sent.status,
      error: sent.error,
      duration_ms: sent.durationMs,
    });
  });

  const ownJob = async (res: Response, id: string) => {
    const job = await store.findJob(identityOf(res.locals).userId, id);
    if (!job) throw notFound("No job with this id");
    return job;
  };

  app.get(`${BASE}/jobs/:id/deliveries`, async (req, res) => {
    const job = await ownJob(res, String(req.params.id));
    const rows = await webhooks.deliveries(job.id);
    res.json({
      job_id: job.id,
      webhook_url: job.webhookUrl,
      deliveries: rows.map((d) => ({
        id: d.id,
        event: d.event,
        attempt: d.attempt,
        status: d.status,
        error: d.error,
        duration_ms: d.durationMs,
        created_at: d.createdAt.toISOString(),
      })),
    });
  });

  app.post(`${BASE}/jobs/:id/deliveries/replay`, async (req, res) => {
    const job = await ownJob(res, String(req.params.id));
    if (!job.webhookUrl) throw new HttpError(409, "The job has no webhook_url");
    if (job.status !== "completed" && job.status !== "failed") {
      throw new HttpError(
        409,
        `The job is ${job.status}: only a completed or failed job's event is delivered`,
      );
    }
    await guard(webhooks, job.webhookUrl);
    webhooks.replay(job);
    res
      .status(202)
      .json({ job_id: job.id, replaying: true, deliveries_url: `${BASE}/jobs/${job.id}/deliveries` });
  });
}
