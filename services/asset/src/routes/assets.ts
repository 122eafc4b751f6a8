import { createHash } from "node:crypto";
import {
  HttpError,
  identityOf,
  notFound,
  openSse,
  parseInput,
  requirePermission,
  unprocessable,
} from "@gaia/kit";
import { generateBody, listQuery } from "@gaia/kit/contracts/asset";
import type { Express, Request, Response } from "express";
import type { FileStore } from "../files.ts";
import type { Generation } from "../generation.ts";
import type { JobRunner } from "../jobs.ts";
import { type AssetStore, TERMINAL } from "../store.ts";
import { assetView, generationView, jobView } from "./views.ts";

/** /api/v1/assets: generate, list, read, download, delete; the jobs and their progress events. */

const BASE = "/api/v1/assets";
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const EVENT_POLL_MS = 300;

function idempotencyKey(req: Request): string | undefined {
  const key = req.get("idempotency-key");
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) throw unprocessable("Idempotency-Key: 1 to 200 printable characters");
  return key;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` of a file of `size` bytes; null when unsatisfiable. */
export function byteRange(header: string, size: number): { start: number; end: number } | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : null;
}

export function mountAssets(
  app: Express,
  deps: { store: AssetStore; files: FileStore; generation: Generation; runner: JobRunner; waitMs: number },
) {
  const { store, files, generation, runner } = deps;

  app.post(`${BASE}/generate`, requirePermission("asset:generate"), async (req, res) => {
    const identity = identityOf(res.locals);
    const body = parseInput(generateBody, req.body ?? {});
    const outcome = await generation.generate(identity, body, idempotencyKey(req));
    const wait = body.wait ?? generation.quick(outcome.job);
    const job = wait ? await generation.waitFor(identity.userId, outcome.job, deps.waitMs) : outcome.job;
    const done = job.status === "completed";
    if (job.status === "failed" && !outcome.attached) {
      res.status(502);
    } else res.status(done ? 201 : 202);
    if (!done) res.setHeader("Location", `${BASE}/jobs/${job.id}`);
    res.json(generationView(job, outcome));
  });

  app.get(BASE, async (req, res) => {
    const { userId } = identityOf(res.locals);
    const q = parseInput(listQuery, req.query);
    const [assets, total] = await store.listAssets(userId, q);
    res.json({ assets: assets.map(assetView), total, limit: q.limit, offset: q.offset });
  });

  app.get(`${BASE}/jobs`, async (req, res) => {
    const { userId } = identityOf(res.locals);
    const q = parseInput(listQuery, req.query);
    const [jobs, total] = await store.listJobs(userId, q);
    res.json({ jobs: jobs.map(jobView), total, limit: q.limit, offset: q.offset });
  });

  const ownJob = async (res: Response, id: string) => {
    const job = await store.findJob(identityOf(res.locals).userId, id);
    if (!job) throw notFound("No job with this id");
    return job;
  };

  app.get(`${BASE}/jobs/:id`, async (req, res) => {
    const job = await ownJob(res, String(req.params.id));
    res.json({ ...jobView(job), asset: assetView(job.asset) });
  });

  app.delete(`${BASE}/jobs/:id`, async (req, res) => {
    const job = await ownJob(res, String(req.params.id));
    if ((TERMINAL as readonly string[]).includes(job.status)) {
      throw new HttpError(409, `The job is ${job.status} already; a finished job does not change`);
    }
    await runner.cancel(job);
    res.json(jobView((await store.findJob(job.userId, job.id)) ?? job));
  });

  // Progress as SSE, from the job's stored events: any replica answers, and Last-Event-ID resumes exactly.
  app.get(`${BASE}/jobs/:id/events`, async (req, res) => {
    const job = await ownJob(res, String(req.params.id));
    const given =
      req.get("last-event-id") ??
      (typeof req.query.last_event_id === "string" ? req.query.last_event_id : "0");
    if (!/^\d{1,9}$/.test(given)) throw unprocessable("Last-Event-ID: the id of an event of this job");
    let seq = Number(given);
    const stream = openSse(req, res);
    try {
      for (;;) {
        for (const event of await store.eventsAfter(job.id, seq)) {
          seq = event.seq;
          stream.send(
            { type: event.type, job_id: job.id, ...event.data, at: event.createdAt.toISOString() },
            event.type,
            event.seq,
          );
          if (["completed", "failed", "canceled"].includes(event.type)) return;
        }
        if (stream.closed) return;
        await new Promise((r) => setTimeout(r, EVENT_POLL_MS));
      }
    } finally {
      stream.end();
    }
  });

  const visibleAsset = async (res: Response, id: string) => {
    const asset = await store.findAsset(identityOf(res.locals).userId, id);
    if (!asset) throw notFound("No asset with this id");
    return asset;
  };

  app.get(`${BASE}/:id`, async (req, res) => {
    res.json(assetView(await visibleAsset(res, String(req.params.id))));
  });

  for (const role of ["content", "thumbnail"] as const) {
    app.get(`${BASE}/:id/${role}`, async (req, res) => {
      const asset = await visibleAsset(res, String(req.params.id));
      const key = role === "content" ? asset.storageKey : asset.thumbnailKey;
      if (asset.status !== "completed" || !key)
        throw notFound(`The asset has no ${role} (it is ${asset.status})`);
      const size = await files.size(key);
      if (size === null) throw new HttpError(410, "The asset's file is gone from storage");
      const etag = `"${role === "content" && asset.contentSha ? asset.contentSha : createHash("sha256").update(key).digest("hex").slice(0, 32)}"`;
      res.setHeader("ETag", etag);
      res.setHeader("Accept-Ranges", "bytes");
      res.setHeader(
        "Cache-Control",
        asset.visibility === "public" ? "public, max-age=86400" : "private, max-age=86400",
      );
      res.type(role === "content" ? (asset.mimeType ?? "application/octet-stream") : "image/png");
      if (req.get("if-none-match") === etag) {
        res.status(304).end();
        return;
      }
      const rangeHeader = req.get("range");
      const range = rangeHeader ? byteRange(rangeHeader, size) : undefined;
      if (range === null) {
        res.setHeader("Content-Range", `bytes */${size}`);
        throw new HttpError(416, `Range not satisfiable: the file has ${size} bytes`);
      }
      if (range) {
        res.status(206);
        res.setHeader("Content-Range", `bytes ${range.start}-${range.end}/${size}`);
        res.setHeader("Content-Length", String(range.end - range.start + 1));
      } else res.setHeader("Content-Length", String(size));
      files.open(key, range).pipe(res);
    });
  }

  app.delete(`${BASE}/:id`, async (req, res) => {
    const { userId } = identityOf(res.locals);
    const result = await store.deleteAsset(userId, String(req.params.id));
    if (!result.deleted) throw notFound("No asset of yours with this id");
    if (!result.filesShared) await files.removeAll(result.asset!.id);
    res.status(204).end();
  });
}
