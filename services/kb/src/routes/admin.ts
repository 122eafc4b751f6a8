import { hasPermission, identityOf, notFound, parseInput, requirePermission } from "@gaia/kit";
import { grantBody, resolveBody } from "@gaia/kit/contracts/kb";
import type { Express } from "express";
import type { KnowledgeBase } from "../knowledge.ts";
import { folderPath } from "../paths.ts";
import type { Conflict, KbStore, StoredRule } from "../store.ts";

/** Status, sync, conflicts, the cache, and (admins only) the path rules. */

const BASE = "/api/v0.2/kb";

const ruleView = (r: StoredRule) => ({
  id: r.id,
  user_id: r.userId ?? null,
  role: r.role ?? null,
  path_prefix: r.pathPrefix,
  can_read: r.canRead,
  can_write: r.canWrite,
  created_at: r.createdAt.toISOString(),
});

const conflictView = (c: Conflict) => ({
  id: c.id,
  path: c.path,
  ours: c.ours,
  theirs: c.theirs,
  ours_author: c.oursAuthor,
  created_at: c.createdAt.toISOString(),
});

export function mountAdmin(app: Express, kb: KnowledgeBase, rules: KbStore) {
  const status = async (isAdmin: boolean) => {
    const { remote, ...rest } = await kb.store.status();
    // Where the repository lives is an operator's business, not every reader's.
    return { ...rest, ...(isAdmin && remote ? { remote } : { has_remote: remote !== undefined }) };
  };
  const isAdmin = (locals: Record<string, unknown>) => hasPermission(identityOf(locals), "admin:all");

  app.get(`${BASE}/status`, async (_req, res) => {
    res.json({ success: true, ...(await status(isAdmin(res.locals))) });
  });
  app.get(`${BASE}/git/status`, async (_req, res) => {
    res.json({
      success: true,
      ...(await status(isAdmin(res.locals))),
      conflicts: (await rules.openConflicts()).length,
    });
  });
  app.get(`${BASE}/sync/status`, async (_req, res) => {
    res.json({ success: true, ...(await status(isAdmin(res.locals))) });
  });
  // Writes are pushed as they are made; both directions fetch, replay anything unpushed, and push.
  for (const direction of ["from-git", "to-git"]) {
    app.post(`${BASE}/sync/${direction}`, requirePermission("kb:write"), async (_req, res) => {
      const result = await kb.store.sync();
      res.json({ success: true, direction, ...result, changed_files: result.changed.length });
    });
  }

  app.get(`${BASE}/conflicts`, requirePermission("kb:write"), async (_req, res) => {
    const access = await kb.access(identityOf(res.locals));
    const open = (await rules.openConflicts()).filter((c) => access.canRead(c.path));
    res.json({ success: true, conflicts: open.map(conflictView), total: open.length });
  });
  app.post(`${BASE}/conflicts/:id/resolve`, requirePermission("kb:write"), async (req, res) => {
    const identity = identityOf(res.locals);
    const body = parseInput(resolveBody, req.body);
    const found = await rules.findConflict(String(req.params.id));
    const access = await kb.access(identity);
    if (!found || found.resolvedAt || !access.canRead(found.path))
      throw notFound("No open conflict with this id");
    const text =
      body.choice === "merged" ? body.content! : body.choice === "ours" ? found.ours : found.theirs;
    const result =
      text === null
        ? await kb.remove(identity, found.path).catch((error) => {
            if ((error as { status?: number }).status === 404) return { commit: null };
            throw error;
          })
        : await kb.write(identity, {
            path: found.path,
            content: text,
            message: `Resolve the conflict in ${found.path} (${body.choice})`,
          });
    await rules.resolveConflict(found.id, identity.userId, body.choice);
    res.json({ success: true, id: found.id, path: found.path, choice: body.choice, commit: result.commit });
  });

  app.get(`${BASE}/cache/stats`, (_req, res) => {
    const { hits, misses, invalidations } = kb.stats;
    res.json({
      success: true,
      hits,
      misses,
      invalidations,
      hit_rate: hits + misses === 0 ? 0 : Math.round((hits / (hits + misses)) * 1000) / 1000,
    });
  });
  app.post(`${BASE}/cache/invalidate`, requirePermission("kb:write"), async (_req, res) => {
    const generation = await kb.invalidate();
    res.json({ success: true, invalidated: true, generation });
  });

  const admin = requirePermission("admin:all");
  app.get(`${BASE}/permissions`, admin, async (_req, res) => {
    const all = await rules.allRules();
    res.json({ success: true, rules: all.map(ruleView), total: all.length });
  });
  app.post(`${BASE}/permissions`, admin, async (req, res) => {
    const body = parseInput(grantBody, req.body);
    const pathPrefix = folderPath(body.path_prefix.replace(/\/\*\*$/, ""), "path_prefix");
    const rule = await rules.grant({
      ...(body.user_id ? { userId: body.user_id } : { role: body.role! }),
      pathPrefix,
      canRead: body.can_read,
      canWrite: body.can_write,
    });
    await kb.invalidate();
    res.status(201).json({ success: true, rule: ruleView(rule) });
  });
  app.delete(`${BASE}/permissions/:id`, admin, async (req, res) => {
    if (!(await rules.revoke(String(req.params.id)))) throw notFound("No rule with this id");
    await kb.invalidate();
    res.status(204).end();
  });
}
