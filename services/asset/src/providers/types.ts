/**
 * One interface for every asset provider: what it can make, what it would cost, and a task it is given, polled
 * and fetched from. A provider's task id and state are saved before anything else happens, so a restarted
 * service polls the task it already paid for instead of submitting it again.
 */

export const ASSET_TYPES = ["image", "texture", "sprite", "model3d", "music", "sound"] as const;
export type AssetType = (typeof ASSET_TYPES)[number];

/** What kind of output a type is: fallback never crosses kinds (an image request never lands on a 3D provider). */
export const OUTPUT_KIND: Record<AssetType, "image" | "model3d" | "audio"> = {
  image: "image",
  texture: "image",
  sprite: "image",
  model3d: "model3d",
  music: "audio",
  sound: "audio",
};

export const QUALITIES = ["draft", "standard", "high"] as const;
export type Quality = (typeof QUALITIES)[number];

/** A normalised request: what every provider is asked. */
export interface AssetSpec {
  type: AssetType;
  prompt: string;
  style?: string;
  negativePrompt?: string;
  /** Images: "WIDTHxHEIGHT", e.g. "1024x1024". */
  size?: string;
  /** Audio: seconds. */
  durationS?: number;
  /** The file format wanted, e.g. png, webp, svg, glb, fbx, wav, mp3; the provider's default when absent. */
  format?: string;
  quality: Quality;
}

export interface Capabilities {
  types: readonly AssetType[];
  /** Formats per type it can deliver; the first is its default. */
  formats: Partial<Record<AssetType, readonly string[]>>;
  /** Image sizes it accepts (none listed: any). */
  sizes?: readonly string[];
  maxDurationS?: number;
  /** Long work: answered with a job at once (3D, music), not within the request. */
  slow: boolean;
}

/** A provider's unit price for a type and quality, in US dollars (from ProviderPricing, else the list price). */
export type PriceOf = (provider: string, type: AssetType, quality: Quality) => number | undefined;

/** A task the provider accepted: its id at the provider, and whatever else polling it needs later. */
export interface Task {
  id: string;
  state: Record<string, unknown>;
}

export interface ResultFile {
  bytes: Buffer;
  contentType: string;
  format: string;
  /** For licensed sounds: the licence and the attribution to show beside the asset. */
  licence?: { name: string; url?: string; attribution?: string; source?: string };
}

export type Progress =
  | { status: "running"; progress?: number; previewReady?: boolean }
  | { status: "succeeded" }
  | { status: "failed"; error: string };

export interface AssetProvider {
  /** openai, stability, midjourney, meshy, mubert, freesound, placeholder. */
  readonly id: string;
  /** Said in every result of the offline placeholder provider. */
  readonly offline?: boolean;
  readonly capabilities: Capabilities;
  /** The price of one result for this request, in US dollars. */
  estimateUsd(spec: AssetSpec, price: PriceOf): number;
  /** Give the provider the work; the task's id is saved before this answer is used for anything else. */
  submit(spec: AssetSpec, signal: AbortSignal): Promise<Task>;
  /** How the task stands. */
  poll(task: Task, signal: AbortSignal): Promise<Progress>;
  /** The finished task's files (the first is the asset; a thumbnail or preview may follow). */
  fetch(task: Task, signal: AbortSignal): Promise<ResultFile[]>;
  /** Cancel the task at the provider, where it can be. */
  cancel?(task: Task, signal: AbortSignal): Promise<void>;
}

/**
 * A provider's refusal or failure. `charged` says whether it may have cost money (then no other provider is
 * tried for the same request); `retryable` whether the same provider may succeed later (429, 5xx, a timeout).
 * The message names the provider and never carries a key.
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    message: string,
    readonly options: { status?: number; retryable: boolean; charged: boolean; retryAfterMs?: number },
  ) {
    super(`${provider}: ${message}`);
    this.name = "ProviderError";
  }
}

/** Where a provider lives and how it is called, from env: `<NAME>_API_KEY`, `<NAME>_BASE_URL`. */
export interface ProviderSettings {
  apiKey: string;
  baseUrl?: string;
  /** Milliseconds before a call to the provider is given up. */
  timeoutMs: number;
}
