import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { TINY_PNG } from "./fake-meshy.ts";

/**
 * A Midjourney-compatible task API on a loopback port, for tests: the wire format of novicezk/midjourney-proxy
 * (POST /mj/submit/imagine answering {code, description, result, properties}; GET /mj/task/{id}/fetch answering
 * the task, or an empty body for an unknown one; `mj-api-secret` checked, 401 with no body otherwise). An imagine
 * goes NOT_START → SUBMITTED → IN_PROGRESS ("45%"...) → SUCCESS with an imageUrl, or FAILURE with a failReason.
 */

export const FAKE_MJ_SECRET = "mj_fake_secret_5a4b3c2d1e";

export interface Failure {
  status?: number;
  /** Retry-After, in seconds. */
  retryAfter?: string;
  /** Spring's `message` (when server.error.include-message is on). */
  message?: string;
  hang?: boolean;
  on?: "submit" | "poll";
}

interface FakeImagine {
  id: string;
  prompt: string;
  reads: number;
  failReason?: string;
  submitTime: number;
}

export interface FakeMidjourney {
  url: string;
  key: string;
  /** Imagines accepted. */
  submitted: number;
  prompts: string[];
  /** Image downloads, with the secret each carried. */
  downloads: { path: string; secret?: string }[];
  pollsToFinish: number;
  fail(...failures: Failure[]): void;
  /** The next submission answers this code instead of creating a task (23 queue full, 24 banned prompt, ...). */
  refuseNext(code: number, description: string): void;
  /** The next imagine ends FAILURE with this failReason. */
  failNextTask(reason: string): void;
  /** Forget every task, as a proxy with an in-memory store does when it restarts. */
  forgetTasks(): void;
  close(): Promise<void>;
}

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

export async function startFakeMidjourney(secret = FAKE_MJ_SECRET): Promise<FakeMidjourney> {
  const tasks = new Map<string, FakeImagine>();
  const failures: Failure[] = [];
  const refusals: { code: number; description: string }[] = [];
  const failReasons: string[] = [];
  let seq = 1_689_231_405_853_400;

  const fake: FakeMidjourney = {
    url: "",
    key: secret,
    submitted: 0,
    prompts: [],
    downloads: [],
    pollsToFinish: 4,
    fail: (...f) => failures.push(...f),
    refuseNext: (code, description) => refusals.push({ code, description }),
    failNextTask: (reason) => failReasons.push(reason),
    forgetTasks: () => tasks.clear(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const view = (task: FakeImagine) => {
    const n = task.reads;
    const done = n >= fake.pollsToFinish;
    const status = done
      ? task.failReason
        ? "FAILURE"
        : "SUCCESS"
      : n <= 1
        ? "NOT_START"
        : n === 2
          ? "SUBMITTED"
          : "IN_PROGRESS";
    const progress =
      status === "SUCCESS"
        ? "100%"
        : status === "IN_PROGRESS"
          ? `${Math.round((100 * n) / (fake.pollsToFinish + 1))}%`
          : status === "FAILURE"
            ? ""
            : "0%";
    return {
      id: task.id,
      action: "IMAGINE",
      status,
      prompt: task.prompt,
      promptEn: task.prompt,
      description: `/imagine ${task.prompt}`,
      state: null,
      submitTime: task.submitTime,
      startTime: n > 1 ? task.submitTime + 1000 : null,
      finishTime: done ? task.submitTime + 60_000 : null,
      progress,
      imageUrl:
        status === "SUCCESS" || status === "IN_PROGRESS" ? `${fake.url}/attachments/${task.id}.png` : null,
      failReason: status === "FAILURE" ? task.failReason : null,
      properties: { finalPrompt: task.prompt, discordInstanceId: "1118138338562560102" },
    };
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? "/", "http://fake").pathname;

    const image = path.match(/^\/attachments\/(\d+)\.png$/);
    if (req.method === "GET" && image) {
      const given = req.headers["mj-api-secret"];
      fake.downloads.push({ path, secret: typeof given === "string" ? given : undefined });
      if (!tasks.has(image[1]!)) return res.writeHead(404).end();
      return res.writeHead(200, { "content-type": "image/png" }).end(TINY_PNG);
    }
    if (!path.startsWith("/mj/")) return res.writeHead(404).end();
    if (req.headers["mj-api-secret"] !== secret) return res.writeHead(401).end();

    const kind = req.method === "POST" ? "submit" : req.method === "GET" ? "poll" : undefined;
    const index = failures.findIndex((f) => !f.on || f.on === kind);
    if (index >= 0) {
      const [failure] = failures.splice(index, 1);
      if (failure!.hang) return;
      const status = failure!.status ?? 500;
      // Spring Boot's error body.
      return json(
        res,
        status,
        {
          timestamp: new Date().toISOString(),
          status,
          error: status === 429 ? "Too Many Requests" : "Internal Server Error",
          ...(failure!.message ? { message: failure!.message } : {}),
          path,
        },
        failure!.retryAfter ? { "retry-after": failure!.retryAfter } : {},
      );
    }

    if (req.method === "POST" && path === "/mj/submit/imagine") {
      const body = await readJson(req);
      const refusal = refusals.shift();
      if (refusal)
        return json(res, 200, { code: refusal.code, description: refusal.description, properties: {} });
      if (typeof body.prompt !== "string" || !body.prompt.trim())
        return json(res, 200, { code: 4, description: "prompt不能为空", properties: {} });
      const id = String(++seq);
      tasks.set(id, {
        id,
        prompt: body.prompt,
        reads: 0,
        failReason: failReasons.shift(),
        submitTime: Date.now(),
      });
      fake.submitted++;
      fake.prompts.push(body.prompt);
      return json(res, 200, {
        code: 1,
        description: "提交成功",
        result: id,
        properties: { discordInstanceId: "1118138338562560102" },
      });
    }

    const fetchTask = path.match(/^\/mj\/task\/([^/]+)\/fetch$/);
    if (req.method === "GET" && fetchTask) {
      const task = tasks.get(decodeURIComponent(fetchTask[1]!));
      // The proxy answers null for a task it does not know: Spring writes an empty 200.
      if (!task) return res.writeHead(200).end();
      task.reads++;
      return json(res, 200, view(task));
    }
    return res.writeHead(404).end();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return fake;
}
