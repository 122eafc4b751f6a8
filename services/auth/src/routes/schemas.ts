import { AUTH_TYPES, PERMISSIONS, ROLES } from "@gaia/kit";
import { z } from "zod";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../passwords.ts";

/** Request bodies at auth's boundary; parseInput turns a mismatch into a 422 naming each field. */
const email = z.email().max(254);

export const registerBody = z.object({
  email,
  password: z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH),
});

/** No length rule on login beyond the cap: the rule belongs to registration, not to checking. */
export const loginBody = z.object({ email, password: z.string().min(1).max(PASSWORD_MAX_LENGTH) });

const refreshToken = z.string().min(1).max(512);
export const refreshBody = z.object({ refresh_token: refreshToken });
export const logoutBody = z.object({ refresh_token: refreshToken.optional() });

export const createKeyBody = z.object({
  name: z.string().trim().min(1).max(100),
  permissions: z.array(z.enum(PERMISSIONS)).min(1).optional(),
  expires_at: z.iso.datetime({ offset: true }).nullish(),
});

export const usersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  email: z.string().trim().min(1).max(254).optional(),
});

export const updateUserBody = z
  .object({ role: z.enum(ROLES).optional(), disabled: z.boolean().optional() })
  .refine((v) => v.role !== undefined || v.disabled !== undefined, "give role, disabled or both");

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
