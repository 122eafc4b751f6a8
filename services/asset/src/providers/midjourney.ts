import {
  absolute,
  badAnswer,
  type CallContext,
  callJson,
  download,
  imageFormat,
  priced,
  sameHost,
  str,
  trimBase,
} from "./task-http.ts";
import {
  type AssetProvider,
  type AssetSpec,
  type Capabilities,
  type PriceOf,
  type Progress,
  ProviderError,
  type ProviderSettings,
  type ResultFile,
  type Task,
} from "./types.ts";

/**
 * Midjourney has no official API. This adapter speaks the "Midjourney-compatible task API" of the widely used
 * proxy services, the shape of novicezk/midjourney-proxy (github.com/novicezk/midjourney-proxy: docs/api.md,
 * SubmitController, TaskController, ReturnCode, TaskStatus, ApiAuthorizeInterceptor), which its forks and the
 * hosted relays copy. Its base URL (MIDJOURNEY_BASE_URL) is that service's, with no default:
 *
 * - Every call carries `mj-api-secret: <key>` (the proxy answers 401 with no body otherwise).
 * - `POST {base}/mj/submit/imagine` with `{prompt}` answers `{code, description, result: "<task id>",
 *   properties}`: code 1 accepted, 22 accepted and queued, 21 the task already exists (its id in result),
 *   23 queue full (try later), 24 the prompt has a banned word, 3/4/9 and others refused.
 * - `GET {base}/mj/task/{id}/fetch` answers the task `{id, action, status: NOT_START | SUBMITTED | MODAL |
 *   IN_PROGRESS | SUCCESS | FAILURE | CANCEL, progress: "45%", imageUrl, failReason, ...}`, or an empty body for
 *   a task the proxy does not know.
 * - The image at imageUrl is the imagine's 2x2 grid, PNG (some proxies give WebP: the result says what the bytes
 *   are). Upscaling one tile would be a second paid task, so it is not done here.
 * - The open-source proxy has no cancel, so neither does this adapter.
 *
 * The prompt is the request's prompt, its style after it, `--no <negative prompt>`, `--ar W:H` from spec.size
 * and `--tile` for textures (Midjourney's seamless-pattern parameter). The saved Task is `{id: <task id>,
 * state: {}}`.
 */

/** List price of one imagine (about a twentieth of a dollar through the proxy services), used when PriceOf has none. */
export const MIDJOURNEY_LIST_PRICE_USD = 0.05;

const ACCEPTED = new Set([1, 21, 22]);

interface SubmitAnswer {
  code?: number;
  description?: string;
  result?: string | number | null;
}

interface MjTask {
  id?: string;
  status?: string;
  progress?: string | null;
  imageUrl?: string | null;
  failReason?: string | null;
}

export class MidjourneyProvider implements AssetProvider {
  readonly id = "midjourney";
  readonly capabilities: Capabilities = {
    types: ["image", "texture", "sprite"],
    formats: { image: ["png"], texture: ["png"], sprite: ["png"] },
    slow: true,
  };
  private readonly base: string;

  constructor(private readonly settings: ProviderSettings) {
    if (!settings.baseUrl) throw new Error("midjourney: a base URL (MIDJOURNEY_BASE_URL) is required");
    this.base = trimBase(settings.baseUrl);
  }

  estimateUsd(spec: AssetSpec, price: PriceOf): number {
    return priced(price(this.id, spec.type, spec.quality), MIDJOURNEY_LIST_PRICE_USD);
  }

  async submit(spec: AssetSpec, signal: AbortSignal): Promise<Task> {
    const ctx = this.ctx(signal, true);
    if (!this.capabilities.types.includes(spec.type)) throw refused(this.id, `cannot make ${spec.type}`);
    if (spec.format && spec.format !== "png")
      throw refused(this.id, `cannot deliver ${spec.format} (only png)`);
    const what = "submitting the imagine";
    const answer = await callJson<SubmitAnswer>(ctx, `${this.base}/mj/submit/imagine`, {
      json: { prompt: imaginePrompt(spec) },
      headers: this.auth(),
      what,
    });
    const code = Number(answer?.code);
    const id = answer?.result === null || answer?.result === undefined ? undefined : String(answer.result);
    if (ACCEPTED.has(code) && id) return { id, state: {} };
    if (ACCEPTED.has(code)) throw badAnswer(ctx, what, "no task id in the answer");
    const description = str(answer?.description) ?? "no description";
    throw new ProviderError(this.id, `${what}: refused with code ${code || "none"}: ${description}`, {
      // 23: the proxy's queue is full; the same request may pass later. The rest are refusals of the request.
      retryable: code === 23 || code === 9,
      charged: false,
    });
  }

  async poll(task: Task, signal: AbortSignal): Promise<Progress> {
    const current = await this.get(task, this.ctx(signal));
    if (!current)
      return { status: "failed", error: "the proxy does not know the task (it may have restarted)" };
    const progress = Number.parseInt(current.progress ?? "", 10);
    switch (current.status) {
      case "SUCCESS":
        return str(current.imageUrl) ? { status: "succeeded" } : { status: "running", progress: 99 };
      case "FAILURE":
        return { status: "failed", error: str(current.failReason) ?? "the imagine failed without a reason" };
      case "CANCEL":
        return { status: "failed", error: "the imagine was canceled" };
      default:
        return Number.isFinite(progress)
          ? { status: "running", progress: Math.max(0, Math.min(100, progress)) }
          : { status: "running" };
    }
  }

  async fetch(task: Task, signal: AbortSignal): Promise<ResultFile[]> {
    const ctx = this.ctx(signal);
    const current = await this.get(task, ctx);
    const imageUrl = str(current?.imageUrl);
    if (current?.status !== "SUCCESS" || !imageUrl)
      throw new ProviderError(this.id, `nothing to fetch yet: the task is ${current?.status ?? "unknown"}`, {
        retryable: true,
        charged: true,
      });
    const url = absolute(imageUrl, this.base);
    // The secret goes along only to the proxy itself (some serve the image), never to Discord's CDN.
    const file = await download(
      ctx,
      url,
      "downloading the image",
      sameHost(url, this.base) ? this.auth() : {},
    );
    const kind = imageFormat(file.bytes);
    if (!kind) throw badAnswer(ctx, "downloading the image", "not a PNG, WebP or JPEG", false);
    return [{ bytes: file.bytes, ...kind }];
  }

  private async get(task: Task, ctx: CallContext): Promise<MjTask | undefined> {
    const what = "reading the task";
    const answer = await callJson<MjTask | null>(
      ctx,
      `${this.base}/mj/task/${encodeURIComponent(task.id)}/fetch`,
      {
        headers: this.auth(),
        what,
      },
    );
    if (!answer) return undefined;
    if (typeof answer.status !== "string") throw badAnswer(ctx, what, "no status");
    return answer;
  }

  private auth(): Record<string, string> {
    return { "mj-api-secret": this.settings.apiKey };
  }

  private ctx(signal: AbortSignal, submitting = false): CallContext {
    return {
      provider: this.id,
      signal,
      timeoutMs: this.settings.timeoutMs,
      secrets: [this.settings.apiKey],
      submitting,
    };
  }
}

/** Midjourney parameters that take a value (`--ar 16:9`); the others are flags (`--tile`). */
const VALUED = new Set([
  ..."ar aspect no v version q quality s stylize c chaos seed sameseed".split(" "),
  ..."sref cref cw sw iw w weird stop r repeat niji p profile style".split(" "),
]);

/** The text with any Midjourney parameters the user typed taken out: ours would clash with them. */
function withoutParameters(text: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const name = words[i]!.match(/^--([a-z]+)$/i)?.[1]?.toLowerCase();
    if (!name) kept.push(words[i]!);
    else if (VALUED.has(name) && words[i + 1] && !words[i + 1]!.startsWith("--")) i++;
  }
  return kept.join(" ");
}

/** The imagine prompt: text first, then Midjourney's parameters. */
export function imaginePrompt(spec: AssetSpec): string {
  const text = spec.style?.trim() ? `${spec.prompt.trim()}, ${spec.style.trim()}` : spec.prompt.trim();
  const parts = [withoutParameters(text)];
  const negative = spec.negativePrompt?.trim() ? withoutParameters(spec.negativePrompt.trim()) : "";
  if (negative) parts.push(`--no ${negative}`);
  const ratio = aspectRatio(spec.size);
  if (ratio && ratio !== "1:1") parts.push(`--ar ${ratio}`);
  if (spec.type === "texture") parts.push("--tile");
  return parts.join(" ");
}

/** "1920x1080" → "16:9". */
export function aspectRatio(size: string | undefined): string | undefined {
  const match = size?.match(/^(\d+)x(\d+)$/);
  if (!match) return undefined;
  const w = Number(match[1]);
  const h = Number(match[2]);
  if (!w || !h) return undefined;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const d = gcd(w, h);
  return `${w / d}:${h / d}`;
}

function refused(provider: string, why: string): ProviderError {
  return new ProviderError(provider, why, { retryable: false, charged: false });
}
