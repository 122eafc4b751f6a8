import { badRequest, conflict, identityOf, parseInput } from "@gaia/kit";
import {
  contextBody,
  deleteBody,
  listBody,
  moveBody,
  navigateBody,
  readBody,
  searchBody,
  writeBody,
} from "@gaia/kit/contracts/kb";
import type { Express, Request } from "express";
import type { KnowledgeBase } from "../knowledge.ts";
import { filePath, folderPath } from "../paths.ts";

/** The documents: /api/v0.2/kb/{search,read,list,navigate,context,write,move,delete}, in the first platform's shape. */

const BASE = "/api/v0.2/kb";

/** The version a change starts from: If-Match (an ETag, quoted or not) or the body's base_version. */
function baseVersion(req: Request, body: { base_version?: string }): string | undefined {
  const header = req.get("if-match")?.trim();
  if (header && header !== "*") {
    const tag = header.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
    if (body.base_version && body.base_version !== tag)
      throw badRequest("If-Match and base_version disagree");
    return tag;
  }
  return body.base_version;
}

const etag = (version: string) => `"${version}"`;
/** A request without a body is one with every field left out. */
const bodyOf = (req: Request): unknown => req.body ?? {};

export function mountDocuments(app: Express, kb: KnowledgeBase) {
  // The first platform's multitask ran several KB lookups for a chat message; here it is that message's search.
  app.post([`${BASE}/search`, `${BASE}/multitask`], async (req, res) => {
    const body = parseInput(searchBody, bodyOf(req));
    const answer = await kb.search(identityOf(res.locals), {
      text: (body.query ?? body.message)!,
      kind: body.mode,
      under: folderPath(body.path),
      caseSensitive: body.case_sensitive,
      limit: body.limit,
      offset: body.offset,
    });
    res.json({ success: true, ...answer, total_results: answer.total });
  });

  app.post(`${BASE}/read`, async (req, res) => {
    const path = filePath(parseInput(readBody, bodyOf(req)).path);
    const doc = await kb.read(identityOf(res.locals), path);
    res.setHeader("ETag", etag(doc.version));
    res.json({
      success: true,
      path: doc.path,
      content: doc.content,
      version: doc.version,
      title: doc.title,
      size: doc.size,
    });
  });

  app.post(`${BASE}/list`, async (req, res) => {
    const folder = folderPath(parseInput(listBody, bodyOf(req)).path);
    const entries = await kb.list(identityOf(res.locals), folder);
    res.json({ success: true, path: folder, entries, total: entries.length });
  });

  app.post(`${BASE}/navigate`, async (req, res) => {
    const body = parseInput(navigateBody, bodyOf(req));
    const tree = await kb.navigate(identityOf(res.locals), folderPath(body.path), body.depth);
    res.json({ success: true, tree });
  });

  app.post(`${BASE}/context`, async (req, res) => {
    const body = parseInput(contextBody, bodyOf(req));
    const name = folderPath((body.name ?? body.message)!, "name");
    res.json({ success: true, ...(await kb.context(identityOf(res.locals), name, body.budget_tokens)) });
  });

  app.post(`${BASE}/write`, async (req, res) => {
    const body = parseInput(writeBody, bodyOf(req));
    const written = await kb.write(identityOf(res.locals), {
      path: filePath(body.path),
      content: body.content,
      base: baseVersion(req, body),
      message: body.message,
    });
    res.setHeader("ETag", etag(written.version));
    res.status(written.created ? 201 : 200).json({ success: true, ...written });
  });

  app.post(`${BASE}/move`, async (req, res) => {
    const body = parseInput(moveBody, bodyOf(req));
    const from = filePath(body.from ?? body.old_path, "from");
    const to = filePath(body.to ?? body.new_path, "to");
    if (from === to) throw conflict(`${to} already exists: it is the file being moved`);
    const moved = await kb.move(identityOf(res.locals), from, to, baseVersion(req, body));
    res.setHeader("ETag", etag(moved.version));
    res.json({ success: true, from, ...moved });
  });

  app.delete(`${BASE}/delete`, async (req, res) => {
    const body = parseInput(deleteBody, req.body ?? (req.query.path ? { path: req.query.path } : {}));
    const path = filePath(body.path);
    const { commit } = await kb.remove(identityOf(res.locals), path, baseVersion(req, body));
    res.json({ success: true, path, deleted: true, commit });
  });
}
