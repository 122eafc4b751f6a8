import type { Identity } from "@gaia/kit";
import type { AssetJobModel, AssetModel } from "@gaia/kit/db/client";
import { type Db, Prisma } from "@gaia/kit/db/client";
import type { Plan } from "./plan.ts";
import type { AssetSpec, Task } from "./providers/types.ts";

/** Database access of the asset service: assets, their jobs and job events, price overrides, usage. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: unknown): value is string => typeof value === "string" && UUID.test(value);

export type Asset = AssetModel;
export type Job = AssetJobModel;
export type JobWithAsset = Job & { asset: Asset };

export const TERMINAL = ["completed", "failed", "canceled"] as const;
const LIVE = ["queued", "running"] as const;
/** An Idempotency-Key attaches to its job this long. */
const IDEMPOTENCY_MS = 24 * 3600_000;

export interface JobEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

export class AssetStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** A finished asset made from the same request: the caller's own, or anyone's public one. */
  findCached(userId: string, hash: string): Promise<Asset | null> {
    return this.#db.asset.findFirst({
      where: { promptHash: hash, status: "completed", OR: [{ userId }, { visibility: "public" }] },
      orderBy: [{ createdAt: "desc" }],
    });
  }

  /** Public finished assets of the type whose prompt and style match the text, best first, with their rank. */
  async reuseCandidates(type: string, text: string, limit = 5): Promise<(Asset & { rank: number })[]> {
    const rows = await this.#db.$queryRaw<{ id: string; rank: number }[]>`
      SELECT "id", ts_rank(to_tsvector('english', "prompt" || ' ' || coalesce("style", '')),
                           plainto_tsquery('english', ${text})) AS rank
      FROM "assets"
      WHERE "kind" = ${type} AND "status" = 'completed' AND "visibility" = 'public'
        AND to_tsvector('english', "prompt" || ' ' || coalesce("style", '')) @@ plainto_tsquery('english', ${text})
      ORDER BY rank DESC LIMIT ${limit}`;
    if (rows.length === 0) return [];
    const assets = await this.#db.asset.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
    const byId = new Map(assets.map((a) => [a.id, a]));
    return rows.flatMap((r) => (byId.has(r.id) ? [{ ...byId.get(r.id)!, rank: Number(r.rank) }] : []));
  }

  /** The job an Idempotency-Key already names (within 24 h), or the caller's live job for the same request. */
  async findAttachable(
    userId: string,
    idempotencyKey: string | undefined,
    hash: string,
  ): Promise<JobWithAsset | null> {
    if (idempotencyKey) {
      const keyed = await this.#db.assetJob.findUnique({
        where: { userId_idempotencyKey: { userId, idempotencyKey } },
        include: { asset: true },
      });
      if (keyed && Date.now() - keyed.createdAt.getTime() < IDEMPOTENCY_MS) return keyed;
    }
    return this.#db.assetJob.findFirst({
      where: { userId, requestHash: hash, status: { in: [...LIVE] } },
      include: { asset: true },
      orderBy: { createdAt: "desc" },
    });
  }

  /** The asset and its job, queued, with the job's first event: one transaction. */
  async createJob(input: {
    identity: Identity;
    spec: AssetSpec;
    hash: string;
    plan: Plan;
    strategy: "cache" | "reuse" | "generate";
    visibility: "private" | "public";
    idempotencyKey?: string;
    webhookUrl?: string;
    deadline: Date;
    finished?: { from: Asset };
  }): Promise<JobWithAsset> {
    const { identity, spec, plan } = input;
    const first = plan.candidates[0];
    const from = input.finished?.from;
    try {
      return await this.#db.$transaction(async (tx) => {
        const asset = await tx.asset.create({
          data: {
            userId: identity.userId,
            kind: spec.type,
            prompt: spec.prompt,
            style: spec.style ?? null,
            size: spec.size ?? null,
            format: from?.format ?? spec.format ?? null,
            quality: spec.quality,
            visibility: input.visibility,
            promptHash: input.hash,
            provider: from?.provider ?? first?.provider ?? "none",
            status: from ? "completed" : "queued",
            costUsd: 0,
            storageKey: from?.storageKey ?? null,
            thumbnailKey: from?.thumbnailKey ?? null,
            mimeType: from?.mimeType ?? null,
            sizeBytes: from?.sizeBytes ?? null,
            contentSha: from?.contentSha ?? null,
            metadata: {
              ...((from?.metadata as object) ?? {}),
              ...(from ? { [input.strategy]: { from: from.id } } : {}),
              ...(spec.durationS !== undefined ? { duration_s: spec.durationS } : {}),
            },
          },
        });
        const job = await tx.assetJob.create({
          data: {
            assetId: asset.id,
            userId: identity.userId,
            apiKeyId: identity.keyId ?? null,
            provider: asset.provider,
            status: from ? "completed" : "queued",
            strategy: input.strategy,
            plan: plan as unknown as Prisma.InputJsonValue,
            estimateUsd: from ? 0 : (first?.estimate_usd ?? 0),
            idempotencyKey: input.idempotencyKey ?? null,
            webhookUrl: input.webhookUrl ?? null,
            requestHash: input.hash,
            deadline: input.deadline,
            ...(from ? { finishedAt: new Date(), progress: 100 } : {}),
          },
        });
        const events = from
          ? [{ type: "completed", data: { strategy: input.strategy, asset_id: asset.id, cost_usd: 0 } }]
          : [{ type: "queued", data: { provider: asset.provider, estimate_usd: first?.estimate_usd ?? 0 } }];
        await tx.assetJobEvent.createMany({
          data: events.map((e, i) => ({ jobId: job.id, seq: i + 1, type: e.type, data: e.data })),
        });
        return { ...job, asset };
      });
    } catch (error) {
      // Two requests with one Idempotency-Key at once: the second attaches to the first's job.
      if (
        error instanceof Prisma.PrismaClientKnownRequestError &&
        error.code === "P2002" &&
        input.idempotencyKey
      ) {
        const existing = await this.findAttachable(identity.userId, input.idempotencyKey, input.hash);
        if (existing) return existing;
      }
      throw error;
    }
  }

  /**
   * Claim up to `n` jobs that are due and not claimed (or whose claim expired: the replica holding it died), for
   * `leaseMs`. SKIP LOCKED: replicas claiming at once never take the same job.
   */
  async claim(replica: string, n: number, leaseMs: number): Promise<JobWithAsset[]> {
    const ids = await this.#db.$queryRaw<{ id: string }[]>`
      UPDATE "asset_jobs" SET "locked_by" = ${replica}, "locked_until" = now() + ${leaseMs} * interval '1 millisecond'
      WHERE "id" IN (
        SELECT "id" FROM "asset_jobs"
        WHERE "status" IN ('queued', 'running') AND "run_after" <= now()
          AND ("locked_until" IS NULL OR "locked_until" < now())
        ORDER BY "run_after" LIMIT ${n}
        FOR UPDATE SKIP LOCKED)
      RETURNING "id"`;
    if (ids.length === 0) return [];
    return this.#db.assetJob.findMany({
      where: { id: { in: ids.map((r) => r.id) } },
      include: { asset: true },
    });
  }

  /** Keep the claim while working; false when it was lost (the job was taken over or finished). */
  async renew(jobId: string, replica: string, leaseMs: number): Promise<boolean> {
    const count = await this.#db.$executeRaw`
      UPDATE "asset_jobs" SET "locked_until" = now() + ${leaseMs} * interval '1 millisecond'
      WHERE "id" = ${jobId}::uuid AND "locked_by" = ${replica} AND "status" IN ('queued', 'running')`;
    return count > 0;
  }

  /** Update a live job (never a finished one): answers whether it was still live. */
  async update(jobId: string, data: Prisma.AssetJobUpdateManyMutationInput): Promise<boolean> {
    const { count } = await this.#db.assetJob.updateMany({
      where: { id: jobId, status: { in: [...LIVE] } },
      data,
    });
    return count > 0;
  }

  /** Saved before the task is used for anything: after a restart the task is polled, never submitted again. */
  saveTask(jobId: string, provider: string, task: Task | { submitting: true } | null) {
    const state =
      task === null
        ? Prisma.DbNull
        : "submitting" in task
          ? { submitting: true }
          : ({ id: task.id, state: task.state } as Prisma.InputJsonValue);
    return this.update(jobId, {
      provider,
      providerTaskId: task && "id" in task ? task.id : null,
      providerState: state,
    });
  }

  async event(jobId: string, type: string, data: Record<string, unknown> = {}): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const last = await this.#db.assetJobEvent.findFirst({ where: { jobId }, orderBy: { seq: "desc" } });
      const seq = (last?.seq ?? 0) + 1;
      try {
        await this.#db.assetJobEvent.create({
          data: { jobId, seq, type, data: data as Prisma.InputJsonValue },
        });
        return seq;
      } catch (error) {
        const taken = error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
        if (!taken || attempt > 5) throw error;
      }
    }
  }

  eventsAfter(jobId: string, seq: number): Promise<JobEvent[]> {
    return this.#db.assetJobEvent.findMany({
      where: { jobId, seq: { gt: seq } },
      orderBy: { seq: "asc" },
    }) as Promise<JobEvent[]>;
  }

  /**
   * The job done: the asset's files, the charge (a usage record of the provider that served it) and the
   * completed event, in one transaction, once (a job already finished is left alone).
   */
  async complete(
    job: JobWithAsset,
    result: {
      provider: string;
      costUsd: number;
      content: { key: string; size: number; sha256: string; contentType: string; format: string };
      thumbnailKey?: string;
      metadata: Record<string, unknown>;
    },
  ): Promise<boolean> {
    return this.#db.$transaction(async (tx) => {
      const { count } = await tx.assetJob.updateMany({
        where: { id: job.id, status: { in: [...LIVE] } },
        data: {
          status: "completed",
          progress: 100,
          finishedAt: new Date(),
          provider: result.provider,
          lockedUntil: null,
        },
      });
      if (count === 0) return false;
      await tx.asset.update({
        where: { id: job.assetId },
        data: {
          status: "completed",
          provider: result.provider,
          costUsd: result.costUsd,
          storageKey: result.content.key,
          thumbnailKey: result.thumbnailKey ?? null,
          mimeType: result.content.contentType,
          format: result.content.format,
          sizeBytes: result.content.size,
          contentSha: result.content.sha256,
          metadata: {
            ...((job.asset.metadata as object) ?? {}),
            ...result.metadata,
          } as Prisma.InputJsonValue,
        },
      });
      if (result.costUsd > 0) {
        await tx.usageRecord.create({
          data: {
            userId: job.userId,
            apiKeyId: job.apiKeyId,
            service: "asset",
            provider: result.provider,
            model: `${job.asset.kind}:${job.asset.quality}`,
            costUsd: result.costUsd,
          },
        });
      }
      const last = await tx.assetJobEvent.findFirst({ where: { jobId: job.id }, orderBy: { seq: "desc" } });
      await tx.assetJobEvent.create({
        data: {
          jobId: job.id,
          seq: (last?.seq ?? 0) + 1,
          type: "completed",
          data: { asset_id: job.assetId, provider: result.provider, cost_usd: result.costUsd },
        },
      });
      return true;
    });
  }

  /** The job ended without an asset (failed or canceled): terminal, with its reason and last event. */
  async finish(job: Job, status: "failed" | "canceled", error: string): Promise<boolean> {
    const ok = await this.#db.$transaction(async (tx) => {
      const { count } = await tx.assetJob.updateMany({
        where: { id: job.id, status: { in: [...LIVE] } },
        data: { status, error, finishedAt: new Date(), lockedUntil: null },
      });
      if (count === 0) return false;
      await tx.asset.update({ where: { id: job.assetId }, data: { status } });
      return true;
    });
    if (ok) await this.event(job.id, status, { error });
    return ok;
  }

  findJob(userId: string, id: string): Promise<JobWithAsset | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.#db.assetJob.findFirst({ where: { id, userId }, include: { asset: true } });
  }

  listJobs(userId: string, filter: { status?: string; limit: number; offset: number }) {
    const where = { userId, ...(filter.status ? { status: filter.status as Job["status"] } : {}) };
    return Promise.all([
      this.#db.assetJob.findMany({
        where,
        include: { asset: true },
        orderBy: { createdAt: "desc" },
        take: filter.limit,
        skip: filter.offset,
      }),
      this.#db.assetJob.count({ where }),
    ]);
  }

  /** An asset the caller may see: their own, or a public one. */
  findAsset(userId: string, id: string): Promise<Asset | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.#db.asset.findFirst({ where: { id, OR: [{ userId }, { visibility: "public" }] } });
  }

  listAssets(userId: string, filter: { type?: string; status?: string; limit: number; offset: number }) {
    const where = {
      userId,
      ...(filter.type ? { kind: filter.type } : {}),
      ...(filter.status ? { status: filter.status as Asset["status"] } : {}),
    };
    return Promise.all([
      this.#db.asset.findMany({
        where,
        orderBy: { createdAt: "desc" },
        take: filter.limit,
        skip: filter.offset,
      }),
      this.#db.asset.count({ where }),
    ]);
  }

  /** Answers whether another asset still uses these stored files (a cache hit shares its source's). */
  async deleteAsset(
    userId: string,
    id: string,
  ): Promise<{ deleted: boolean; filesShared: boolean; asset?: Asset }> {
    if (!isUuid(id)) return { deleted: false, filesShared: false };
    const asset = await this.#db.asset.findFirst({ where: { id, userId } });
    if (!asset) return { deleted: false, filesShared: false };
    await this.#db.asset.delete({ where: { id } });
    const sharing = asset.storageKey
      ? await this.#db.asset.count({ where: { storageKey: asset.storageKey } })
      : 0;
    return { deleted: true, filesShared: sharing > 0, asset };
  }

  async priceOverrides(): Promise<Map<string, number>> {
    const rows = await this.#db.providerPricing.findMany({ where: { model: { contains: ":" } } });
    return new Map(rows.map((r) => [`${r.provider}/${r.model}`, Number(r.perUnit)]));
  }

  setPrice(provider: string, model: string, perUnit: number) {
    return this.#db.providerPricing.upsert({
      where: { provider_model: { provider, model } },
      create: { provider, model, perUnit },
      update: { perUnit },
    });
  }

  /** Spend of this user on assets per provider, type and day, and how requests were served (cache hit rate). */
  async analytics(userId: string, since: Date) {
    const spend = await this.#db.$queryRaw<
      { day: string; provider: string; model: string; cost: unknown; n: bigint }[]
    >`
      SELECT to_char(date_trunc('day', "created_at"), 'YYYY-MM-DD') AS day, "provider", "model",
             sum("cost_usd") AS cost, count(*) AS n
      FROM "usage_records" WHERE "user_id" = ${userId}::uuid AND "service" = 'asset' AND "created_at" >= ${since}
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
    const strategies = await this.#db.assetJob.groupBy({
      by: ["strategy"],
      where: { userId, createdAt: { gte: since } },
      _count: { _all: true },
    });
    return {
      spend: spend.map((r) => ({
        day: r.day,
        provider: r.provider,
        type: r.model.split(":")[0],
        cost_usd: Number(r.cost),
        count: Number(r.n),
      })),
      strategies: Object.fromEntries(strategies.map((s) => [s.strategy, s._count._all])),
    };
  }
}
