import { defineConfig } from "prisma/config";

// The datasource URL lives here (Prisma 7), not in the schema. Only `prisma generate` uses this file;
// migrations run through `gaia db`, which reads DATABASE_URL itself.
export default defineConfig({
  schema: "prisma/schema.prisma",
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/gaia" },
});
