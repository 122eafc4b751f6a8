import { z } from "zod";
import { PERMISSIONS, ROLES } from "../identity.ts";

/**
 * Auth's public request bodies: auth parses them, the gateway publishes them in its OpenAPI document.
 * parseInput turns a mismatch into a 422 naming each field.
 */

export const PASSWORD_MIN_LENGTH = 8;
/** argon2 accepts any length; a cap keeps one request from hashing megabytes. */
export const PASSWORD_MAX_LENGTH = 256;

/** zod's own email rule, as a pattern: the document then states the very rule, not JSON Schema's "email". */
const email = z.string().regex(z.regexes.email, "Invalid email address").max(254);

export const registerBody = z.object({
  email,
  password: z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH),
});

/** No length rule on login beyond the cap: the rule belongs to registration, not to checking. */
export const loginBody = z.object({ email, password: z.string().min(1).max(PASSWORD_MAX_LENGTH) });

const refreshToken = z.string().min(1).max(512);
export const refreshBody = z.object({ refresh_token: refreshToken });
export const logoutBody = z.object({ refresh_token: refreshToken.optional() });

// Trimmed before the length check: the document says a name needs a non-space character.
const keyName = z.string().trim().min(1).max(100).meta({ pattern: "\\S" });

/** The column is NUMERIC(12,6): a budget fits it, to the micro-dollar. */
const KEY_BUDGET_MAX_USD = 999_999;
const keyBudget = z.number().min(0).max(KEY_BUDGET_MAX_USD).nullable().meta({
  description:
    "Monthly spending limit in US dollars for usage billed to this key, within the owner's own; null for none",
});

export const createKeyBody = z.object({
  name: keyName,
  permissions: z.array(z.enum(PERMISSIONS)).min(1).optional(),
  expires_at: z.iso
    .datetime({ offset: true })
    .nullish()
    .meta({ description: "In the future; none for a key that never expires" }),
  budget_usd: keyBudget.optional(),
});

export const updateKeyBody = z
  .object({ name: keyName.optional(), budget_usd: keyBudget.optional() })
  .refine((v) => v.name !== undefined || v.budget_usd !== undefined, "give name, budget_usd or both")
  .meta({ anyOf: [{ required: ["name"] }, { required: ["budget_usd"] }] });

export const updateUserBody = z
  .object({ role: z.enum(ROLES).optional(), disabled: z.boolean().optional() })
  .refine((v) => v.role !== undefined || v.disabled !== undefined, "give role, disabled or both")
  .meta({ anyOf: [{ required: ["role"] }, { required: ["disabled"] }] });
