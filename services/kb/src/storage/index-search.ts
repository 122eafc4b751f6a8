import type { Db } from "@gaia/kit/db/client";
import { matcher, scoreLine, snippetOf } from "../search.ts";
import type { Hit, SearchQuery } from "./types.ts";

/**
 * Full-text search in PostgreSQL over kb_documents (the documents in database mode, the index in hybrid mode),
 * ranked by ts_rank over the stored search_vector (GIN-indexed). Words match any of them (ranked by how many), a
 * phrase in order, a regular expression with PostgreSQL's own (linear-time) engine. The ranking query reads
 * paths and ranks only; the content of just the hits that will be shown is read afterwards for their line and
 * snippet.
 */

/** Matches ranked at most: beyond this the answer says it was truncated. */
const RANKED = 5000;

const TSQUERY = {
  words: "replace(plainto_tsquery('simple', $1)::text, '&', '|')::tsquery",
  phrase: "phraseto_tsquery('simple', $1)",
} as const;

/** The WHERE condition and the rank of a query; $1 is the query's text. */
function condition(query: SearchQuery): { match: string; rank: string } {
  if (query.kind === "regex")
    return { match: `"content" ${query.caseSensitive ? "~" : "~*"} $1`, rank: "1::real" };
  const tsquery = TSQUERY[query.kind];
  return { match: `"search_vector" @@ ${tsquery}`, rank: `ts_rank("search_vector", ${tsquery})` };
}

/**
 * Up to `limit` visible hits, best first; the first `detailed` of them with their line and snippet (the rest
 * count toward the total and pages further on, and carry line 0 and no snippet).
 */
export async function searchIndex(
  db: Db,
  query: SearchQuery,
  limit: number,
  visible: (path: string) => boolean,
  detailed: number,
): Promise<Hit[]> {
  const { match, rank } = condition(query);
  const under = query.under ? `AND ("path" = $2 OR starts_with("path", $2 || '/'))` : "";
  const params = query.under ? [query.text, query.under] : [query.text];
  const ranked = await db.$queryRawUnsafe<{ path: string; rank: number }[]>(
    `SELECT "path", ${rank} AS rank FROM "kb_documents" WHERE ${match} ${under}
     ORDER BY rank DESC, "path" LIMIT ${RANKED}`,
    ...params,
  );
  const shown = ranked.filter((r) => visible(r.path)).slice(0, limit);
  const wanted = shown.slice(0, detailed).map((r) => r.path);
  const contents = wanted.length
    ? new Map(
        (
          await db.kbDocument.findMany({
            where: { path: { in: wanted } },
            select: { path: true, content: true },
          })
        ).map((d) => [d.path, d.content]),
      )
    : new Map<string, string>();
  const pattern = lineMatcher(query);
  return shown.map((r) => {
    const content = contents.get(r.path);
    return content === undefined
      ? { path: r.path, line: 0, snippet: "", score: Math.round(Number(r.rank) * 1000) / 100 }
      : hitOf({ ...r, content }, query, pattern);
  });
}

interface Row {
  path: string;
  content: string;
  rank: number;
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
