import {
  badAnswer,
  type CallContext,
  callJson,
  download,
  imageFormat,
  priced,
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
 * Meshy text to 3D, API v2 (https://docs.meshy.ai/api/text-to-3d, https://docs.meshy.ai/api/errors):
 *
 * - `POST {base}/openapi/v2/text-to-3d` with `Authorization: Bearer <key>` and `{mode: "preview", prompt,
 *   art_style?, negative_prompt?, ai_model?}` answers `{result: "<task id>"}`: an untextured mesh. The prompt
 *   is at most 600 characters; art_style (realistic, sculpture) is deprecated, for meshy-4/meshy-5 only.
 * - `GET {base}/openapi/v2/text-to-3d/{id}` answers the task object `{id, status: PENDING | IN_PROGRESS |
 *   SUCCEEDED | FAILED | CANCELED, progress: 0..100, model_urls: {glb, fbx, obj, usdz}, thumbnail_url,
 *   task_error: {message}}`.
 * - A succeeded preview is textured by a refine task, `POST` of `{mode: "refine", preview_task_id}` to the same
 *   path, polled the same way; its `model_urls` are the asset (signed CDN links, fetched without the key).
 * - `DELETE {base}/openapi/v2/text-to-3d/{id}` deletes a task: that is the cancel Meshy offers.
 * - Errors answer `{message}` with 400, 401, 402 (no credits), 404, 429 or 5xx.
 *
 * Draft quality stops after the preview (an untextured mesh at the preview's price); standard and high refine it.
 *
 * The saved Task is `{id: <preview id>, state: {stage, previewId, refineId?, refine, format}}`. submit() creates
 * only the preview; a restart with that Task polls the same preview and never submits it again. The refine can
 * only be asked for once the preview has succeeded, so poll() creates it, exactly once per Task object, and
 * records it in `task.state` (stage "refine", refineId) before it returns. The caller must save task.state after
 * a poll that changed it: a Task saved after that polls the refine it already has after a restart, while one
 * saved only after submit() would, restarted in the refine stage, ask Meshy for a second refine.
 */

/** List prices (about 20 credits a preview, 10 a refine, at about a cent a credit), used when PriceOf has none. */
export const MESHY_LIST_PRICE_USD = { preview: 0.2, previewAndRefine: 0.3 } as const;

const FORMATS = ["glb", "fbx"] as const;
type MeshyFormat = (typeof FORMATS)[number];
const CONTENT_TYPE: Record<MeshyFormat, string> = {
  glb: "model/gltf-binary",
  fbx: "application/octet-stream",
};
/** art_style values the legacy models (meshy-4, meshy-5) accept; any other style is said in the prompt. */
const ART_STYLES = ["realistic", "sculpture"];
const MAX_PROMPT = 600;

interface MeshyState {
  stage: "preview" | "refine";
  previewId: string;
  refineId?: string;
  refine: boolean;
  format: MeshyFormat;
}

interface MeshyTask {
  id?: string;
  status?: string;
  progress?: number;
  model_urls?: Partial<Record<string, string>>;
  thumbnail_url?: string;
  task_error?: { message?: string } | null;
  /** The v2 task object of Meshy's newer endpoints carries its results here. */
  output?: { model_urls?: Partial<Record<string, string>>; thumbnail_url?: string } | null;
}

export interface MeshyOptions {
  /** ai_model for the preview (the refine uses the preview's); Meshy's default ("latest") when absent. */
  aiModel?: string;
}

export class MeshyProvider implements AssetProvider {
  readonly id = "meshy";
  readonly capabilities: Capabilities = { types: ["model3d"], formats: { model3d: FORMATS }, slow: true };
  private readonly base: string;

  constructor(
    private readonly settings: ProviderSettings,
    private readonly options: MeshyOptions = {},
  ) {
    this.base = trimBase(settings.baseUrl ?? "https://api.meshy.ai");
  }

  estimateUsd(spec: AssetSpec, price: PriceOf): number {
    const list =
      spec.quality === "draft" ? MESHY_LIST_PRICE_USD.preview : MESHY_LIST_PRICE_USD.previewAndRefine;
    return priced(price(this.id, spec.type, spec.quality), list);
  }

  async submit(spec: AssetSpec, signal: AbortSignal): Promise<Task> {
    const ctx = this.ctx(signal, true);
    if (spec.type !== "model3d") throw refused(this.id, `cannot make ${spec.type}`);
    const format = (spec.format ?? "glb") as MeshyFormat;
    if (!FORMATS.includes(format)) throw refused(this.id, `cannot deliver ${spec.format} (only glb, fbx)`);
    const style = spec.style?.trim();
    // art_style is for the legacy models only (Meshy-6 ignores it, and some combinations fail there).
    const legacy = /^meshy-[45]$/.test(this.options.aiModel ?? "");
    const artStyle =
      legacy && style && ART_STYLES.includes(style.toLowerCase()) ? style.toLowerCase() : undefined;
    const prompt = (style && !artStyle ? `${spec.prompt}, ${style}` : spec.prompt).slice(0, MAX_PROMPT);
    const body: Record<string, unknown> = { mode: "preview", prompt };
    if (artStyle) body.art_style = artStyle;
    if (spec.negativePrompt) body.negative_prompt = spec.negativePrompt.slice(0, MAX_PROMPT);
    if (this.options.aiModel) body.ai_model = this.options.aiModel;
    const previewId = await this.create(ctx, body, "creating the preview task");
    const state: MeshyState = { stage: "preview", previewId, refine: spec.quality !== "draft", format };
    return { id: previewId, state: { ...state } };
  }

  async poll(task: Task, signal: AbortSignal): Promise<Progress> {
    const state = readState(this.id, task);
    const ctx = this.ctx(signal);
    const current = await this.get(ctx, state);
    const progress = Math.max(0, Math.min(100, Math.round(Number(current.progress) || 0)));
    switch (current.status) {
      case "SUCCEEDED": {
        if (state.stage === "preview" && state.refine) {
          const refineId = await this.create(
            ctx,
            { mode: "refine", preview_task_id: state.previewId },
            "creating the refine task",
          );
          Object.assign(task.state, { stage: "refine", refineId } satisfies Partial<MeshyState>);
          return { status: "running", progress: 50, previewReady: true };
        }
        return { status: "succeeded" };
      }
      case "FAILED":
        return {
          status: "failed",
          error: `the ${state.stage} task failed: ${str(current.task_error?.message) ?? "Meshy gave no reason"}`,
        };
      case "CANCELED":
      case "EXPIRED":
        return { status: "failed", error: `the ${state.stage} task was ${current.status.toLowerCase()}` };
      default: {
        // PENDING, IN_PROGRESS: the preview is the first half of the work when a refine follows.
        const overall = !state.refine
          ? progress
          : state.stage === "preview"
            ? progress / 2
            : 50 + progress / 2;
        return state.stage === "refine"
          ? { status: "running", progress: Math.round(overall), previewReady: true }
          : { status: "running", progress: Math.round(overall) };
      }
    }
  }

  async fetch(task: Task, signal: AbortSignal): Promise<ResultFile[]> {
    const state = readState(this.id, task);
    const ctx = this.ctx(signal);
    if (state.refine && state.stage !== "refine")
      throw notDone(this.id, "the refine task was not created yet");
    const current = await this.get(ctx, state);
    if (current.status !== "SUCCEEDED")
      throw notDone(this.id, `the ${state.stage} task is ${current.status}`);
    const urls = current.model_urls ?? current.output?.model_urls ?? {};
    const modelUrl = str(urls[state.format]);
    if (!modelUrl) throw badAnswer(ctx, "fetching the model", `no ${state.format} in model_urls`, false);
    // Signed CDN links: the key is not sent along.
    const model = await download(ctx, modelUrl, `downloading the ${state.format} model`);
    const files: ResultFile[] = [
      { bytes: model.bytes, contentType: CONTENT_TYPE[state.format], format: state.format },
    ];
    const thumbnailUrl = str(current.thumbnail_url) ?? str(current.output?.thumbnail_url);
    if (thumbnailUrl) {
      try {
        const thumbnail = await download(ctx, thumbnailUrl, "downloading the thumbnail");
        const kind = imageFormat(thumbnail.bytes) ?? { format: "png", contentType: "image/png" };
        files.push({ bytes: thumbnail.bytes, ...kind });
      } catch (error) {
        // The thumbnail is a courtesy: the model stands without it, an abort does not.
        if (signal.aborted) throw error;
      }
    }
    return files;
  }

  async cancel(task: Task, signal: AbortSignal): Promise<void> {
    const state = readState(this.id, task);
    const id = state.stage === "refine" && state.refineId ? state.refineId : state.previewId;
    try {
      await callJson(this.ctx(signal), `${this.base}/openapi/v2/text-to-3d/${encodeURIComponent(id)}`, {
        method: "DELETE",
        headers: this.auth(),
        what: `deleting the ${state.stage} task`,
      });
    } catch (error) {
      if (error instanceof ProviderError && error.options.status === 404) return; // already gone
      throw error;
    }
  }

  private async create(ctx: CallContext, body: Record<string, unknown>, what: string): Promise<string> {
    const answer = await callJson<{ result?: unknown; id?: unknown }>(
      ctx,
      `${this.base}/openapi/v2/text-to-3d`,
      {
        json: body,
        headers: this.auth(),
        what,
      },
    );
    const id = str(answer?.result) ?? str(answer?.id);
    if (!id) throw badAnswer(ctx, what, "no task id in the answer");
    return id;
  }

  private async get(ctx: CallContext, state: MeshyState): Promise<MeshyTask> {
    const id = state.stage === "refine" ? state.refineId : state.previewId;
    const what = `reading the ${state.stage} task`;
    const answer = await callJson<MeshyTask>(
      ctx,
      `${this.base}/openapi/v2/text-to-3d/${encodeURIComponent(id!)}`,
      {
        headers: this.auth(),
        what,
      },
    );
    if (!answer || typeof answer.status !== "string") throw badAnswer(ctx, what, "no status");
    return answer;
  }

  private auth(): Record<string, string> {
    return { authorization: `Bearer ${this.settings.apiKey}` };
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

function refused(provider: string, why: string): ProviderError {
  return new ProviderError(provider, why, { retryable: false, charged: false });
}

function notDone(provider: string, why: string): ProviderError {
  return new ProviderError(provider, `nothing to fetch yet: ${why}`, { retryable: true, charged: true });
}

/** The saved state, checked: it comes back from the database after a restart. */
function readState(provider: string, task: Task): MeshyState {
  const s = task.state as Partial<MeshyState>;
  const previewId = str(s.previewId) ?? str(task.id);
  const stage =
    s.stage === "refine" && str(s.refineId) ? "refine" : s.stage === "preview" ? "preview" : undefined;
  const format = FORMATS.includes(s.format as MeshyFormat) ? (s.format as MeshyFormat) : undefined;
  if (!previewId || !stage || !format)
    throw new ProviderError(provider, "the saved task state is unreadable", {
      retryable: false,
      charged: true,
    });
  return { stage, previewId, refineId: str(s.refineId), refine: s.refine !== false, format };
}
