import { type IdentityVerifier, identityOf, notFound, parseInput, requireIdentity } from "@gaia/kit";
import { loginBody, logoutBody, refreshBody, registerBody } from "@gaia/kit/contracts/auth";
import type { Db } from "@gaia/kit/db/client";
import { type Request, Router } from "express";
import { findUserById } from "../repo/users.ts";
import type { Sessions } from "../sessions.ts";

/** The client's address: as the gateway vouched for it (clientAddress in main.ts), else this hop's peer. */
export const clientIp = (req: Request): string =>
  (req.res?.locals.clientAddress as string | undefined) ?? req.socket.remoteAddress ?? "unknown";

/**
 * /api/v1/auth/{register,login,refresh} need no identity; logout, me and validate need the gateway's
 * X-Gaia-Identity.
 */
export function sessionRoutes(deps: {
  sessions: Sessions;
  db: Db;
  verifyIdentity: IdentityVerifier;
}): Router {
  const { sessions, db } = deps;
  const router = Router();
  const identified = requireIdentity(deps.verifyIdentity);

  router.post("/api/v1/auth/register", async (req, res) => {
    const tokens = await sessions.register(parseInput(registerBody, req.body), clientIp(req));
    res.status(201).json({ ...tokens.user, ...tokens });
  });

  router.post("/api/v1/auth/login", async (req, res) => {
    res.json(await sessions.login(parseInput(loginBody, req.body), clientIp(req)));
  });

  router.post("/api/v1/auth/refresh", async (req, res) => {
    const { refresh_token } = parseInput(refreshBody, req.body);
    res.json(await sessions.refresh(refresh_token, clientIp(req)));
  });

  router.post("/api/v1/auth/logout", identified, async (req, res) => {
    const { refresh_token } = parseInput(logoutBody, req.body ?? {});
    await sessions.logout(identityOf(res.locals), refresh_token, clientIp(req));
    res.status(204).end();
  });

  router.get("/api/v1/auth/me", identified, async (_req, res) => {
    const identity = identityOf(res.locals);
    const user = await findUserById(db, identity.userId);
    if (!user) throw notFound("No such user");
    res.json({
      id: user.id,
      email: user.email,
      role: user.role,
      permissions: identity.permissions,
      auth_type: identity.authType,
      key_id: identity.keyId ?? null,
      created_at: user.createdAt.toISOString(),
    });
  });

  router.post("/api/v1/auth/validate", identified, (_req, res) => {
    const identity = identityOf(res.locals);
    res.json({
      valid: true,
      user_id: identity.userId,
      email: identity.email ?? null,
      role: identity.role,
      permissions: identity.permissions,
      auth_type: identity.authType,
      key_id: identity.keyId ?? null,
    });
  });

  return router;
}
