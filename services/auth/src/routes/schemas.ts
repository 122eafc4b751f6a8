import { AUTH_TYPES, PERMISSIONS, ROLES } from "@gaia/kit";
import { z } from "zod";

/** Auth's internal and query shapes; its public request bodies live in the kit (@gaia/kit/contracts/auth). */

export const usersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  email: z.string().trim().min(1).max(254).optional(),
});

export const uuid = z.uuid();

export const authenticateBody = z.union([
  z.object({ api_key: z.string().min(1).max(512) }).strict(),
  z.object({ bearer: z.string().min(1).max(8192) }).strict(),
]);

export const serviceTokenBody = z.object({
  identity: z.object({
    userId: z.string().min(1).max(128),
    email: z.string().max(254).optional(),
    role: z.enum(ROLES),
    permissions: z.array(z.enum(PERMISSIONS)),
    authType: z.enum(AUTH_TYPES),
    keyId: z.string().max(128).optional(),
    sessionId: z.string().max(128).optional(),
  }),
});
