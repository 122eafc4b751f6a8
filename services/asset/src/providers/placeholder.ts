import { randomUUID } from "node:crypto";
import { placeholderGlb } from "../media/glb.ts";
import { PLACEHOLDER_NOTE } from "../media/label.ts";
import { MAX_SIDE, placeholderPng } from "../media/png.ts";
import { seedOf } from "../media/seed.ts";
import { placeholderSvg } from "../media/svg.ts";
import { clampSeconds, MAX_SECONDS, placeholderWav } from "../media/wav.ts";
import { CONTENT_TYPES } from "./task-http.ts";
import {
  ASSET_TYPES,
  type AssetProvider,
  type AssetSpec,
  type AssetType,
  type Capabilities,
  OUTPUT_KIND,
  ProviderError,
  QUALITIES,
  type ResultFile,
  type Task,
} from "./types.ts";

/**
 * An offline stand-in for every asset provider, so `make dev` makes real files with no keys and no network. It is
 * labelled in its id, its `offline` flag and inside every file (PNG tEXt, SVG text, GLB asset.extras, WAV ICMT).
 * Nothing is kept between calls: the task's state is the spec, and fetch draws the file from it again, byte for
 * byte the same, so a restarted service fetches a task it submitted before.
 */

const ID = "placeholder";
const IMAGE_FORMATS = ["png", "svg"] as const;
const DEFAULT_SIZE = { width: 1024, height: 1024 };
const THUMBNAIL_SIDE = 128;
const DEFAULT_SECONDS: Record<"music" | "sound", number> = { music: 10, sound: 2 };

const capabilities: Capabilities = {
  types: ASSET_TYPES,
  formats: {
    image: IMAGE_FORMATS,
    texture: IMAGE_FORMATS,
    sprite: IMAGE_FORMATS,
    model3d: ["glb"],
    music: ["wav"],
    sound: ["wav"],
  },
  // No sizes listed: any "WxH", drawn at most MAX_SIDE a side.
  maxDurationS: MAX_SECONDS,
  slow: false,
};

export const placeholderProvider: AssetProvider = {
  id: ID,
  offline: true,
  capabilities,

  estimateUsd: () => 0,

  async submit(spec, signal) {
    stopIfAborted(signal);
    const saved = plainSpec(spec);
    // Refused now rather than at fetch: a bad format or size is the request's fault, not a failed task's.
    formatOf(saved);
    if (OUTPUT_KIND[saved.type] === "image") sizeOf(saved.size);
    return { id: `${ID}-${randomUUID()}`, state: { spec: saved } };
  },

  async poll(task, signal) {
    stopIfAborted(signal);
    specOfState(task);
    return { status: "succeeded" };
  },

  async fetch(task, signal) {
    stopIfAborted(signal);
    return placeholderFiles(specOfState(task));
  },
};

/** The files for a spec: a pure function of it, which is what lets fetch rebuild them after a restart. */
export function placeholderFiles(spec: AssetSpec): ResultFile[] {
  const format = formatOf(spec);
  const seed = seedOf(spec.prompt, spec.style, spec.negativePrompt);
  const file = (bytes: Buffer, as: string): ResultFile => ({
    bytes,
    contentType: CONTENT_TYPES[as]!,
    format: as,
  });
  const kind = OUTPUT_KIND[spec.type];
  if (kind === "model3d") return [file(placeholderGlb({ seed, prompt: spec.prompt }), format)];
  if (kind === "audio") {
    const audio = spec.type === "music" ? "music" : "sound";
    const seconds = clampSeconds(spec.durationS ?? DEFAULT_SECONDS[audio]);
    return [file(placeholderWav({ seconds, seed, kind: audio, comment: PLACEHOLDER_NOTE }), format)];
  }
  const { width, height } = sizeOf(spec.size);
  const text = { Comment: PLACEHOLDER_NOTE, Software: "Gaia placeholder provider (offline)" };
  const main =
    format === "svg"
      ? Buffer.from(placeholderSvg({ width, height, seed, prompt: spec.prompt }), "utf8")
      : placeholderPng({ width, height, seed, text });
  const thumbnail = placeholderPng({ width: THUMBNAIL_SIDE, height: THUMBNAIL_SIDE, seed, text });
  return [file(main, format), file(thumbnail, "png")];
}

/** The format asked for (case aside), else the type's default; one the placeholder cannot make is refused. */
function formatOf(spec: AssetSpec): string {
  const formats = capabilities.formats[spec.type] ?? [];
  const format = spec.format?.toLowerCase() ?? formats[0];
  if (format === undefined || !formats.includes(format))
    throw refusal(`cannot make ${spec.format} for ${spec.type}; it makes ${formats.join(", ")}`);
  return format;
}

/** "WIDTHxHEIGHT", each side clamped to 1..MAX_SIDE; absent is the default; anything else is refused. */
export function sizeOf(size: string | undefined): { width: number; height: number } {
  if (size === undefined) return DEFAULT_SIZE;
  const match = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/i.exec(size);
  if (!match) throw refusal(`size ${JSON.stringify(size.slice(0, 40))} is not WIDTHxHEIGHT`);
  const side = (digits: string) => Math.min(MAX_SIDE, Math.max(1, Number(digits)));
  return { width: side(match[1]!), height: side(match[2]!) };
}

/** The spec as saved in a task: its known fields only, as plain JSON that survives the database unchanged. */
function plainSpec(spec: AssetSpec): AssetSpec {
  const out: AssetSpec = { type: spec.type, prompt: spec.prompt, quality: spec.quality };
  if (spec.style !== undefined) out.style = spec.style;
  if (spec.negativePrompt !== undefined) out.negativePrompt = spec.negativePrompt;
  if (spec.size !== undefined) out.size = spec.size;
  if (spec.durationS !== undefined) out.durationS = spec.durationS;
  if (spec.format !== undefined) out.format = spec.format;
  const checked = checkedSpec(out);
  if (!checked)
    throw refusal("the spec is not an asset spec (a type, a prompt, a quality; seconds a finite number)");
  return checked;
}

/** The spec back from a task's state, which came out of a database and is checked like any other input. */
function specOfState(task: Task): AssetSpec {
  return checkedSpec(task.state?.spec) ?? invalid(`task ${task.id} has no spec in its state to draw from`);
}

function checkedSpec(value: unknown): AssetSpec | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const optional = (key: string, type: "string" | "number") => v[key] === undefined || typeof v[key] === type;
  if (
    !ASSET_TYPES.includes(v.type as AssetType) ||
    typeof v.prompt !== "string" ||
    !QUALITIES.includes(v.quality as AssetSpec["quality"]) ||
    !optional("style", "string") ||
    !optional("negativePrompt", "string") ||
    !optional("size", "string") ||
    !optional("format", "string") ||
    !optional("durationS", "number") ||
    // NaN and Infinity would be saved as null and the task could not be fetched after a restart.
    (v.durationS !== undefined && !Number.isFinite(v.durationS))
  )
    return undefined;
  return v as unknown as AssetSpec;
}

function stopIfAborted(signal: AbortSignal): void {
  if (signal.aborted)
    throw new ProviderError(ID, "the request was cancelled", { retryable: true, charged: false });
}

function refusal(message: string): ProviderError {
  return new ProviderError(ID, message, { status: 400, retryable: false, charged: false });
}

function invalid(message: string): never {
  throw new ProviderError(ID, message, { retryable: false, charged: false });
}
