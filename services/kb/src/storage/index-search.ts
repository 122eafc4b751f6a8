import type { Db } from "@gaia/kit/db/client";
import { matcher, scoreLine, snippetOf } from "../search.ts";
import type { Hit, SearchQuery } from "./types.ts";

/**
 * Full-text search in PostgreSQL over kb_documents (the documents in database mode, the index in hybrid mode):
 * ts_rank over the same expression the GIN index is built on, so the index answers. Words match any of them
 * (ranked by how many), a phrase in order, a regular expression with PostgreSQL's own (linear-time) engine.
 */

const BATCH = 200;

interface Row {
  path: string;
  content: string;
  rank: number;
}

const VECTOR = `to_tsvector('simple', "title" || ' ' || "content")`;
const TSQUERY = {
  words: "replace(plainto_tsquery('simple', $1)::text, '&', '|')::tsquery",
  phrase: "phraseto_tsquery('simple', $1)",
} as const;

/** The WHERE condition and the rank of a query; $1 is the query's text. */
function condition(query: SearchQuery): { match: string; rank: string } {
  if (query.kind === "regex")
    return { match: `"content" ${query.caseSensitive ? "~" : "~*"} $1`, rank: "1::real" };
  const tsquery = TSQUERY[query.kind];
  return { match: `${VECTOR} @@ ${tsquery}`, rank: `ts_rank(${VECTOR}, ${tsquery})` };
}

export async function searchIndex(
  db: Db,
  query: SearchQuery,
  limit: number,
  visible: (path: string) => boolean,
): Promise<Hit[]> {
  const { match, rank } = condition(query);
  const under = query.under ? `AND ("path" = $2 OR starts_with("path", $2 || '/'))` : "";
  const params = query.under ? [query.text, query.under] : [query.text];
  const pattern = lineMatcher(query);
  const hits: Hit[] = [];
  for (let offset = 0; hits.length < limit; offset += BATCH) {
    const rows = await db.$queryRawUnsafe<Row[]>(
      `SELECT "path", "content", ${rank} AS rank FROM "kb_documents" WHERE ${match} ${under}
       ORDER BY rank DESC, "path" LIMIT ${BATCH} OFFSET ${offset}`,
      ...params,
    );
    for (const row of rows) {
      if (!visible(row.path)) continue;
      hits.push(hitOf(row, query, pattern));
      if (hits.length >= limit) break;
    }
    if (rows.length < BATCH) break;
  }
  return hits;
}

/** For finding the hit's line; a PostgreSQL pattern JavaScript cannot read finds none (line 1 is shown). */
function lineMatcher(query: SearchQuery): RegExp {
  try {
    return matcher(query);
  } catch {
    return /$^/;
  }
}

/** The document's best line for the hit: the first that matches (its line number and snippet). */
function hitOf(row: Row, query: SearchQuery, pattern: RegExp): Hit {
  const lines = row.content.split("\n");
  const i = Math.max(
    0,
    lines.findIndex((line) => pattern.test(line)),
  );
  const line = lines[i] ?? "";
  const at = line.search(pattern);
  return {
    path: row.path,
    line: i + 1,
    snippet: snippetOf(line, Math.max(0, at)),
    score: Math.round((Number(row.rank) * 10 + scoreLine(query, line, row.path)) * 100) / 100,
  };
}
