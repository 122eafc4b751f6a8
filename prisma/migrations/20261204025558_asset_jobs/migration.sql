-- AlterEnum
ALTER TYPE "AssetStatus" ADD VALUE 'canceled';

-- DropIndex
DROP INDEX "asset_jobs_status_created_at_idx";

-- AlterTable
ALTER TABLE "assets" ADD COLUMN     "content_sha" TEXT,
ADD COLUMN     "format" TEXT,
ADD COLUMN     "quality" TEXT NOT NULL DEFAULT 'standard',
ADD COLUMN     "size" TEXT,
ADD COLUMN     "size_bytes" INTEGER,
ADD COLUMN     "style" TEXT,
ADD COLUMN     "thumbnail_key" TEXT,
ADD COLUMN     "visibility" TEXT NOT NULL DEFAULT 'private';

-- AlterTable
ALTER TABLE "asset_jobs" ADD COLUMN     "api_key_id" UUID,
ADD COLUMN     "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "deadline" TIMESTAMPTZ(3),
ADD COLUMN     "estimate_usd" DECIMAL(12,6) NOT NULL DEFAULT 0,
ADD COLUMN     "idempotency_key" TEXT,
ADD COLUMN     "locked_by" TEXT,
ADD COLUMN     "locked_until" TIMESTAMPTZ(3),
ADD COLUMN     "plan" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "progress" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "provider_state" JSONB,
ADD COLUMN     "provider_task_id" TEXT,
ADD COLUMN     "request_hash" TEXT NOT NULL,
ADD COLUMN     "run_after" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "strategy" TEXT NOT NULL DEFAULT 'generate',
ADD COLUMN     "user_id" UUID NOT NULL;

-- CreateTable
CREATE TABLE "asset_job_events" (
    "job_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "asset_job_events_pkey" PRIMARY KEY ("job_id","seq")
);

-- CreateIndex
CREATE INDEX "asset_jobs_status_run_after_idx" ON "asset_jobs"("status", "run_after");

-- CreateIndex
CREATE INDEX "asset_jobs_user_id_created_at_idx" ON "asset_jobs"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "asset_jobs_user_id_request_hash_idx" ON "asset_jobs"("user_id", "request_hash");

-- CreateIndex
CREATE UNIQUE INDEX "asset_jobs_user_id_idempotency_key_key" ON "asset_jobs"("user_id", "idempotency_key");

-- AddForeignKey
ALTER TABLE "asset_job_events" ADD CONSTRAINT "asset_job_events_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "asset_jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Reuse candidates: full-text search over a public asset's prompt and style (written by hand, the Prisma schema
-- cannot say an expression index).
CREATE INDEX "assets_reuse_search_idx" ON "assets"
    USING GIN (to_tsvector('english', "prompt" || ' ' || coalesce("style", '')));
