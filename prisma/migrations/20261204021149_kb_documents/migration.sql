-- AlterTable
ALTER TABLE "kb_path_permissions" ADD COLUMN     "role" "Role",
ALTER COLUMN "user_id" DROP NOT NULL;

-- CreateTable
CREATE TABLE "kb_documents" (
    "path" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "updated_by" UUID,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "kb_documents_pkey" PRIMARY KEY ("path")
);

-- CreateTable
CREATE TABLE "kb_document_versions" (
    "path" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "content" TEXT,
    "author" TEXT,
    "message" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "kb_document_versions_pkey" PRIMARY KEY ("path","version")
);

-- CreateTable
CREATE TABLE "kb_sync_state" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "kb_sync_state_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "kb_conflicts" (
    "id" UUID NOT NULL,
    "path" TEXT NOT NULL,
    "ours" TEXT,
    "theirs" TEXT,
    "ours_author" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(3),
    "resolved_by" UUID,
    "resolution" TEXT,

    CONSTRAINT "kb_conflicts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "kb_conflicts_resolved_at_idx" ON "kb_conflicts"("resolved_at");

-- CreateIndex
CREATE UNIQUE INDEX "kb_path_permissions_role_path_prefix_key" ON "kb_path_permissions"("role", "path_prefix");

-- Exactly one subject per rule: a user or a role (written by hand, the Prisma schema cannot say it).
ALTER TABLE "kb_path_permissions" ADD CONSTRAINT "kb_path_permissions_one_subject"
    CHECK (("user_id" IS NULL) <> ("role" IS NULL));

-- Full-text search over title and content (written by hand, the Prisma schema cannot say an expression index).
CREATE INDEX "kb_documents_search_idx" ON "kb_documents"
    USING GIN (to_tsvector('simple', "title" || ' ' || "content"));
