import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { unprocessable } from "@gaia/kit";
import { extensionOf } from "./paths.ts";
import type { Hit, SearchQuery } from "./storage/types.ts";

/**
 * Full-text search over a folder of files: ripgrep when it can be run, else a scanner of our own with the same
 * answers (slower, and its regular expressions are JavaScript's). Scoring is one pure function for both.
 */

const SNIPPET_CHARS = 240;
/** Matches kept per file: a word on every line of one file should not crowd out every other file. */
const PER_FILE = 20;

/** The words of a query, lower-cased, without duplicates. */
export function queryWords(text: string): string[] {
  return [
    ...new Set(
      text
        .toLowerCase()
        .split(/[^\p{L}\p{N}_'-]+/u)
        .filter((w) => w.length > 0),
    ),
  ];
}

/** Higher is better: more of the query on the line, its words in the path, a heading. */
export function scoreLine(query: SearchQuery, line: string, path: string): number {
  const hay = query.caseSensitive ? line : line.toLowerCase();
  const p = path.toLowerCase();
  let score = 0;
  if (query.kind === "words") {
    for (const word of queryWords(query.text)) {
      const w = query.caseSensitive ? word : word.toLowerCase();
      if (hay.includes(w)) score += 1 + Math.min(hay.split(w).length - 2, 3) * 0.25;
      if (p.includes(word)) score += 0.5;
    }
  } else {
    score = 1;
    if (query.kind === "phrase" && p.includes(query.text.toLowerCase())) score += 0.5;
  }
  if (/^\s*#/.test(line)) score += 0.5;
  return Math.round(score * 100) / 100;
}

/** The line around its first match, at most SNIPPET_CHARS long. */
export function snippetOf(line: string, matchAt: number): string {
  const text = line.replace(/\s+$/, "");
  if (text.length <= SNIPPET_CHARS) return text.trim();
  const start = Math.max(0, Math.min(matchAt - SNIPPET_CHARS / 3, text.length - SNIPPET_CHARS));
  return `${start > 0 ? "…" : ""}${text.slice(start, start + SNIPPET_CHARS).trim()}${start + SNIPPET_CHARS < text.length ? "…" : ""}`;
}

export function matcher(query: SearchQuery): RegExp {
  const flags = query.caseSensitive ? "u" : "iu";
  if (query.kind === "regex") {
    try {
      return new RegExp(query.text, flags);
    } catch (error) {
      throw unprocessable(`query: not a valid regular expression (${(error as Error).message})`);
    }
  }
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const parts = query.kind === "phrase" ? [query.text] : queryWords(query.text);
  return new RegExp(parts.map(literal).join("|"), flags);
}

/** ripgrep's arguments for a query (no shell: each is one argv entry). */
export function ripgrepArgs(query: SearchQuery, maxFileBytes: number): string[] {
  const args = [
    "--json",
    "--no-config",
    "--max-count",
    String(PER_FILE),
    "--max-filesize",
    String(maxFileBytes),
  ];
  if (!query.caseSensitive) args.push("--ignore-case");
  if (query.kind === "regex") args.push("-e", query.text);
  else {
    args.push("--fixed-strings");
    for (const part of query.kind === "phrase" ? [query.text] : queryWords(query.text)) args.push("-e", part);
  }
  return args;
}

export interface FolderSearch {
  root: string;
  ripgrep: string;
  maxFileBytes: number;
  extensions: ReadonlySet<string>;
}

/** ripgrep binaries found not to run here: searched with the built-in scanner from then on. */
const missingRipgreps = new Set<string>();

/**
 * The hits below `query.under` in files the caller may see (up to `limit` of them), best first. Files they may not
 * see are skipped before counting, so they neither show nor crowd out the ones they may.
 */
export async function searchFolder(
  options: FolderSearch,
  query: SearchQuery,
  limit: number,
  visible: (path: string) => boolean,
): Promise<Hit[]> {
  const keep = (path: string) => options.extensions.has(extensionOf(path)) && visible(path);
  const hits = missingRipgreps.has(options.ripgrep) ? null : await ripgrep(options, query, limit, keep);
  if (hits === null) missingRipgreps.add(options.ripgrep);
  const found = hits ?? (await scan(options, query, limit, keep));
  return found.sort((a, b) => b.score - a.score || a.path.localeCompare(b.path) || a.line - b.line);
}

function ripgrep(
  options: FolderSearch,
  query: SearchQuery,
  limit: number,
  keep: (path: string) => boolean,
): Promise<Hit[] | null> {
  const args = [...ripgrepArgs(query, options.maxFileBytes), "--", query.under || "."];
  return new Promise((resolve, reject) => {
    const child = spawn(options.ripgrep, args, { cwd: options.root, stdio: ["ignore", "pipe", "pipe"] });
    const hits: Hit[] = [];
    let pending = "";
    let stderr = "";
    let stopped = false;
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "EACCES") resolve(null);
      else reject(error);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString("utf8");
    });
    const take = (line: string) => {
      if (!line.startsWith('{"type":"match"')) return;
      const { data } = JSON.parse(line) as {
        data: {
          path: { text?: string };
          lines: { text?: string };
          line_number: number;
          submatches: { start: number }[];
        };
      };
      const path = data.path.text?.replace(/^\.\//, "");
      const text = data.lines.text;
      if (!path || text === undefined || !keep(path)) return;
      hits.push({
        path,
        line: data.line_number,
        snippet: snippetOf(text, data.submatches[0]?.start ?? 0),
        score: scoreLine(query, text, path),
      });
      if (hits.length >= limit && !stopped) {
        stopped = true;
        child.kill();
      }
    };
    child.stdout.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString("utf8")).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (!stopped) take(line);
    });
    child.on("close", (code) => {
      if (!stopped && pending) take(pending);
      // 0: matches, 1: none, 2: an error (a bad pattern, or an unreadable file beside good answers).
      if (code === 2 && hits.length === 0 && /regex|parse|syntax/i.test(stderr)) {
        reject(unprocessable(`query: not a valid regular expression (${stderr.trim().split("\n").pop()})`));
        return;
      }
      resolve(hits);
    });
  });
}

/** The built-in scanner: regular files only (no symlinks), hidden folders skipped as ripgrep does. */
async function scan(
  options: FolderSearch,
  query: SearchQuery,
  limit: number,
  keep: (path: string) => boolean,
): Promise<Hit[]> {
  const pattern = matcher(query);
  const hits: Hit[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(join(options.root, dir), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (hits.length >= limit || entry.name.startsWith(".")) continue;
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && keep(path)) {
        const content = await readFile(join(options.root, path), "utf8").catch(() => "");
        if (content.length > options.maxFileBytes || content.includes("\0")) continue;
        let perFile = 0;
        content.split("\n").forEach((text, i) => {
          if (perFile >= PER_FILE || hits.length >= limit) return;
          const m = pattern.exec(text);
          if (!m) return;
          perFile++;
          hits.push({
            path,
            line: i + 1,
            snippet: snippetOf(text, m.index),
            score: scoreLine(query, text, path),
          });
        });
      }
    }
  };
  await walk(query.under);
  return hits;
}
