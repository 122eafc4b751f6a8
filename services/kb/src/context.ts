import { nameOf, parentOf } from "./paths.ts";

/**
 * A named context (a folder with an index listing its parts, as KOS contexts are) made into one document within a
 * budget of tokens: the index first, then its parts in the order it lists them (most important first), then the
 * folder's other files; a part that does not fit is left out whole and named in `omitted`. Only files the caller
 * may read are ever given to these functions, so nothing else can be named.
 */

export interface Part {
  path: string;
  content: string;
}

export interface ContextAnswer {
  name: string;
  content: string;
  tokens: number;
  budget_tokens: number;
  included: { path: string; tokens: number }[];
  omitted: { path: string; tokens: number }[];
}

/** A rough count that errs high for English: four characters a token. */
export const tokensOf = (text: string) => Math.ceil(text.length / 4);

const INDEX = (folder: string) => [`+${nameOf(folder)}.md`, "+index.md", "index.md", "readme.md"];

/** Links an index lists, in order: [text](path) and [[path]], relative to the index's folder. */
export function linksOf(index: string, folder: string): string[] {
  const found: string[] = [];
  const re = /\[\[([^\]|#]+)(?:[|#][^\]]*)?\]\]|\[[^\]]*\]\(([^)#\s]+)(?:#[^)]*)?\)/g;
  for (const m of index.matchAll(re)) {
    let target = (m[1] ?? m[2] ?? "").trim();
    if (!target || /^[a-z]+:/i.test(target)) continue;
    if (m[1] && !/\.[a-z0-9]+$/i.test(target)) target += ".md";
    const parts = (target.startsWith("/") ? target.slice(1) : folder ? `${folder}/${target}` : target).split(
      "/",
    );
    const resolved: string[] = [];
    for (const part of parts) {
      if (part === "..") resolved.pop();
      else if (part && part !== ".") resolved.push(part);
    }
    found.push(resolved.join("/"));
  }
  return found;
}

/** The parts of the context in order of importance, read through `read` (null: not readable). */
export async function contextParts(
  folder: string,
  files: string[],
  read: (path: string) => Promise<string | null>,
): Promise<Part[]> {
  const inFolder = new Set(files);
  const indexPath = INDEX(folder)
    .map((name) =>
      files.find((f) => parentOf(f) === folder && nameOf(f).toLowerCase() === name.toLowerCase()),
    )
    .find(Boolean);
  const ordered: string[] = [];
  const parts: Part[] = [];
  if (indexPath) {
    const index = await read(indexPath);
    if (index !== null) {
      parts.push({ path: indexPath, content: index });
      ordered.push(indexPath);
      // Links may point outside the folder; only files the caller may read were given, so others drop out here.
      for (const link of linksOf(index, folder))
        if (inFolder.has(link) && !ordered.includes(link)) ordered.push(link);
    }
  }
  for (const file of [...files].sort()) if (!ordered.includes(file)) ordered.push(file);
  for (const path of ordered.slice(parts.length)) {
    const content = await read(path);
    if (content !== null) parts.push({ path, content });
  }
  return parts;
}

export function assembleContext(name: string, parts: readonly Part[], budget: number): ContextAnswer {
  const included: ContextAnswer["included"] = [];
  const omitted: ContextAnswer["omitted"] = [];
  const sections: string[] = [];
  let used = 0;
  for (const part of parts) {
    const section = `<!-- ${part.path} -->\n${part.content.trim()}\n`;
    const tokens = tokensOf(section);
    if (used + tokens > budget) {
      omitted.push({ path: part.path, tokens });
      continue;
    }
    used += tokens;
    included.push({ path: part.path, tokens });
    sections.push(section);
  }
  return { name, content: sections.join("\n"), tokens: used, budget_tokens: budget, included, omitted };
}
