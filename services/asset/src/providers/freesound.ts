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
 * Freesound APIv2 (https://freesound.org/docs/api/resources_apiv2.html, .../authentication.html): a library of
 * recorded sounds, searched rather than generated, so nothing is created at Freesound and nothing is paid.
 *
 * - Token authentication: `Authorization: Token <key>` on every request (the key never goes in a URL).
 * - `GET {base}/apiv2/search/?query=...&filter=duration:[0 TO <s>]&fields=id,name,license,username,previews,
 *   duration,url&page_size=15` answers `{count, next, previous, results: [{id, name, license, username,
 *   previews: {"preview-hq-mp3", ...}, duration, url}]}`. `/apiv2/search/` is the current name of the text
 *   search; `/apiv2/search/text/` is kept by Freesound for backwards compatibility and answers the same.
 * - Terms in `query` are all mandatory, so a long prompt is searched as its keywords, then fewer of them when
 *   nothing matches.
 * - The original file (`/apiv2/sounds/<id>/download/`) needs OAuth2, a user's login: the result is the sound's
 *   HQ MP3 preview (`previews["preview-hq-mp3"]`, about 128 kbit/s), fetched with the token when it is served
 *   by Freesound itself.
 * - `license` is the deed URL of the sound's Creative Commons licence: stored as the result's licence, with the
 *   attribution "<name> by <username> (freesound.org/s/<id>)" that the BY licences ask for.
 * - Errors answer `{detail}` with 400, 401, 404, 429 (throttled) or 5xx.
 *
 * submit() runs the search and keeps the chosen sound in the Task: `{id: <sound id>, state: {name, username,
 * license, url, preview, duration}}`; poll() is done at once and fetch() downloads the preview from that state.
 */

/** Freesound's API is free (it needs a key). */
export const FREESOUND_LIST_PRICE_USD = 0;

const FIELDS = "id,name,license,username,previews,duration,url";
const PAGE_SIZE = 15;
const STOP_WORDS = new Set(
  (
    "a an and the of for to in on at by with from into onto over under as is are be was it its this that " +
    "some sound sounds effect effects sfx like very"
  ).split(" "),
);

interface FreesoundSound {
  id?: number;
  name?: string;
  license?: string;
  username?: string;
  previews?: Partial<Record<string, string>>;
  duration?: number;
  url?: string;
}

interface SearchAnswer {
  count?: number;
  results?: (FreesoundSound | null)[];
}

export class FreesoundProvider implements AssetProvider {
  readonly id = "freesound";
  readonly capabilities: Capabilities = { types: ["sound"], formats: { sound: ["mp3"] }, slow: false };
  private readonly base: string;

  constructor(private readonly settings: ProviderSettings) {
    this.base = trimBase(settings.baseUrl ?? "https://freesound.org");
  }

  estimateUsd(spec: AssetSpec, price: PriceOf): number {
    return priced(price(this.id, spec.type, spec.quality), FREESOUND_LIST_PRICE_USD);
  }

  async submit(spec: AssetSpec, signal: AbortSignal): Promise<Task> {
    const ctx = this.ctx(signal);
    if (spec.type !== "sound") throw refused(this.id, `cannot find ${spec.type}`);
    if (spec.format && spec.format !== "mp3")
      throw refused(this.id, `cannot deliver ${spec.format} (only mp3)`);
    const maxS = spec.durationS && spec.durationS > 0 ? spec.durationS : undefined;
    for (const query of queries(spec.prompt)) {
      const sound = await this.search(ctx, query, maxS);
      if (sound) {
        const state = {
          name: sound.name ?? `sound ${sound.id}`,
          username: sound.username ?? "unknown",
          license: sound.license ?? "",
          url: sound.url ?? `https://freesound.org/s/${sound.id}/`,
          preview: sound.previews?.["preview-hq-mp3"] as string,
          duration: sound.duration ?? null,
        };
        return { id: String(sound.id), state };
      }
    }
    throw new ProviderError(
      this.id,
      `no sound matches "${spec.prompt.slice(0, 80)}"${maxS ? ` within ${maxS} s` : ""}`,
      { status: 404, retryable: false, charged: false },
    );
  }

  async poll(_task: Task, _signal: AbortSignal): Promise<Progress> {
    return { status: "succeeded" };
  }

  async fetch(task: Task, signal: AbortSignal): Promise<ResultFile[]> {
    const ctx = this.ctx(signal);
    const preview = str(task.state.preview);
    if (!preview)
      throw new ProviderError(this.id, "the saved task has no preview link", {
        retryable: false,
        charged: false,
      });
    const file = await download(ctx, preview, "downloading the HQ preview", this.keyFor(preview));
    const name = str(task.state.name) ?? `sound ${task.id}`;
    const username = str(task.state.username) ?? "unknown";
    const licenceUrl = str(task.state.license);
    return [
      {
        bytes: file.bytes,
        contentType: "audio/mpeg",
        format: "mp3",
        licence: {
          name: licenceName(licenceUrl),
          url: licenceUrl,
          attribution: `${name} by ${username} (freesound.org/s/${task.id})`,
          source: str(task.state.url) ?? `https://freesound.org/s/${task.id}/`,
        },
      },
    ];
  }

  /** The best-ranked sound within the duration, or none. */
  private async search(ctx: CallContext, query: string, maxS: number | undefined) {
    const params = new URLSearchParams({ query, fields: FIELDS, page_size: String(PAGE_SIZE) });
    if (maxS) params.set("filter", `duration:[0 TO ${maxS}]`);
    const what = "searching sounds";
    const answer = await callJson<SearchAnswer>(ctx, `${this.base}/apiv2/search/?${params}`, {
      headers: this.auth(),
      what,
    });
    if (!answer || !Array.isArray(answer.results)) throw badAnswer(ctx, what, "no results list", true);
    // Results come best first; the filter already bounds the duration, the check keeps a server that ignores it.
    return answer.results.find(
      (s): s is FreesoundSound & { id: number } =>
        !!s &&
        typeof s.id === "number" &&
        !!str(s.previews?.["preview-hq-mp3"]) &&
        (maxS === undefined || (typeof s.duration === "number" && s.duration <= maxS)),
    );
  }

  /** The token goes only to Freesound's own hosts (the API and its CDN), never to a third party. */
  private keyFor(url: string): Record<string, string> {
    try {
      const host = new URL(url).hostname;
      const own = new URL(this.base).hostname;
      if (host === own || host === "freesound.org" || host.endsWith(".freesound.org")) return this.auth();
    } catch {
      // not a URL: download() reports it
    }
    return {};
  }

  private auth(): Record<string, string> {
    return { authorization: `Token ${this.settings.apiKey}` };
  }

  private ctx(signal: AbortSignal): CallContext {
    return {
      provider: this.id,
      signal,
      timeoutMs: this.settings.timeoutMs,
      secrets: [this.settings.apiKey],
      free: true,
    };
  }
}

/** The prompt's keywords, then fewer of them: Freesound requires every query term to match. */
export function queries(prompt: string): string[] {
  const words = prompt
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]+/gu, " ")
    .split(/\s+/)
    .filter((w) => w && !STOP_WORDS.has(w));
  const unique = [...new Set(words)];
  if (unique.length === 0) return [prompt.trim()];
  return [...new Set([unique.slice(0, 8), unique.slice(0, 3), unique.slice(0, 1)].map((w) => w.join(" ")))];
}

/** A Creative Commons deed URL as a short name: CC0 1.0, CC-BY 4.0, CC-BY-NC 3.0, Sampling+ 1.0. */
export function licenceName(url: string | undefined): string {
  if (!url) return "unknown";
  const version = url.match(/\/(\d+\.\d+)\/?$/)?.[1];
  const withVersion = (name: string) => (version ? `${name} ${version}` : name);
  if (/\/publicdomain\/zero\//i.test(url)) return withVersion("CC0");
  const code = url.match(/\/licenses\/([a-z+-]+)\//i)?.[1]?.toLowerCase();
  if (code === "sampling+") return withVersion("Sampling+");
  if (code) return withVersion(`CC-${code.toUpperCase()}`);
  return url;
}

function refused(provider: string, why: string): ProviderError {
  return new ProviderError(provider, why, { retryable: false, charged: false });
}
