import { IDENTITY_HEADER, type PlatformEnv, serviceUrl } from "@gaia/kit";
import type { ToolCall, ToolSpec } from "./types.ts";

/**
 * The knowledge base as tools the model may call. Calls go to the KB service's HTTP API with the caller's own
 * identity, so the model sees exactly what the user may read. When the KB is absent or failing, the tool
 * result says so and the model answers without it.
 */
export const KB_TOOLS: ToolSpec[] = [
  {
    name: "kb_search",
    description:
      "Search the user's knowledge base (markdown notes, world lore, game design documents). Answers matching files with excerpts.",
    parameters: {
      type: "object",
      properties: { query: { type: "string", description: "Words or a phrase to search for" } },
      required: ["query"],
    },
  },
  {
    name: "kb_read",
    description: "Read one file of the user's knowledge base by its path, as kb_search answers it.",
    parameters: {
      type: "object",
      properties: { path: { type: "string", description: "Path of the file inside the knowledge base" } },
      required: ["path"],
    },
  },
];

const ENDPOINTS: Record<string, { path: string; field: "query" | "path" }> = {
  kb_search: { path: "/api/v0.2/kb/search", field: "query" },
  kb_read: { path: "/api/v0.2/kb/read", field: "path" },
};

/** A tool result is text in the next prompt; a whole book would crowd out the conversation. */
const MAX_RESULT_CHARS = 16_000;
const KB_TIMEOUT_MS = 10_000;

export interface ToolOutcome {
  ok: boolean;
  content: string;
}

function parseArguments(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text || "{}");
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

export class KbTools {
  readonly #env: PlatformEnv;

  constructor(env: PlatformEnv) {
    this.#env = env;
  }

  handles(name: string): boolean {
    return Object.hasOwn(ENDPOINTS, name);
  }

  /** Run one tool call for the caller whose identity token is given. Never throws: failures are results. */
  async run(call: ToolCall, identityToken: string, signal: AbortSignal): Promise<ToolOutcome> {
    const endpoint = ENDPOINTS[call.name];
    if (!endpoint) return { ok: false, content: JSON.stringify({ error: `Unknown tool ${call.name}` }) };
    const args = parseArguments(call.arguments);
    const value = args?.[endpoint.field];
    if (typeof value !== "string" || !value.trim()) {
      return {
        ok: false,
        content: JSON.stringify({ error: `${call.name} needs a "${endpoint.field}" string` }),
      };
    }
    // Resolved per call: the KB may be started (or moved) after chat.
    const url = `${serviceUrl(this.#env, "kb")}${endpoint.path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", [IDENTITY_HEADER]: identityToken },
        body: JSON.stringify({ [endpoint.field]: value }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(KB_TIMEOUT_MS)]),
      });
    } catch (error) {
      if (signal.aborted) throw error;
      return unavailable(`it did not answer (${(error as Error).message})`);
    }
    const text = await response.text().catch(() => "");
    if (response.ok) return { ok: true, content: text.slice(0, MAX_RESULT_CHARS) };
    if (response.status === 401 || response.status === 403) {
      return {
        ok: false,
        content: JSON.stringify({ error: "The user may not read this part of the knowledge base" }),
      };
    }
    if (response.status === 404 && call.name === "kb_read") {
      return { ok: false, content: JSON.stringify({ error: `No file at ${value}` }) };
    }
    return unavailable(`it answered ${response.status}`);
  }
}

function unavailable(reason: string): ToolOutcome {
  return {
    ok: false,
    content: JSON.stringify({
      error: `The knowledge base is unavailable right now: ${reason}. Answer without it and tell the user.`,
    }),
  };
}
