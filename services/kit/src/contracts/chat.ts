import { z } from "zod";

/**
 * Chat's public request bodies: chat parses them, the gateway publishes them in its OpenAPI document.
 * `.meta` adds to the published schema what a refinement or a trim checks but JSON Schema cannot say by itself.
 */

/** Text with at least one character that is not a space (it is trimmed before its length is checked). */
const text = (max: number) => z.string().trim().min(1).max(max).meta({ pattern: "\\S" });

/** A request field that may be absent, null or empty, all meaning "not given". */
export const optionalId = z
  .string()
  .trim()
  .max(200)
  .nullish()
  .transform((v) => v || null);

export const chatBody = z.object({
  // A message of spaces only is refused by chat (400) once parsed.
  message: z.string().max(200_000).meta({ pattern: "\\S" }),
  conversation_id: optionalId,
  persona_id: optionalId,
  model: optionalId.meta({ description: "A model of GET /api/v1/models; the default when not given" }),
  stream: z.boolean().default(false),
});

export const createConversationBody = z.object({ title: text(200).optional(), persona_id: optionalId });
export const updateConversationBody = z
  .object({ title: text(200).optional(), persona_id: optionalId.optional() })
  .refine((b) => b.title !== undefined || b.persona_id !== undefined, "give a title or a persona_id")
  .meta({ anyOf: [{ required: ["title"] }, { required: ["persona_id"] }] });
export const addMessageBody = z.object({
  role: z.enum(["user", "assistant", "system"]),
  content: z.string().min(1).max(200_000),
});

export const createPersonaBody = z.object({
  name: text(100),
  description: z.string().max(2000).default(""),
  system_prompt: text(50_000),
  /** Admins may add built-in personas, visible to every user. */
  builtin: z.boolean().default(false),
});
export const selectPersonaBody = z.object({
  persona_id: text(200).meta({ description: "A persona of GET /api/v0.2/personas" }),
});
export const updatePersonaBody = z
  .object({
    name: text(100).optional(),
    description: z.string().max(2000).optional(),
    system_prompt: text(50_000).optional(),
  })
  .refine(
    (b) => Object.values(b).some((v) => v !== undefined),
    "give at least one of name, description, system_prompt",
  )
  .meta({ anyOf: [{ required: ["name"] }, { required: ["description"] }, { required: ["system_prompt"] }] });

const textPart = z.object({ type: z.literal("text"), text: z.string() });
export type TextPart = z.infer<typeof textPart>;
const content = z
  .union([
    z.string(),
    z.array(
      z.union([
        textPart,
        // Parsed only to name the unsupported type in the error, never accepted: published as matching nothing.
        z
          .object({ type: z.string().refine((type) => type !== "text") })
          .loose()
          .meta({ not: {} }),
      ]),
    ),
  ])
  .nullish()
  .transform((value, ctx) => {
    if (value == null || typeof value === "string") return value ?? "";
    const parts: string[] = [];
    for (const part of value) {
      if (part.type !== "text") {
        ctx.addIssue({
          code: "custom",
          message: `content parts of type "${part.type}" are not supported; send text`,
        });
        return z.NEVER;
      }
      parts.push((part as TextPart).text);
    }
    return parts.join("");
  });

const toolCall = z.object({
  id: z.string(),
  type: z.literal("function").default("function"),
  function: z.object({ name: z.string(), arguments: z.string().default("") }),
});

const message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content }),
  z.object({ role: z.literal("developer"), content }),
  z.object({ role: z.literal("user"), content }),
  z.object({ role: z.literal("assistant"), content, tool_calls: z.array(toolCall).optional() }),
  z.object({ role: z.literal("tool"), content, tool_call_id: z.string() }),
]);

/** OpenAI's chat.completions request, as far as Gaia honours it. */
export const completionRequest = z.object({
  model: z
    .string()
    .default("")
    .meta({ description: "A model of GET /api/v1/models; the default when empty" }),
  messages: z.array(message).min(1),
  stream: z.boolean().default(false),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  tools: z
    .array(
      z.object({
        type: z.literal("function"),
        function: z.object({
          name: z.string().min(1),
          description: z.string().default(""),
          parameters: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
        }),
      }),
    )
    .optional(),
  tool_choice: z
    .union([
      z.enum(["auto", "none", "required"]),
      z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
    ])
    .optional(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  n: z.literal(1).nullish(),
});
