import { z } from "zod";

/** The asset service's public request bodies: asset parses them, the gateway publishes them in its OpenAPI document. */

const ASSET_TYPES = ["image", "texture", "sprite", "model3d", "music", "sound"] as const;
const text = (max: number) => z.string().trim().min(1).max(max).meta({ pattern: "\\S" });

export const MAX_PROMPT_CHARS = 4000;

export const generateBody = z
  .object({
    type: z.enum(ASSET_TYPES),
    prompt: text(MAX_PROMPT_CHARS),
    style: z.string().trim().max(200).optional(),
    negative_prompt: z.string().trim().max(2000).optional(),
    size: z
      .string()
      .regex(/^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$/, "WIDTHxHEIGHT, e.g. 1024x1024")
      .optional()
      .meta({ description: "Images: WIDTHxHEIGHT, e.g. 1024x1024" }),
    duration_s: z.number().min(0.1).max(600).optional().meta({ description: "Audio: seconds" }),
    format: z
      .string()
      .regex(/^[a-z0-9]{2,8}$/, "a file format such as png, webp, glb, fbx, wav or mp3")
      .optional(),
    quality: z.enum(["draft", "standard", "high"]).default("standard"),
    max_cost_usd: z.number().min(0).max(10_000).optional(),
    provider: z
      .string()
      .regex(/^[a-z0-9-]{2,32}$/)
      .optional()
      .meta({ description: "Only this provider" }),
    wait: z
      .boolean()
      .optional()
      .meta({ description: "Answer when done (quick work); default true for images" }),
    reuse: z.enum(["off", "offer", "prefer"]).default("offer"),
    visibility: z.enum(["private", "public"]).default("private"),
    webhook_url: z
      .url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
      .max(2000)
      .optional()
      .meta({ description: "Where the job's completed or failed event is delivered (Standard Webhooks)" }),
  })
  .strict();

export const pricingUpdateBody = z
  .object({
    provider: z.string().regex(/^[a-z0-9-]{2,32}$/),
    type: z.enum(ASSET_TYPES),
    quality: z.enum(["draft", "standard", "high"]),
    price_usd: z.number().min(0).max(10_000),
  })
  .strict();

export const listQuery = z.object({
  type: z.enum(ASSET_TYPES).optional(),
  status: z.enum(["queued", "running", "completed", "failed", "canceled"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});
