import { badAnswer, type CallContext, callJson, download, priced, str, trimBase } from "./task-http.ts";
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
 * Mubert AI Music API v3, the "public" directory a customer calls. The shape spoken here is the one in Mubert's
 * own OpenAPI document (https://music-api.mubert.com/swagger-doc, "Mubert AI Music API v3", version 3.0, as
 * mirrored in github.com/api-evangelist/mubert openapi/_original/mubert-music-api-openapi.yml) and the API docs
 * at https://mubert.com/api/docs:
 *
 * - Every call carries the headers `customer-id: <CUSTOMER_ID>` and `access-token: <ACCESS_TOKEN>` (the service
 *   directory's company-id/license-token pair is for managing customers, not used here).
 * - `POST {base}/api/v3/public/tracks` with `{prompt, duration, format: mp3 | wav, bitrate, intensity: low |
 *   medium | high, mode: "track"}` answers `{data: {id, session_id, duration, ..., generations: [...]}}`.
 * - `GET {base}/api/v3/public/tracks/{id}` answers `{data: {id, ..., generations: [{session_id, format,
 *   bitrate, status: processing | done | failed, url, generated_at, expired_at}]}}`; `url` is the file.
 * - Errors: 401 `{message: "Unauthenticated", code}`, 403 `{code: LicenseExpired | LicenseForbiddenDuration |
 *   ..., message}`, 404, 422.
 *
 * The key (MUBERT_API_KEY) is the pair `<customer-id>:<access-token>`. The prompt is the request's prompt with
 * its style (mood, genre) after it, cut to Mubert's 255 characters; the duration is spec.durationS (5 s at
 * least). There is no cancel in the public API. The saved Task is `{id: <track id>, state: {format, bitrate}}`.
 */

/** List price of one generated track (about a dime on Mubert's API plans), used when PriceOf has none. */
export const MUBERT_LIST_PRICE_USD = 0.1;

const FORMATS = ["mp3", "wav"] as const;
type MubertFormat = (typeof FORMATS)[number];
const CONTENT_TYPE: Record<MubertFormat, string> = { mp3: "audio/mpeg", wav: "audio/wav" };
const INTENSITY = { draft: "low", standard: "medium", high: "high" } as const;
const BITRATE = { draft: 128, standard: 192, high: 320 } as const;
const MAX_PROMPT = 255;
const MIN_DURATION_S = 5;
/** The longest track the API describes (its edit request: 5 to 3600 s); a licence may allow less. */
const MAX_DURATION_S = 3600;
const DEFAULT_DURATION_S = 60;

interface Generation {
  session_id?: string;
  format?: string;
  bitrate?: number;
  status?: string;
  url?: string | null;
}

interface TrackAnswer {
  data?: { id?: string; session_id?: string; generations?: Generation[] | null };
}

export class MubertProvider implements AssetProvider {
  readonly id = "mubert";
  readonly capabilities: Capabilities = {
    types: ["music"],
    formats: { music: FORMATS },
    maxDurationS: MAX_DURATION_S,
    slow: true,
  };
  private readonly base: string;
  private readonly customerId: string;
  private readonly accessToken: string;

  constructor(private readonly settings: ProviderSettings) {
    this.base = trimBase(settings.baseUrl ?? "https://music-api.mubert.com");
    const colon = settings.apiKey.indexOf(":");
    // A key without the pair still reaches Mubert, which refuses it (401): the error says so, not a crash here.
    this.customerId = colon > 0 ? settings.apiKey.slice(0, colon) : "";
    this.accessToken = colon > 0 ? settings.apiKey.slice(colon + 1) : settings.apiKey;
  }

  estimateUsd(spec: AssetSpec, price: PriceOf): number {
    return priced(price(this.id, spec.type, spec.quality), MUBERT_LIST_PRICE_USD);
  }

  async submit(spec: AssetSpec, signal: AbortSignal): Promise<Task> {
    const ctx = this.ctx(signal, true);
    if (spec.type !== "music") throw refused(this.id, `cannot make ${spec.type}`);
    const format = (spec.format ?? "mp3") as MubertFormat;
    if (!FORMATS.includes(format)) throw refused(this.id, `cannot deliver ${spec.format} (only mp3, wav)`);
    const style = spec.style?.trim();
    const prompt = (style ? `${spec.prompt.trim()}, ${style}` : spec.prompt.trim()).slice(0, MAX_PROMPT);
    const duration = Math.min(
      MAX_DURATION_S,
      Math.max(MIN_DURATION_S, Math.round(spec.durationS ?? DEFAULT_DURATION_S)),
    );
    const bitrate = BITRATE[spec.quality];
    const what = "creating the track";
    const answer = await callJson<TrackAnswer>(ctx, `${this.base}/api/v3/public/tracks`, {
      json: { prompt, duration, format, bitrate, intensity: INTENSITY[spec.quality], mode: "track" },
      headers: this.auth(),
      what,
    });
    const id = str(answer?.data?.id);
    if (!id) throw badAnswer(ctx, what, "no track id in the answer");
    return { id, state: { format, bitrate } };
  }

  async poll(task: Task, signal: AbortSignal): Promise<Progress> {
    const generation = await this.generation(task, this.ctx(signal));
    switch (generation?.status) {
      case "done":
        // Done without a link yet is not done for us: the next poll sees it.
        return str(generation.url) ? { status: "succeeded" } : { status: "running", progress: 99 };
      case "failed":
        return { status: "failed", error: "Mubert reported the track's generation failed" };
      default:
        return { status: "running" };
    }
  }

  async fetch(task: Task, signal: AbortSignal): Promise<ResultFile[]> {
    const ctx = this.ctx(signal);
    const generation = await this.generation(task, ctx);
    const url = str(generation?.url);
    if (generation?.status !== "done" || !url)
      throw new ProviderError(
        this.id,
        `nothing to fetch yet: the track is ${generation?.status ?? "pending"}`,
        {
          retryable: true,
          charged: true,
        },
      );
    const format = (FORMATS as readonly string[]).includes(generation.format ?? "")
      ? (generation.format as MubertFormat)
      : readFormat(task);
    // The link is Mubert's CDN, time-limited: it is fetched without the customer's token.
    const file = await download(ctx, url, `downloading the ${format} track`);
    return [{ bytes: file.bytes, contentType: CONTENT_TYPE[format], format }];
  }

  /** The track's generation in the format asked for (the first, if none matches). */
  private async generation(task: Task, ctx: CallContext): Promise<Generation | undefined> {
    const what = "reading the track";
    const answer = await callJson<TrackAnswer>(
      ctx,
      `${this.base}/api/v3/public/tracks/${encodeURIComponent(task.id)}`,
      {
        headers: this.auth(),
        what,
      },
    );
    if (!answer?.data) throw badAnswer(ctx, what, "no data");
    const generations = answer.data.generations ?? [];
    const format = readFormat(task);
    const bitrate = Number(task.state.bitrate);
    return (
      generations.find((g) => g.format === format && (!bitrate || g.bitrate === bitrate)) ??
      generations.find((g) => g.format === format) ??
      generations[0]
    );
  }

  private auth(): Record<string, string> {
    return { "customer-id": this.customerId, "access-token": this.accessToken };
  }

  private ctx(signal: AbortSignal, submitting = false): CallContext {
    return {
      provider: this.id,
      signal,
      timeoutMs: this.settings.timeoutMs,
      secrets: [this.settings.apiKey, this.accessToken, this.customerId],
      submitting,
    };
  }
}

function readFormat(task: Task): MubertFormat {
  return task.state.format === "wav" ? "wav" : "mp3";
}

function refused(provider: string, why: string): ProviderError {
  return new ProviderError(provider, why, { retryable: false, charged: false });
}
