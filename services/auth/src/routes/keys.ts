import { type IdentityVerifier, identityOf, notFound, parseInput, requireIdentity } from "@gaia/kit";
import { createKeyBody, updateKeyBody } from "@gaia/kit/contracts/auth";
import { Router } from "express";
import type { KeyManager } from "../keys.ts";
import { uuid } from "./schemas.ts";
import { clientIp } from "./sessions.ts";

export function keyRoutes(deps: { keys: KeyManager; verifyIdentity: IdentityVerifier }): Router {
  const { keys } = deps;
  const router = Router();
  router.use("/api/v1/auth/keys", requireIdentity(deps.verifyIdentity));

  router.post("/api/v1/auth/keys", async (req, res) => {
    const body = parseInput(createKeyBody, req.body);
    const created = await keys.create(
      identityOf(res.locals),
      {
        name: body.name,
        permissions: body.permissions,
        expiresAt: body.expires_at ? new Date(body.expires_at) : undefined,
        budgetUsd: body.budget_usd,
      },
      clientIp(req),
    );
    res.status(201).json(created);
  });

  router.get("/api/v1/auth/keys", async (_req, res) => {
    res.json({ keys: await keys.list(identityOf(res.locals)) });
  });

  const keyId = (raw: string | undefined) => {
    const id = uuid.safeParse(raw);
    if (!id.success) throw notFound("No such API key");
    return id.data;
  };

  router.patch("/api/v1/auth/keys/:id", async (req, res) => {
    const id = keyId(req.params.id);
    const body = parseInput(updateKeyBody, req.body);
    res.json(
      await keys.update(
        identityOf(res.locals),
        id,
        { name: body.name, budgetUsd: body.budget_usd },
        clientIp(req),
      ),
    );
  });

  router.delete("/api/v1/auth/keys/:id", async (req, res) => {
    await keys.revoke(identityOf(res.locals), keyId(req.params.id), clientIp(req));
    res.status(204).end();
  });

  return router;
}
