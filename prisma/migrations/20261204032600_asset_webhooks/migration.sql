-- AlterTable
ALTER TABLE "asset_jobs" ADD COLUMN     "webhook_url" TEXT;

-- CreateTable
CREATE TABLE "asset_webhook_secrets" (
    "user_id" UUID NOT NULL,
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "asset_webhook_secrets_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "asset_webhook_deliveries" (
    "id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "event" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "status" INTEGER,
    "error" TEXT,
    "duration_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "asset_webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "asset_webhook_deliveries_job_id_created_at_idx" ON "asset_webhook_deliveries"("job_id", "created_at");

-- AddForeignKey
ALTER TABLE "asset_webhook_secrets" ADD CONSTRAINT "asset_webhook_secrets_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "asset_webhook_deliveries" ADD CONSTRAINT "asset_webhook_deliveries_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "asset_jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
