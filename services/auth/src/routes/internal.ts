import {
  type Identity,
  INTERNAL_TOKEN_HEADER,
  INTERNAL_TOKEN_REFUSED,
  internalTokenMatcher,
  parseInput,
  ROLE_PERMISSIONS,
  signIdentity,
  unauthorized,
} from "@gaia/kit";
import { type RequestHandler, Router } from "express";
import type { Authenticator } from "../authenticate.ts";
import type { SigningKeys } from "../signing.ts";
import { expiryOf } from "../tokens.ts";
import { authenticateBody, serviceTokenBody } from "./schemas.ts";

/** Only a holder of GAIA_INTERNAL_TOKEN (the gateway) may mint identities; compared in constant time. */
export function requireInternalToken(secret: string): RequestHandler {
  const matches = internalTokenMatcher(secret);
  return (req, _res, next) => {
    if (!matches(req.get(INTERNAL_TOKEN_HEADER))) {
      return next(unauthorized("This endpoint is for platform services", INTERNAL_TOKEN_REFUSED));
    }
    next();
  };
}

/** A minted identity never carries a permission its role lacks, whatever the caller asked for. */
export function boundedIdentity(identity: Identity): Identity {
  const held = ROLE_PERMISSIONS[identity.role];
  return { ...identity, permissions: identity.permissions.filter((p) => held.includes(p)) };
}

/**
 * For the gateway: credential → identity plus a service token carrying it, and service tokens for identities
 * the gateway already holds (from its fast path through the shared cache). Every /internal path needs the
 * internal token: an identity token lets its holder call the backends directly, past the gateway's limits.
 */
export function internalRoutes(deps: {
  authenticator: Authenticator;
  keys: SigningKeys;
  internalToken: string;
}): Router {
  const { authenticator, keys } = deps;
  const router = Router();
  router.use("/internal", requireInternalToken(deps.internalToken));

  const mint = async (identity: Identity) => {
    const token = await signIdentity(identity, keys.privateKey, keys.kid);
    return { token, expires_at: expiryOf(token) };
  };

  router.post("/internal/authenticate", async (req, res) => {
    const body = parseInput(authenticateBody, req.body);
    const identity = await authenticator.authenticate(
      "api_key" in body ? { apiKey: body.api_key } : { bearer: body.bearer },
    );
    res.json({ identity, ...(await mint(identity)) });
  });

  router.post("/internal/service-token", async (req, res) => {
    const { identity } = parseInput(serviceTokenBody, req.body);
    res.json(await mint(boundedIdentity(identity)));
  });

  return router;
}
