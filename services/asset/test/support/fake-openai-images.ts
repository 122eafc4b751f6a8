import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { crc32, deflateSync } from "node:zlib";
import { type Exchange, readBody, recordExchange } from "../../../../test/support/exchange.ts";

/**
 * A local server speaking OpenAI's image API as the official SDK sees it: `POST /v1/images/generations` with a
 * JSON body, `authorization: Bearer <key>`, answered `{created, data: [{b64_json} | {url}], ...}` or an error
 * `{error: {message, type, param, code}}`. It checks the parameters the way OpenAI does (sizes and qualities per
 * model, `output_format` only for GPT image models, `response_format` not for them), so a wrong request fails
 * here as it would there. Tests script the next answers.
 */

export const FAKE_OPENAI_IMAGES_KEY = "sk-fake-openai-images";

export type OpenAIImagesScript =
  /** The default: an image in the requested format (after a delay if given); `asUrl` answers a URL to it. */
  | { kind: "image"; delayMs?: number; asUrl?: boolean }
  /** An HTTP error in OpenAI's shape; `retryAfter` / `retryAfterMs` become the headers of those names. */
  | {
      kind: "error";
      status: number;
      message?: string;
      type?: string;
      code?: string | null;
      retryAfter?: string;
      retryAfterMs?: string;
    }
  /** What gpt-image-1 answers a prompt its safety system rejects. */
  | { kind: "moderation" }
  /** Never answers (until the client gives up or the server closes). */
  | { kind: "hang" }
  /** Closes the connection without an answer. */
  | { kind: "drop" };

export interface SeenRequest extends Exchange {
  body: Record<string, unknown>;
}

export interface FakeOpenAIImages {
  /** Root URL of the server. */
  url: string;
  /** What OPENAI_BASE_URL would be: the root with /v1. */
  baseUrl: string;
  /** Requests to the images endpoint, in order. */
  requests: SeenRequest[];
  /** How many requests a path has had (any method, answered or not). */
  calls(path: string): number;
  enqueue(...scripts: OpenAIImagesScript[]): void;
  close(): Promise<void>;
}

const GENERATIONS = "/v1/images/generations";

const MODELS = {
  gpt: {
    sizes: ["auto", "1024x1024", "1536x1024", "1024x1536"],
    qualities: ["auto", "low", "medium", "high"],
  },
  "dall-e-3": { sizes: ["1024x1024", "1792x1024", "1024x1792"], qualities: ["standard", "hd"] },
  "dall-e-2": { sizes: ["256x256", "512x512", "1024x1024"], qualities: ["standard"] },
} as const;

export async function startFakeOpenAIImages(key = FAKE_OPENAI_IMAGES_KEY): Promise<FakeOpenAIImages> {
  const queue: OpenAIImagesScript[] = [];
  const requests: SeenRequest[] = [];
  const counts = new Map<string, number>();
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  let root = "";
  let nextFile = 0;

  const server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const raw = await readBody(req);

    // Where `asUrl` answers point: like OpenAI's blob URLs, readable without the API key.
    if (req.method === "GET" && path.startsWith("/files/")) {
      const file = files.get(path);
      if (!file) return void res.writeHead(404).end();
      return void res.writeHead(200, { "content-type": file.contentType }).end(file.bytes);
    }

    const record: SeenRequest = Object.assign(recordExchange(req, res, path), {
      body: {} as Record<string, unknown>,
    });
    if (path !== GENERATIONS || req.method !== "POST") {
      return error(res, 404, `Invalid URL (${req.method} ${path})`, "invalid_request_error", null);
    }
    requests.push(record);
    if (req.headers.authorization !== `Bearer ${key}`) {
      // OpenAI masks the middle of the key it was given; this fake repeats it whole, so any leak would show.
      const given = (req.headers.authorization ?? "").replace(/^Bearer\s*/i, "");
      return error(
        res,
        401,
        `Incorrect API key provided: ${given}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        "invalid_request_error",
        "invalid_api_key",
      );
    }
    if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) {
      return error(
        res,
        400,
        "Invalid content type; expected application/json.",
        "invalid_request_error",
        null,
      );
    }
    try {
      record.body = raw.length ? JSON.parse(raw.toString("utf8")) : {};
    } catch {
      return error(
        res,
        400,
        "We could not parse the JSON body of your request.",
        "invalid_request_error",
        null,
      );
    }
    const invalid = validate(record.body);
    if (invalid)
      return error(res, 400, invalid.message, "invalid_request_error", invalid.code, invalid.param);

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
          script.message ?? `fake ${script.status}`,
          script.type ?? (script.status >= 500 ? "server_error" : "invalid_request_error"),
          script.code ?? null,
          null,
          {
            ...(script.retryAfter ? { "retry-after": script.retryAfter } : {}),
            ...(script.retryAfterMs ? { "retry-after-ms": script.retryAfterMs } : {}),
          },
        );
      case "moderation":
        return error(
          res,
          400,
          "Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID req_fake.",
          "image_generation_user_error",
          "moderation_blocked",
        );
      case "image": {
        if (script.delayMs) await sleep(script.delayMs);
        if (res.destroyed) return;
        const body = record.body;
        const model = String(body.model ?? "dall-e-2");
        const gpt = !model.startsWith("dall-e");
        const format = gpt ? String(body.output_format ?? "png") : "png";
        const bytes = imageBytes(format, String(body.size ?? "1024x1024"));
        let item: Record<string, unknown>;
        if (script.asUrl || (!gpt && body.response_format !== "b64_json")) {
          const name = `/files/img-${++nextFile}.${format}`;
          files.set(name, { bytes, contentType: `image/${format}` });
          item = { url: `${root}${name}` };
        } else {
          item = { b64_json: bytes.toString("base64") };
        }
        if (model === "dall-e-3") item.revised_prompt = body.prompt;
        const answer: Record<string, unknown> = {
          created: Math.floor(Date.now() / 1000),
          data: [item],
        };
        if (gpt) {
          Object.assign(answer, {
            background: body.background === "transparent" ? "transparent" : "opaque",
            output_format: format,
            quality: body.quality === "auto" || !body.quality ? "medium" : body.quality,
            size: body.size === "auto" || !body.size ? "1024x1024" : body.size,
            usage: {
              input_tokens: 12,
              input_tokens_details: { image_tokens: 0, text_tokens: 12 },
              output_tokens: 4160,
              total_tokens: 4172,
            },
          });
        }
        res
          .writeHead(200, {
            "content-type": "application/json",
            "x-request-id": `req_fake_${requests.length}`,
          })
          .end(JSON.stringify(answer));
        return;
      }
    }
  });
  server.keepAliveTimeout = 1000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  root = `http://127.0.0.1:${port}`;
  return {
    url: root,
    baseUrl: `${root}/v1`,
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

/** OpenAI's checks of an images.generate body, as error messages in its wording. */
function validate(
  body: Record<string, unknown>,
): { message: string; param: string; code: string } | undefined {
  const supported = (param: string, value: unknown, allowed: readonly string[]) =>
    allowed.includes(String(value))
      ? undefined
      : {
          message: `Invalid value: '${String(value)}'. Supported values are: ${allowed.map((v) => `'${v}'`).join(", ")}.`,
          param,
          code: "invalid_value",
        };
  const unknown = (param: string) => ({
    message: `Unknown parameter: '${param}'.`,
    param,
    code: "unknown_parameter",
  });
  if (typeof body.prompt !== "string" || !body.prompt) {
    return {
      message: "Missing required parameter: 'prompt'.",
      param: "prompt",
      code: "missing_required_parameter",
    };
  }
  const model = String(body.model ?? "dall-e-2");
  const rules = model === "dall-e-3" || model === "dall-e-2" ? MODELS[model] : MODELS.gpt;
  if (body.size !== undefined) {
    const bad = supported("size", body.size, rules.sizes);
    if (bad) return bad;
  }
  if (body.quality !== undefined) {
    const bad = supported("quality", body.quality, rules.qualities);
    if (bad) return bad;
  }
  if (
    body.n !== undefined &&
    (model === "dall-e-3" ? body.n !== 1 : !(Number(body.n) >= 1 && Number(body.n) <= 10))
  ) {
    return { message: `Invalid value for 'n': ${String(body.n)}.`, param: "n", code: "invalid_value" };
  }
  if (model.startsWith("dall-e")) {
    for (const param of ["output_format", "background", "output_compression", "moderation"]) {
      if (body[param] !== undefined) return unknown(param);
    }
    if (body.response_format !== undefined)
      return supported("response_format", body.response_format, ["url", "b64_json"]);
    return undefined;
  }
  if (body.response_format !== undefined) return unknown("response_format");
  if (body.output_format !== undefined) {
    const bad = supported("output_format", body.output_format, ["png", "jpeg", "webp"]);
    if (bad) return bad;
  }
  if (body.background !== undefined) {
    const bad = supported("background", body.background, ["transparent", "opaque", "auto"]);
    if (bad) return bad;
    if (body.background === "transparent" && body.output_format === "jpeg") {
      return {
        message: "Transparent background is not supported for jpeg output format.",
        param: "background",
        code: "invalid_value",
      };
    }
  }
  return undefined;
}

function error(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
  headers: Record<string, string> = {},
) {
  res
    .writeHead(status, { "content-type": "application/json", "x-request-id": "req_fake_error", ...headers })
    .end(JSON.stringify({ error: { message, type, param, code } }));
}

/**
 * Bytes of a small image in the format asked: a real PNG whose dimensions keep the requested size's ratio
 * (1536x1024 → 3×2), a real 1×1 lossless WebP, a real 8×8 grey baseline JPEG.
 */
export function imageBytes(format: string, size = "1024x1024"): Buffer {
  if (format === "webp") return TINY_WEBP;
  if (format === "jpeg") return TINY_JPEG;
  const [w, h] = size.split("x").map(Number) as [number, number];
  const g = gcd(w || 1, h || 1);
  return tinyPng(Math.min(64, (w || 2) / g), Math.min(64, (h || 2) / g));
}

function gcd(a: number, b: number): number {
  return b ? gcd(b, a % b) : a;
}

/** A valid RGB PNG of width × height pixels, coloured from the seed. */
export function tinyPng(width = 2, height = 2, seed = 0): Buffer {
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = (seed * 53 + x * 97) & 0xff;
      row[2 + x * 3] = (seed * 29 + y * 89) & 0xff;
      row[3 + x * 3] = (seed * 71 + (x + y) * 31) & 0xff;
    }
    rows.push(row); // filter byte 0: none
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A 1×1 lossless WebP (the one feature detectors use). */
const TINY_WEBP = Buffer.from("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==", "base64");

/**
 * An 8×8 grey baseline JPEG: one component, a quantisation table of ones, Huffman tables holding a single code
 * each (DC difference category 0, AC end-of-block), and a scan of those two codes.
 */
const TINY_JPEG = Buffer.from([
  ...[0xff, 0xd8], // SOI
  ...[
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
    0x00,
  ],
  ...[0xff, 0xdb, 0x00, 0x43, 0x00, ...new Array<number>(64).fill(1)], // DQT 0
  ...[0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00], // SOF0 8×8, 1 component
  ...[0xff, 0xc4, 0x00, 0x14, 0x00, 1, ...new Array<number>(15).fill(0), 0x00], // DHT DC 0: one code → 0
  ...[0xff, 0xc4, 0x00, 0x14, 0x10, 1, ...new Array<number>(15).fill(0), 0x00], // DHT AC 0: one code → EOB
  ...[0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00], // SOS
  0x3f, // DC "0", EOB "0", padded with ones
  ...[0xff, 0xd9], // EOI
]);
