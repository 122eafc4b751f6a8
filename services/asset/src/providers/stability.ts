import { randomUUID } from "node:crypto";
// Helpers every HTTP image adapter needs; they live with the OpenAI adapter until a shared module exists.
import { retryAfterMs } from "@gaia/kit";
import { redact } from "./openai-images.ts";
import { CONTENT_TYPES, deadline, neverSent, sniffFormat } from "./task-http.ts";
import {
  type AssetProvider,
  type AssetSpec,
  type AssetType,
  type Capabilities,
  type PriceOf,
  type Progress,
  ProviderError,
  type ProviderSettings,
  type Quality,
  type ResultFile,
  type Task,
} from "./types.ts";

/**
 * Stability AI's Stable Image generate endpoints (REST v2beta): `POST {base}/v2beta/stable-image/generate/{engine}`
 * with a multipart form, `authorization: Bearer <key>` and `accept: image/*`, answered with the image's bytes and
 * `finish-reason` / `seed` headers. The engine follows the quality: draft → core, standard → sd3 (SD 3.5 Large),
 * high → ultra. SD 3.5 delivers PNG or JPEG only, so a standard WebP request goes to core.
 *
 * The answer is the image, so submit() makes the one call and keeps the image in the task's state as base64,
 * as the OpenAI adapter does (a few megabytes at most): fetch() after a restart needs no second call.
 * A result Stability's filter withheld (finish-reason CONTENT_FILTERED, a blurred image, still billed) is kept as
 * a task whose poll says failed; its blurred bytes are not kept.
 */

export const STABILITY_IMAGE_TYPES = ["image", "texture", "sprite"] as const satisfies readonly AssetType[];

export type StabilityEngine = "core" | "sd3" | "ultra";

/**
 * List prices per image in US dollars, late 2025 (platform.stability.ai/pricing: credits at $0.01 each): Stable
 * Image Core 3 credits, SD 3.5 Large 6.5, Stable Image Ultra 8. ProviderPricing overrides these.
 */
export const STABILITY_LIST_USD: Record<StabilityEngine, number> = { core: 0.03, sd3: 0.065, ultra: 0.08 };

const ENGINE: Record<Quality, StabilityEngine> = { draft: "core", standard: "sd3", high: "ultra" };

/** The SD 3.5 model asked of the sd3 engine (its default, named so the price is the one above). */
export const SD3_MODEL = "sd3.5-large";

const FORMATS = ["png", "jpeg", "webp"] as const;
const SD3_FORMATS: readonly string[] = ["png", "jpeg"];

/** The aspect ratios the generate endpoints accept. */
export const ASPECT_RATIOS = ["21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21"] as const;

/** Stability's style presets. */
export const STYLE_PRESETS = [
  "3d-model",
  "analog-film",
  "anime",
  "cinematic",
  "comic-book",
  "digital-art",
  "enhance",
  "fantasy-art",
  "isometric",
  "line-art",
  "low-poly",
  "modeling-compound",
  "neon-punk",
  "origami",
  "photographic",
  "pixel-art",
  "tile-texture",
] as const;

/** The engine a request goes to. */
export function engineFor(spec: Pick<AssetSpec, "quality" | "format">): StabilityEngine {
  const engine = ENGINE[spec.quality];
  return engine === "sd3" && spec.format && !SD3_FORMATS.includes(spec.format) ? "core" : engine;
}

/** The accepted aspect ratio nearest to a "WIDTHxHEIGHT" size (by the logarithm of the ratio); 1:1 when absent. */
export function aspectRatioFor(size: string | undefined): (typeof ASPECT_RATIOS)[number] {
  const match = size?.match(/^(\d+)\s*[x×:]\s*(\d+)$/i);
  if (!match) return "1:1";
  const wanted = Math.log(Number(match[1]) / Number(match[2]));
  if (!Number.isFinite(wanted)) return "1:1";
  let best: (typeof ASPECT_RATIOS)[number] = "1:1";
  let distance = Number.POSITIVE_INFINITY;
  for (const ratio of ASPECT_RATIOS) {
    const [w, h] = ratio.split(":").map(Number) as [number, number];
    const d = Math.abs(Math.log(w / h) - wanted);
    if (d < distance) {
      best = ratio;
      distance = d;
    }
  }
  return best;
}

/** spec.style as a preset when it names one ("Pixel Art", "pixel_art" and "pixel-art" all do). */
export function stylePresetFor(style: string | undefined): (typeof STYLE_PRESETS)[number] | undefined {
  const name = style
    ?.trim()
    .toLowerCase()
    .replace(/[\s_]+/g, "-");
  return STYLE_PRESETS.find((preset) => preset === name);
}

export class StabilityProvider implements AssetProvider {
  readonly id = "stability";
  readonly capabilities: Capabilities = {
    types: STABILITY_IMAGE_TYPES,
    formats: Object.fromEntries(STABILITY_IMAGE_TYPES.map((type) => [type, FORMATS])),
    // Any size: it is mapped to the nearest aspect ratio, and the engines render about one megapixel.
    slow: false,
  };
  readonly #settings: ProviderSettings;
  readonly #base: string;

  constructor(settings: ProviderSettings) {
    this.#settings = settings;
    this.#base = (settings.baseUrl ?? "https://api.stability.ai").replace(/\/+$/, "");
  }

  estimateUsd(spec: AssetSpec, price: PriceOf): number {
    return price(this.id, spec.type, spec.quality) ?? STABILITY_LIST_USD[engineFor(spec)];
  }

  async submit(spec: AssetSpec, signal: AbortSignal): Promise<Task> {
    if (!(STABILITY_IMAGE_TYPES as readonly string[]).includes(spec.type)) {
      throw new ProviderError(this.id, `does not make ${spec.type} assets`, {
        retryable: false,
        charged: false,
      });
    }
    const format = spec.format ?? "png";
    if (!(FORMATS as readonly string[]).includes(format)) {
      throw new ProviderError(this.id, `delivers ${FORMATS.join(", ")}, not ${format}`, {
        retryable: false,
        charged: false,
      });
    }
    const engine = engineFor({ quality: spec.quality, format });
    const form = formFor(spec, engine, format);
    const { signal: call, timedOut } = deadline(signal, this.#settings.timeoutMs);
    let response: Response;
    let bytes: Buffer;
    try {
      response = await fetch(`${this.#base}/v2beta/stable-image/generate/${engine}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.#settings.apiKey}`,
          accept: "image/*",
          "stability-client-id": "gaia-asset",
        },
        body: form,
        signal: call,
      });
      if (!response.ok) throw await this.#httpError(response);
      bytes = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      throw this.#error(error, signal, timedOut());
    }
    const finishReason = response.headers.get("finish-reason") ?? "SUCCESS";
    const seed = response.headers.get("seed") ?? undefined;
    const id = response.headers.get("x-request-id") ?? `stability-${randomUUID()}`;
    if (finishReason === "CONTENT_FILTERED") {
      return { id, state: { engine, format, finishReason, seed } };
    }
    if (!bytes.length) {
      throw new ProviderError(this.id, `answered without an image (finish-reason ${finishReason})`, {
        status: response.status,
        retryable: false,
        charged: true,
      });
    }
    const delivered = sniffFormat(bytes) ?? formatOf(response.headers.get("content-type")) ?? format;
    return { id, state: { engine, format: delivered, finishReason, seed, b64: bytes.toString("base64") } };
  }

  async poll(task: Task, _signal?: AbortSignal): Promise<Progress> {
    if (task.state.finishReason === "CONTENT_FILTERED") {
      return { status: "failed", error: "stability: the image was withheld by Stability's content filter" };
    }
    return typeof task.state.b64 === "string" && task.state.b64
      ? { status: "succeeded" }
      : { status: "failed", error: "stability: the image was not kept with the task" };
  }

  async fetch(task: Task, _signal?: AbortSignal): Promise<ResultFile[]> {
    if (task.state.finishReason === "CONTENT_FILTERED") {
      throw new ProviderError(
        this.id,
        "the image was withheld by Stability's content filter (CONTENT_FILTERED)",
        {
          retryable: false,
          charged: true,
        },
      );
    }
    const b64 = task.state.b64;
    if (typeof b64 !== "string" || !b64) {
      throw new ProviderError(this.id, "the image was not kept with the task", {
        retryable: false,
        charged: true,
      });
    }
    const bytes = Buffer.from(b64, "base64");
    const format = sniffFormat(bytes) ?? (typeof task.state.format === "string" ? task.state.format : "png");
    return [{ bytes, format, contentType: CONTENT_TYPES[format] ?? "application/octet-stream" }];
  }

  /** Stability's error answer, `{id, name, errors: [...]}`, as a ProviderError. */
  async #httpError(response: Response): Promise<ProviderError> {
    const status = response.status;
    const text = await response.text().catch(() => "");
    let name = "";
    let detail = text;
    try {
      const body = JSON.parse(text) as { name?: unknown; errors?: unknown; message?: unknown };
      name = typeof body.name === "string" ? body.name : "";
      if (Array.isArray(body.errors)) detail = body.errors.map(String).join("; ");
      else if (typeof body.message === "string") detail = body.message;
    } catch {
      // Not JSON (a proxy's page): the text itself.
    }
    detail = redact(detail || response.statusText || "no detail", this.#settings.apiKey);
    const said = name ? `${name}: ${detail}` : detail;
    const fail = (message: string, retryable: boolean, extra: { retryAfterMs?: number } = {}) =>
      new ProviderError(this.id, message, { status, retryable, charged: false, ...extra });
    if (status === 401) return fail(`authentication failed (401): ${said}`, false);
    if (status === 403 && name === "content_moderation") {
      return fail(`refused by content moderation (403): ${said}`, false);
    }
    if (status === 403) return fail(`forbidden (403): ${said}`, false);
    if (status === 402) return fail(`out of credits (402): ${said}`, false);
    if (status === 429) {
      // Stability blocks a client that exceeded 150 requests in 10 s for 60 s and may not say so in a header.
      return fail(`rate limited (429): ${said}`, true, {
        retryAfterMs: retryAfterMs(response.headers) ?? 60_000,
      });
    }
    if (status === 408 || status >= 500) return fail(`failed (${status}): ${said}`, true);
    return fail(`refused the request (${status}): ${said}`, false);
  }

  #error(error: unknown, signal: AbortSignal, timedOut: boolean): ProviderError {
    if (error instanceof ProviderError) return error;
    if (signal.aborted) {
      return new ProviderError(this.id, "the request was cancelled", { retryable: false, charged: false });
    }
    if (timedOut) {
      // It may be making the image (and billing it): not asked again, nor anyone else for the same request.
      return new ProviderError(this.id, `did not answer within ${this.#settings.timeoutMs} ms`, {
        retryable: false,
        charged: true,
      });
    }
    const cause = (error as { cause?: { message?: unknown } })?.cause?.message;
    const message = `${error instanceof Error ? error.message : String(error)}${typeof cause === "string" ? ` (${cause})` : ""}`;
    const safe = neverSent(error);
    return new ProviderError(
      this.id,
      `${safe ? "is unreachable" : "broke off its answer"}: ${redact(message, this.#settings.apiKey)}`,
      {
        retryable: safe,
        charged: !safe,
      },
    );
  }
}

/** The multipart form of one request. */
function formFor(spec: AssetSpec, engine: StabilityEngine, format: string): FormData {
  const preset =
    stylePresetFor(spec.style) ?? (spec.type === "texture" && !spec.style ? "tile-texture" : undefined);
  // A style that is not a preset is said in the prompt (on one line: multipart turns a newline into CRLF).
  let prompt = spec.prompt.trim();
  if (spec.style && !stylePresetFor(spec.style)) {
    prompt = `${prompt}${/[.!?]$/.test(prompt) ? "" : "."} Style: ${spec.style.trim()}.`;
  }
  const form = new FormData();
  form.set("prompt", prompt);
  form.set("output_format", format);
  form.set("aspect_ratio", aspectRatioFor(spec.size));
  if (spec.negativePrompt) form.set("negative_prompt", spec.negativePrompt);
  if (preset) form.set("style_preset", preset);
  if (engine === "sd3") form.set("model", SD3_MODEL);
  return form;
}

function formatOf(contentType: string | null): string | undefined {
  const type = contentType?.split(";")[0]?.trim();
  return Object.entries(CONTENT_TYPES).find(([, value]) => value === type)?.[0];
}
