import { randomUUID } from "node:crypto";
import { retryAfterMs } from "@gaia/kit";
import OpenAI from "openai";
import type { ImageGenerateParamsNonStreaming } from "openai/resources/images";
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
 * OpenAI's image API (`POST {base}/images/generations`) through the official SDK, and every server that speaks
 * it. The base URL follows the OPENAI_BASE_URL convention chat uses: it includes `/v1`.
 *
 * The image comes back in the answer to the one call, so submit() makes that call and keeps the image in the
 * task's state as base64 (`state.b64`): OpenAI keeps no copy to fetch later, and a task saved this way can be
 * fetched after a restart without calling OpenAI again. A 1024² PNG is one to three megabytes, a 1536×1024
 * high-quality one up to about four, so state is a few megabytes of base64 — more than a usual row, accepted
 * deliberately. A restart *during* submit (the call made, its answer never saved) cannot be recovered: the image
 * is paid for and lost, and a new submission is a new image.
 */

export const OPENAI_IMAGE_TYPES = ["image", "texture", "sprite"] as const satisfies readonly AssetType[];

/**
 * List prices per image in US dollars, as OpenAI published them in late 2025 (platform.openai.com/pricing):
 * gpt-image-1 by quality and size; DALL·E 3 by quality and size; DALL·E 2 by size. Other GPT image models are
 * estimated at gpt-image-1's prices; ProviderPricing overrides all of these.
 */
export const OPENAI_IMAGE_LIST_USD = {
  "gpt-image-1": {
    low: { square: 0.011, wide: 0.016 },
    medium: { square: 0.042, wide: 0.063 },
    high: { square: 0.167, wide: 0.25 },
  },
  "dall-e-3": {
    standard: { square: 0.04, wide: 0.08 },
    hd: { square: 0.08, wide: 0.12 },
  },
  "dall-e-2": { "256x256": 0.016, "512x512": 0.018, "1024x1024": 0.02 },
} as const;

type Family = "gpt-image" | "dall-e-3" | "dall-e-2";

const SIZES: Record<Family, readonly string[]> = {
  "gpt-image": ["1024x1024", "1536x1024", "1024x1536"],
  "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
  "dall-e-2": ["1024x1024", "512x512", "256x256"],
};

/** GPT image models deliver png, webp or jpeg; DALL·E delivers PNG only. */
const FORMATS: Record<Family, readonly string[]> = {
  "gpt-image": ["png", "webp", "jpeg"],
  "dall-e-3": ["png"],
  "dall-e-2": ["png"],
};

const GPT_QUALITY: Record<Quality, "low" | "medium" | "high"> = {
  draft: "low",
  standard: "medium",
  high: "high",
};
const DALLE3_QUALITY: Record<Quality, "standard" | "hd"> = {
  draft: "standard",
  standard: "standard",
  high: "hd",
};

export interface OpenAIImagesOptions {
  /** gpt-image-1 (default), another GPT image model, dall-e-3 or dall-e-2. */
  model?: string;
}

function familyOf(model: string): Family {
  if (model === "dall-e-3") return "dall-e-3";
  if (model === "dall-e-2") return "dall-e-2";
  return "gpt-image";
}

export class OpenAIImagesProvider implements AssetProvider {
  readonly id = "openai";
  readonly model: string;
  readonly capabilities: Capabilities;
  readonly #client: OpenAI;
  readonly #settings: ProviderSettings;
  readonly #family: Family;

  constructor(settings: ProviderSettings, options: OpenAIImagesOptions = {}) {
    this.#settings = settings;
    this.model = options.model ?? "gpt-image-1";
    this.#family = familyOf(this.model);
    const formats = FORMATS[this.#family];
    this.capabilities = {
      types: OPENAI_IMAGE_TYPES,
      formats: Object.fromEntries(OPENAI_IMAGE_TYPES.map((type) => [type, formats])),
      sizes: SIZES[this.#family],
      slow: false,
    };
    this.#client = new OpenAI({
      apiKey: settings.apiKey,
      baseURL: settings.baseUrl ?? "https://api.openai.com/v1",
      // Retries and fallback are the job's, so the SDK makes exactly one attempt.
      maxRetries: 0,
      timeout: settings.timeoutMs,
    });
  }

  estimateUsd(spec: AssetSpec, price: PriceOf): number {
    return price(this.id, spec.type, spec.quality) ?? this.listUsd(spec);
  }

  /** The list price of one image for this request, for when no ProviderPricing row says otherwise. */
  listUsd(spec: AssetSpec): number {
    const size = spec.size ?? "1024x1024";
    const shape = size === "1024x1024" ? "square" : "wide";
    if (this.#family === "dall-e-2") {
      return (
        OPENAI_IMAGE_LIST_USD["dall-e-2"][size as keyof (typeof OPENAI_IMAGE_LIST_USD)["dall-e-2"]] ?? 0.02
      );
    }
    if (this.#family === "dall-e-3")
      return OPENAI_IMAGE_LIST_USD["dall-e-3"][DALLE3_QUALITY[spec.quality]][shape];
    return OPENAI_IMAGE_LIST_USD["gpt-image-1"][GPT_QUALITY[spec.quality]][shape];
  }

  async submit(spec: AssetSpec, signal: AbortSignal): Promise<Task> {
    const params = this.#params(spec);
    const format = params.output_format ?? "png";
    const { signal: call, timedOut } = deadline(signal, this.#settings.timeoutMs);
    try {
      const response = await this.#client.images.generate(params, { signal: call });
      const image = response.data?.[0];
      let bytes: Buffer | undefined;
      if (image?.b64_json) bytes = Buffer.from(image.b64_json, "base64");
      else if (image?.url) bytes = await this.#download(image.url, call);
      if (!bytes?.length) {
        throw new ProviderError(this.id, "answered without an image", { retryable: false, charged: true });
      }
      return {
        id: response._request_id ?? `openai-image-${randomUUID()}`,
        state: {
          model: this.model,
          size: params.size,
          quality: params.quality,
          format: response.output_format ?? format,
          created: response.created,
          b64: bytes.toString("base64"),
        },
      };
    } catch (error) {
      throw this.#error(error, signal, timedOut());
    }
  }

  async poll(task: Task, _signal?: AbortSignal): Promise<Progress> {
    return typeof task.state.b64 === "string" && task.state.b64
      ? { status: "succeeded" }
      : { status: "failed", error: "openai: the image was not kept with the task" };
  }

  async fetch(task: Task, _signal?: AbortSignal): Promise<ResultFile[]> {
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

  #params(spec: AssetSpec): ImageGenerateParamsNonStreaming {
    const refuse = (message: string) =>
      new ProviderError(this.id, message, { retryable: false, charged: false });
    if (!(OPENAI_IMAGE_TYPES as readonly string[]).includes(spec.type)) {
      throw refuse(`does not make ${spec.type} assets`);
    }
    const size = spec.size ?? "1024x1024";
    const sizes = SIZES[this.#family];
    if (!sizes.includes(size)) throw refuse(`${this.model} makes ${sizes.join(", ")} images, not ${size}`);
    const formats = FORMATS[this.#family];
    const format = spec.format ?? formats[0] ?? "png";
    if (!formats.includes(format))
      throw refuse(`${this.model} delivers ${formats.join(", ")}, not ${format}`);

    const base = { model: this.model, prompt: promptOf(spec, this.#family), n: 1, size };
    if (this.#family === "gpt-image") {
      return {
        ...base,
        quality: GPT_QUALITY[spec.quality],
        output_format: format as "png" | "webp" | "jpeg",
        // A sprite is cut out: GPT image models can leave the background transparent in PNG and WebP.
        ...(spec.type === "sprite" && format !== "jpeg" ? { background: "transparent" as const } : {}),
      };
    }
    return {
      ...base,
      response_format: "b64_json",
      ...(this.#family === "dall-e-3" ? { quality: DALLE3_QUALITY[spec.quality] } : {}),
      ...(this.#family === "dall-e-3" && (spec.style === "vivid" || spec.style === "natural")
        ? { style: spec.style }
        : {}),
    };
  }

  /**
   * Models that answer with a URL (DALL·E, some compatible servers) are downloaded at once: the URL expires in an
   * hour. The image is made and paid for by then, so a failed download is charged.
   */
  async #download(url: string, signal: AbortSignal): Promise<Buffer> {
    try {
      const response = await fetch(url, { signal });
      if (!response.ok) throw new Error(`answered ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new ProviderError(
        this.id,
        `made the image but its URL could not be read: ${redact(message, this.#settings.apiKey)}`,
        { retryable: true, charged: true },
      );
    }
  }

  #error(error: unknown, signal: AbortSignal, timedOut: boolean): ProviderError {
    const { apiKey, timeoutMs } = this.#settings;
    return toOpenAIError(this.id, error, { signal, timedOut, apiKey, timeoutMs });
  }
}

/** The style and what to avoid have no parameters of their own (except DALL·E 3's vivid/natural): said in words. */
function promptOf(spec: AssetSpec, family: Family): string {
  const parts = [spec.prompt.trim()];
  const nativeStyle = family === "dall-e-3" && (spec.style === "vivid" || spec.style === "natural");
  if (spec.style && !nativeStyle) parts.push(`Style: ${spec.style}.`);
  if (spec.negativePrompt) parts.push(`Avoid: ${spec.negativePrompt}.`);
  return parts.join("\n");
}

/** A provider's message without the key, any `sk-…` token (OpenAI echoes a masked key on 401) or Bearer value. */
export function redact(message: string, apiKey: string): string {
  let text = message;
  if (apiKey) text = text.split(apiKey).join("[redacted]");
  text = text.replace(/\bsk-[A-Za-z0-9_*.-]+/g, "[redacted]").replace(/Bearer\s+\S+/gi, "Bearer [redacted]");
  text = text.replace(/\s+/g, " ").trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

const CONTENT_POLICY_CODES = new Set(["moderation_blocked", "content_policy_violation", "content_filter"]);
const QUOTA_CODES = new Set(["insufficient_quota", "billing_hard_limit_reached", "billing_not_active"]);

/**
 * The SDK's errors as ProviderErrors. 401/403: the key is wrong or lacks access (not retryable); 429: rate limited
 * (retryable after Retry-After) unless the account is out of quota; 400 for the content policy: refused for good;
 * 408/409/5xx, timeouts and broken connections: retryable. None of these cost money by OpenAI's billing, which
 * charges for images delivered.
 */
export function toOpenAIError(
  provider: string,
  error: unknown,
  context: { signal: AbortSignal; timedOut: boolean; apiKey: string; timeoutMs: number },
): ProviderError {
  if (error instanceof ProviderError) return error;
  const clean = (message: string) => redact(message, context.apiKey);
  if (context.signal.aborted) {
    return new ProviderError(provider, "the request was cancelled", { retryable: false, charged: false });
  }
  if (context.timedOut || error instanceof OpenAI.APIConnectionTimeoutError) {
    // It may be making the image (and billing it): not asked again, nor anyone else for the same request.
    return new ProviderError(provider, `did not answer within ${context.timeoutMs} ms`, {
      retryable: false,
      charged: true,
    });
  }
  if (error instanceof OpenAI.APIError && typeof error.status === "number") {
    const status = error.status;
    const body = (error.error ?? {}) as { message?: unknown; code?: unknown; type?: unknown };
    const code = String(error.code ?? body.code ?? "");
    const type = String(error.type ?? body.type ?? "");
    const detail = clean(typeof body.message === "string" ? body.message : error.message);
    const fail = (message: string, retryable: boolean, extra: { retryAfterMs?: number } = {}) =>
      new ProviderError(provider, message, { status, retryable, charged: false, ...extra });
    if (status === 401 || status === 403) return fail(`authentication failed (${status}): ${detail}`, false);
    if (QUOTA_CODES.has(code) || QUOTA_CODES.has(type))
      return fail(`out of quota (${status}): ${detail}`, false);
    if (status === 429) {
      return fail(`rate limited (429): ${detail}`, true, {
        retryAfterMs: retryAfterMs(error.headers) ?? 1000,
      });
    }
    if (CONTENT_POLICY_CODES.has(code) || type === "image_generation_user_error") {
      return fail(`refused by the content policy (${status}): ${detail}`, false);
    }
    if (status === 408 || status === 409 || status >= 500) return fail(`failed (${status}): ${detail}`, true);
    return fail(`refused the request (${status}): ${detail}`, false);
  }
  const message = error instanceof Error ? error.message : String(error);
  const safe = neverSent(error);
  return new ProviderError(
    provider,
    `${safe ? "is unreachable" : "broke off its answer"}: ${clean(message)}`,
    {
      retryable: safe,
      charged: !safe,
    },
  );
}
