import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type Exchange, readBody, recordExchange } from "../../../../test/support/exchange.ts";
import { imageBytes } from "./fake-openai-images.ts";

/**
 * A local server speaking Stability AI's REST v2beta Stable Image generate API:
 * `POST /v2beta/stable-image/generate/{ultra|core|sd3}` with a multipart form and `authorization: Bearer <key>`.
 * `accept: image/*` is answered with the image's bytes and `finish-reason`, `seed` and `x-request-id` headers;
 * `accept: application/json` with `{image, finish_reason, seed}`. Errors are `{id, name, errors: [...]}`. The form
 * is checked as Stability checks it (prompt present, aspect ratio, output format per engine, style preset, SD 3.5
 * model). Tests script the next answers.
 */

export const FAKE_STABILITY_KEY = "sk-fake-stability";

export type StabilityScript =
  /** The default: an image in the requested format (after a delay if given). */
  | { kind: "image"; delayMs?: number; seed?: number }
  /** A generation the content filter withheld: finish-reason CONTENT_FILTERED (Stability sends a blurred image). */
  | { kind: "filtered" }
  /** An HTTP error in Stability's shape; `retryAfter` becomes a Retry-After header. */
  | { kind: "error"; status: number; name?: string; errors?: string[]; retryAfter?: string }
  /** 403 content_moderation: the prompt was flagged before anything was generated (not charged). */
  | { kind: "moderation" }
  /** Never answers (until the client gives up or the server closes). */
  | { kind: "hang" }
  /** Closes the connection without an answer. */
  | { kind: "drop" };

export interface SeenForm extends Exchange {
  /** The form's text fields. */
  fields: Record<string, string>;
}

export interface FakeStability {
  url: string;
  /** Requests to the generate endpoints, in order. */
  requests: SeenForm[];
  /** How many requests a path has had (answered or not). */
  calls(path: string): number;
  enqueue(...scripts: StabilityScript[]): void;
  close(): Promise<void>;
}

const ENGINES = ["ultra", "core", "sd3"];
const ASPECT_RATIOS = ["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"];
const STYLE_PRESETS = [
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
];
const SD3_MODELS = ["sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"];

export async function startFakeStability(key = FAKE_STABILITY_KEY): Promise<FakeStability> {
  const queue: StabilityScript[] = [];
  const requests: SeenForm[] = [];
  const counts = new Map<string, number>();

  const server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const raw = await readBody(req);
    const record: SeenForm = Object.assign(recordExchange(req, res, path), {
      fields: {} as Record<string, string>,
    });
    const engine = path.match(/^\/v2beta\/stable-image\/generate\/([^/]+)$/)?.[1];
    if (req.method !== "POST" || !engine || !ENGINES.includes(engine)) {
      return error(res, 404, "not_found", [`${req.method} ${path} does not exist`]);
    }
    requests.push(record);
    if (req.headers.authorization !== `Bearer ${key}`) {
      return error(res, 401, "unauthorized", ["authorization: invalid or missing API key"]);
    }
    const accept = String(req.headers.accept ?? "image/*");
    if (accept !== "image/*" && accept !== "application/json") {
      return error(res, 400, "bad_request", ["accept: must be one of image/* or application/json"]);
    }
    const contentType = String(req.headers["content-type"] ?? "");
    if (!contentType.startsWith("multipart/form-data")) {
      return error(res, 400, "bad_request", ["content-type: must be multipart/form-data"]);
    }
    try {
      const form = await new Request("http://fake.invalid/", {
        method: "POST",
        headers: { "content-type": contentType },
        body: raw,
      }).formData();
      for (const [name, value] of form) if (typeof value === "string") record.fields[name] = value;
    } catch {
      return error(res, 400, "bad_request", ["body: could not be parsed as multipart/form-data"]);
    }
    const problems = validate(engine, record.fields);
    if (problems.length) return error(res, 400, "bad_request", problems);

    const script = queue.shift() ?? { kind: "image" };
    switch (script.kind) {
      case "drop":
        res.socket?.destroy();
        return;
      case "hang":
        return;
      case "error":
        return error(
          res,
          script.status,
          script.name ?? (script.status >= 500 ? "internal_error" : "bad_request"),
          script.errors ?? [`fake ${script.status}`],
          script.retryAfter ? { "retry-after": script.retryAfter } : {},
        );
      case "moderation":
        return error(res, 403, "content_moderation", [
          "Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.",
        ]);
      case "image":
      case "filtered": {
        if (script.kind === "image" && script.delayMs) await sleep(script.delayMs);
        if (res.destroyed) return;
        const format = record.fields.output_format ?? "png";
        const [w, h] = (record.fields.aspect_ratio ?? "1:1").split(":");
        const bytes = imageBytes(format, `${w}x${h}`);
        const seed = String(script.kind === "image" ? (script.seed ?? 1234567) : 7654321);
        const finishReason = script.kind === "filtered" ? "CONTENT_FILTERED" : "SUCCESS";
        const id = randomUUID().replace(/-/g, "");
        if (accept === "application/json") {
          res
            .writeHead(200, {
              "content-type": `application/json; type=image/${format}`,
              "x-request-id": id,
            })
            .end(
              JSON.stringify({
                image: bytes.toString("base64"),
                finish_reason: finishReason,
                seed: Number(seed),
              }),
            );
          return;
        }
        res
          .writeHead(200, {
            "content-type": `image/${format}`,
            "finish-reason": finishReason,
            seed,
            "x-request-id": id,
          })
          .end(bytes);
        return;
      }
    }
  });
  server.keepAliveTimeout = 1000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    calls: (path) => counts.get(path) ?? 0,
    enqueue: (...scripts) => queue.push(...scripts),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Stability's checks of a generate form, in its `field: problem` wording. */
function validate(engine: string, fields: Record<string, string>): string[] {
  const problems: string[] = [];
  const prompt = fields.prompt ?? "";
  if (!prompt.trim()) problems.push("prompt: cannot be empty");
  if (prompt.length > 10_000) problems.push("prompt: must be at most 10000 characters");
  if ((fields.negative_prompt ?? "").length > 10_000) {
    problems.push("negative_prompt: must be at most 10000 characters");
  }
  const enumOf = (name: string, allowed: string[]) => {
    const value = fields[name];
    if (value !== undefined && !allowed.includes(value))
      problems.push(`${name}: must be one of ${allowed.join(", ")}`);
  };
  enumOf("aspect_ratio", ASPECT_RATIOS);
  enumOf("output_format", engine === "sd3" ? ["png", "jpeg"] : ["png", "jpeg", "webp"]);
  enumOf("style_preset", STYLE_PRESETS);
  if (engine === "sd3") enumOf("model", SD3_MODELS);
  if (fields.seed !== undefined && !(Number(fields.seed) >= 0 && Number(fields.seed) <= 4294967294)) {
    problems.push("seed: must be between 0 and 4294967294");
  }
  return problems;
}

function error(
  res: ServerResponse,
  status: number,
  name: string,
  errors: string[],
  headers: Record<string, string> = {},
) {
  res
    .writeHead(status, { "content-type": "application/json", ...headers })
    .end(JSON.stringify({ id: randomUUID().replace(/-/g, ""), name, errors }));
}
