-- CreateTable
CREATE TABLE "persona_selections" (
    "user_id" UUID NOT NULL,
    "persona_id" UUID NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "persona_selections_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE INDEX "persona_selections_persona_id_idx" ON "persona_selections"("persona_id");

-- AddForeignKey
ALTER TABLE "persona_selections" ADD CONSTRAINT "persona_selections_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "persona_selections" ADD CONSTRAINT "persona_selections_persona_id_fkey" FOREIGN KEY ("persona_id") REFERENCES "personas"("id") ON DELETE CASCADE ON UPDATE CASCADE;
