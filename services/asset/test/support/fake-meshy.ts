import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/**
 * Meshy's text-to-3D API v2 on a loopback port, for tests: the wire format of docs.meshy.ai/api/text-to-3d.
 * Preview and refine tasks move PENDING → IN_PROGRESS → SUCCEEDED (or FAILED) over `pollsToFinish` reads; their
 * model_urls are served (without the key, like Meshy's signed CDN links) as a real GLB, an FBX header and a PNG.
 */

export const FAKE_MESHY_KEY = "msy_fake_0123456789abcdef";

/** One scripted answer for the next API request (files excluded) that matches `on`. */
export interface Failure {
  status?: number;
  /** Retry-After, in seconds. */
  retryAfter?: string;
  message?: string;
  /** Never answer (until the client gives up or the server closes). */
  hang?: boolean;
  /** submit: POST /openapi/v2/text-to-3d; poll: GET of a task. Any API request when absent. */
  on?: "submit" | "poll";
}

interface FakeTask {
  id: string;
  mode: "preview" | "refine";
  previewId?: string;
  body: Record<string, unknown>;
  reads: number;
  failWith?: string;
  createdAt: number;
}

export interface FakeMeshy {
  url: string;
  key: string;
  /** Tasks created, per mode: a test asserts "submitted exactly once". */
  submitted: { preview: number; refine: number };
  /** Create-request bodies, in order. */
  bodies: Record<string, unknown>[];
  /** Task ids deleted. */
  deleted: string[];
  /** Downloads of result files, with the Authorization header each carried (none expected). */
  downloads: { path: string; authorization?: string }[];
  /** Reads of a task before it is done. */
  pollsToFinish: number;
  fail(...failures: Failure[]): void;
  /** The next task created ends FAILED with this task_error.message. */
  failNextTask(message: string): void;
  close(): Promise<void>;
}

/** A minimal valid binary glTF 2.0: the 12-byte header ("glTF", version 2, length) and one JSON chunk. */
export function tinyGlb(): Buffer {
  const json = Buffer.from(
    JSON.stringify({ asset: { version: "2.0", generator: "gaia fake-meshy" }, scenes: [{}] }),
  );
  const chunk = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, 0x20)]);
  const header = Buffer.alloc(20);
  header.writeUInt32LE(0x46546c67, 0); // "glTF"
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(20 + chunk.length, 8);
  header.writeUInt32LE(chunk.length, 12);
  header.writeUInt32LE(0x4e4f534a, 16); // "JSON"
  return Buffer.concat([header, chunk]);
}

/** The start of a binary FBX 7.4 file: its magic and version. */
export function tinyFbx(): Buffer {
  const version = Buffer.alloc(4);
  version.writeUInt32LE(7400, 0);
  return Buffer.concat([Buffer.from("Kaydara FBX Binary  \0", "latin1"), Buffer.from([0x1a, 0x00]), version]);
}

/** A valid 1x1 PNG. */
export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

const TASKS_PATH = "/openapi/v2/text-to-3d";

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch {
    return {};
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

export async function startFakeMeshy(key = FAKE_MESHY_KEY): Promise<FakeMeshy> {
  const tasks = new Map<string, FakeTask>();
  const failures: Failure[] = [];
  const failTasks: string[] = [];
  let seq = 0;

  const fake: FakeMeshy = {
    url: "",
    key,
    submitted: { preview: 0, refine: 0 },
    bodies: [],
    deleted: [],
    downloads: [],
    pollsToFinish: 3,
    fail: (...f) => failures.push(...f),
    failNextTask: (message) => failTasks.push(message),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const view = (task: FakeTask) => {
    const done = task.reads >= fake.pollsToFinish;
    const status = done
      ? task.failWith
        ? "FAILED"
        : "SUCCEEDED"
      : task.reads <= 1
        ? "PENDING"
        : "IN_PROGRESS";
    const files = `${fake.url}/files/${task.id}`;
    const succeeded = status === "SUCCEEDED";
    return {
      id: task.id,
      type: `text-to-3d-${task.mode}`,
      mode: task.mode,
      prompt: task.body.prompt ?? "",
      art_style: task.body.art_style ?? "realistic",
      negative_prompt: task.body.negative_prompt ?? "",
      model_urls: succeeded
        ? { glb: `${files}/model.glb`, fbx: `${files}/model.fbx`, obj: `${files}/model.obj`, usdz: "" }
        : { glb: "", fbx: "", obj: "", usdz: "" },
      thumbnail_url: succeeded ? `${files}/preview.png` : "",
      video_url: "",
      texture_urls: [],
      progress: done ? (task.failWith ? 0 : 100) : Math.round((100 * task.reads) / (fake.pollsToFinish + 1)),
      preceding_tasks: 0,
      created_at: task.createdAt,
      started_at: task.reads > 1 ? task.createdAt + 1 : 0,
      finished_at: done ? task.createdAt + 2 : 0,
      status,
      task_error: { message: status === "FAILED" ? task.failWith : "" },
    };
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname;

    const file = path.match(/^\/files\/([^/]+)\/(model\.glb|model\.fbx|preview\.png)$/);
    if (req.method === "GET" && file) {
      fake.downloads.push({ path, authorization: req.headers.authorization });
      if (!tasks.has(file[1]!)) return json(res, 404, { message: "Not Found" });
      const bytes = file[2] === "model.glb" ? tinyGlb() : file[2] === "model.fbx" ? tinyFbx() : TINY_PNG;
      return res.writeHead(200, { "content-type": "application/octet-stream" }).end(bytes);
    }
    if (!path.startsWith("/openapi/")) return json(res, 404, { message: "Not Found" });
    if (req.headers.authorization !== `Bearer ${key}`) return json(res, 401, { message: "Invalid API key" });

    const kind =
      req.method === "POST" && path === TASKS_PATH ? "submit" : req.method === "GET" ? "poll" : undefined;
    const index = failures.findIndex((f) => !f.on || f.on === kind);
    if (index >= 0) {
      const [failure] = failures.splice(index, 1);
      if (failure!.hang) return; // the client times out
      const status = failure!.status ?? 500;
      return json(
        res,
        status,
        { message: failure!.message ?? (status === 429 ? "Too Many Requests" : "Internal Server Error") },
        failure!.retryAfter ? { "retry-after": failure!.retryAfter } : {},
      );
    }

    if (req.method === "POST" && path === TASKS_PATH) {
      const body = await readJson(req);
      if (body.mode === "preview") {
        if (typeof body.prompt !== "string" || !body.prompt)
          return json(res, 400, { message: "prompt is required" });
        if (body.prompt.length > 600) return json(res, 400, { message: "prompt is too long" });
      } else if (body.mode === "refine") {
        const preview = tasks.get(String(body.preview_task_id));
        if (preview?.mode !== "preview") return json(res, 404, { message: "Preview task not found" });
        if (view(preview).status !== "SUCCEEDED")
          return json(res, 400, { message: "The preview task is not succeeded yet" });
      } else {
        return json(res, 400, { message: "mode must be preview or refine" });
      }
      const mode = body.mode as "preview" | "refine";
      const id = `0190${(++seq).toString(16).padStart(4, "0")}-fake-7000-8000-${mode}`;
      tasks.set(id, {
        id,
        mode,
        previewId: mode === "refine" ? String(body.preview_task_id) : undefined,
        body,
        reads: 0,
        failWith: failTasks.shift(),
        createdAt: Date.now(),
      });
      fake.submitted[mode]++;
      fake.bodies.push(body);
      return json(res, 202, { result: id });
    }

    const one = path.match(/^\/openapi\/v2\/text-to-3d\/([^/]+)$/);
    if (one) {
      const task = tasks.get(decodeURIComponent(one[1]!));
      if (!task) return json(res, 404, { message: "Task not found" });
      if (req.method === "GET") {
        task.reads++;
        return json(res, 200, view(task));
      }
      if (req.method === "DELETE") {
        tasks.delete(task.id);
        fake.deleted.push(task.id);
        return res.writeHead(200).end();
      }
    }
    return json(res, 404, { message: "Not Found" });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { message: "fake failed" });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return fake;
}
