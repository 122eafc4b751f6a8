import type { Plan } from "../plan.ts";
import type { Asset, Job, JobWithAsset } from "../store.ts";

/** What clients see of assets and jobs. */

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function assetView(a: Asset) {
  const meta = (a.metadata ?? {}) as Record<string, unknown>;
  const done = a.status === "completed" && a.storageKey;
  return {
    id: a.id,
    type: a.kind,
    status: a.status,
    prompt: a.prompt,
    style: a.style,
    size: a.size,
    format: a.format,
    quality: a.quality,
    visibility: a.visibility,
    provider: a.provider,
    cost_usd: Number(a.costUsd),
    mime_type: a.mimeType,
    size_bytes: a.sizeBytes,
    download_url: done ? `/api/v1/assets/${a.id}/content` : null,
    thumbnail_url: done && a.thumbnailKey ? `/api/v1/assets/${a.id}/thumbnail` : null,
    ...(meta.offline_placeholder ? { offline_placeholder: true } : {}),
    ...(meta.licence ? { licence: meta.licence } : {}),
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
  };
}

export function jobView(j: Job | JobWithAsset) {
  const p = (j.plan ?? {}) as Partial<Plan>;
  return {
    id: j.id,
    asset_id: j.assetId,
    status: j.status,
    strategy: j.strategy,
    provider: j.provider,
    progress: j.progress,
    attempts: j.attempts,
    estimate_usd: Number(j.estimateUsd),
    explanation: p.explanation ?? null,
    candidates: p.candidates ?? [],
    error: j.error,
    webhook_url: j.webhookUrl,
    deliveries_url: `/api/v1/assets/jobs/${j.id}/deliveries`,
    events_url: `/api/v1/assets/jobs/${j.id}/events`,
    created_at: iso(j.createdAt),
    started_at: iso(j.startedAt),
    finished_at: iso(j.finishedAt),
  };
}

/** The answer to a generation request: the strategy, the provider, the estimate and, when done, the charge. */
export function generationView(
  job: JobWithAsset,
  extra: { attached: boolean; offers: (Asset & { rank: number })[] },
) {
  const asset = assetView(job.asset);
  return {
    asset_id: job.assetId,
    job_id: job.id,
    status: job.status,
    strategy: job.strategy,
    provider: job.provider,
    estimate_usd: Number(job.estimateUsd),
    cost_usd: job.status === "completed" ? asset.cost_usd : null,
    download_url: asset.download_url,
    explanation: ((job.plan ?? {}) as Partial<Plan>).explanation ?? null,
    attached: extra.attached,
    ...(extra.offers.length
      ? {
          reuse_candidates: extra.offers.map((o) => ({
            asset_id: o.id,
            prompt: o.prompt,
            rank: Number(o.rank.toFixed(4)),
          })),
        }
      : {}),
    asset,
    job: jobView(job),
  };
}
