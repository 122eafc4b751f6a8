import { Router } from "express";
import type { SigningKeys } from "../signing.ts";

/** Public keys for every service's identity verifier (and anyone checking an access token). */
export function wellKnownRoutes(keys: SigningKeys): Router {
  const router = Router();
  const body = keys.jwks();
  router.get("/.well-known/jwks.json", (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=300");
    res.json(body);
  });
  return router;
}
