import {
  type IdentityVerifier,
  identityOf,
  notFound,
  parseInput,
  requireIdentity,
  requirePermission,
} from "@gaia/kit";
import { updateUserBody } from "@gaia/kit/contracts/auth";
import { Router } from "express";
import type { UserAdmin } from "../admin.ts";
import { usersQuery, uuid } from "./schemas.ts";
import { clientIp } from "./sessions.ts";

/** Admin only: the admin:all permission (an admin's key narrowed below it does not qualify). */
export function userRoutes(deps: { admin: UserAdmin; verifyIdentity: IdentityVerifier }): Router {
  const { admin } = deps;
  const router = Router();
  router.use("/api/v1/auth/users", requireIdentity(deps.verifyIdentity), requirePermission("admin:all"));

  router.get("/api/v1/auth/users", async (req, res) => {
    res.json(await admin.list(parseInput(usersQuery, req.query)));
  });

  router.patch("/api/v1/auth/users/:id", async (req, res) => {
    const id = uuid.safeParse(req.params.id);
    if (!id.success) throw notFound("No such user");
    const change = parseInput(updateUserBody, req.body);
    res.json(await admin.update(identityOf(res.locals), id.data, change, clientIp(req)));
  });

  return router;
}
