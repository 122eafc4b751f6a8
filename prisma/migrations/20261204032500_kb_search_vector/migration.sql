-- The search vector, computed once when a document is written instead of at every search: the expression
-- index found the matches, but ranking re-parsed every matching document (9 s for a word in nearly every file of
-- a 10,000-file corpus). Written by hand, the Prisma schema cannot say a generated column (the client never
-- writes it, and reads only the columns it knows).
ALTER TABLE "kb_documents" ADD COLUMN "search_vector" tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', "title" || ' ' || "content")) STORED;

DROP INDEX "kb_documents_search_idx";

CREATE INDEX "kb_documents_search_vector_idx" ON "kb_documents" USING GIN ("search_vector");
