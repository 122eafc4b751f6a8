import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/**
 * Mubert's Music API v3 public directory on a loopback port, for tests: the wire format of Mubert's OpenAPI
 * document (POST/GET /api/v3/public/tracks, headers customer-id and access-token). A track's generation is
 * "processing" for `pollsToFinish` reads, then "done" with a url (served without credentials, like Mubert's
 * CDN) or "failed".
 */

export const FAKE_MUBERT_CUSTOMER = "8d2c8b3b-7c12-4a4a-95b1-9a3a3f5b1c10";
export const FAKE_MUBERT_TOKEN = "ct_fake_4f3e2b1a9c8d7e6f";
/** The adapter's key: the pair customer-id:access-token. */
export const FAKE_MUBERT_KEY = `${FAKE_MUBERT_CUSTOMER}:${FAKE_MUBERT_TOKEN}`;

export interface Failure {
  status?: number;
  /** Retry-After, in seconds. */
  retryAfter?: string;
  message?: string;
  hang?: boolean;
  /** submit: POST /api/v3/public/tracks; poll: GET of a track. Any API request when absent. */
  on?: "submit" | "poll";
}

interface FakeTrack {
  id: string;
  body: Record<string, unknown>;
  reads: number;
  fails: boolean;
  createdAt: string;
}

export interface FakeMubert {
  url: string;
  key: string;
  /** Tracks created. */
  submitted: number;
  bodies: Record<string, unknown>[];
  /** Downloads of track files, with the access-token header each carried (none expected). */
  downloads: { path: string; accessToken?: string }[];
  pollsToFinish: number;
  fail(...failures: Failure[]): void;
  /** The next track created ends with its generation "failed". */
  failNextTrack(): void;
  close(): Promise<void>;
}

/** A valid WAV: 16-bit mono PCM at 8 kHz, 0.01 s of silence. */
export function tinyWav(): Buffer {
  const samples = 80;
  const data = samples * 2;
  const b = Buffer.alloc(44 + data);
  b.write("RIFF", 0, "latin1");
  b.writeUInt32LE(36 + data, 4);
  b.write("WAVE", 8, "latin1");
  b.write("fmt ", 12, "latin1");
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36, "latin1");
  b.writeUInt32LE(data, 40);
  return b;
}

/** An ID3v2 header and one silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz): a playable MP3. */
export function tinyMp3(): Buffer {
  const id3 = Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x64], 0);
  return Buffer.concat([id3, frame]);
}

const FORMATS = ["mp3", "wav"];
const BITRATES = [32, 96, 128, 192, 256, 320];
const INTENSITIES = ["low", "medium", "high"];

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

export async function startFakeMubert(
  customerId = FAKE_MUBERT_CUSTOMER,
  accessToken = FAKE_MUBERT_TOKEN,
): Promise<FakeMubert> {
  const tracks = new Map<string, FakeTrack>();
  const failures: Failure[] = [];
  let failNext = 0;
  let seq = 0;

  const fake: FakeMubert = {
    url: "",
    key: `${customerId}:${accessToken}`,
    submitted: 0,
    bodies: [],
    downloads: [],
    pollsToFinish: 3,
    fail: (...f) => failures.push(...f),
    failNextTrack: () => {
      failNext++;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  /** TrackPublicResource, with generations (TrackShowPublicResource) when asked. */
  const view = (track: FakeTrack, withGenerations: boolean) => {
    const format = String(track.body.format ?? "mp3");
    const bitrate = Number(track.body.bitrate ?? 320);
    const done = track.reads >= fake.pollsToFinish;
    const status = done ? (track.fails ? "failed" : "done") : "processing";
    const resource: Record<string, unknown> = {
      id: track.id,
      session_id: `sess_${track.id.slice(0, 8)}`,
      playlist_index: track.body.playlist_index ?? null,
      prompt: track.body.prompt ?? null,
      duration: track.body.duration,
      intensity: INTENSITIES.indexOf(String(track.body.intensity ?? "medium")) + 1,
      mode: track.body.mode ?? "track",
      key: null,
      bpm: null,
      created_at: track.createdAt,
    };
    if (withGenerations)
      resource.generations = [
        {
          session_id: resource.session_id,
          format,
          bitrate,
          status,
          generated_at: status === "done" ? track.createdAt : null,
          expired_at: status === "done" ? "2099-01-01T00:00:00.000000Z" : null,
          created_at: track.createdAt,
          url: status === "done" ? `${fake.url}/b2b/tracks/${track.id}.${format}` : null,
        },
      ];
    return resource;
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? "/", "http://fake").pathname;

    const file = path.match(/^\/b2b\/tracks\/([^/.]+)\.(mp3|wav)$/);
    if (req.method === "GET" && file) {
      const token = req.headers["access-token"];
      fake.downloads.push({ path, accessToken: typeof token === "string" ? token : undefined });
      if (!tracks.has(file[1]!)) return json(res, 404, { message: "Not Found" });
      return res
        .writeHead(200, { "content-type": file[2] === "wav" ? "audio/wav" : "audio/mpeg" })
        .end(file[2] === "wav" ? tinyWav() : tinyMp3());
    }
    if (!path.startsWith("/api/v3/public/")) return json(res, 404, { message: "Not Found" });
    if (req.headers["customer-id"] !== customerId || req.headers["access-token"] !== accessToken)
      return json(res, 401, { message: "Unauthenticated", description: null, code: "Unauthenticated" });

    const kind =
      req.method === "POST" && path === "/api/v3/public/tracks"
        ? "submit"
        : req.method === "GET"
          ? "poll"
          : undefined;
    const index = failures.findIndex((f) => !f.on || f.on === kind);
    if (index >= 0) {
      const [failure] = failures.splice(index, 1);
      if (failure!.hang) return;
      const status = failure!.status ?? 500;
      return json(
        res,
        status,
        { message: failure!.message ?? (status === 429 ? "Too Many Attempts." : "Server Error") },
        failure!.retryAfter ? { "retry-after": failure!.retryAfter } : {},
      );
    }

    if (req.method === "POST" && path === "/api/v3/public/tracks") {
      const body = await readJson(req);
      const errors: Record<string, string[]> = {};
      if (!Number.isInteger(body.duration) || (body.duration as number) < 5)
        errors.duration = ["The duration field must be an integer of at least 5."];
      if (body.prompt === undefined && body.playlist_index === undefined && body.image === undefined)
        errors.prompt = ["The prompt field is required when none of playlist index / image are present."];
      if (typeof body.prompt === "string" && body.prompt.length > 255)
        errors.prompt = ["The prompt field must not be greater than 255 characters."];
      if (body.format !== undefined && !FORMATS.includes(String(body.format)))
        errors.format = ["Invalid format."];
      if (body.bitrate !== undefined && !BITRATES.includes(Number(body.bitrate)))
        errors.bitrate = ["Invalid bitrate."];
      if (body.intensity !== undefined && !INTENSITIES.includes(String(body.intensity)))
        errors.intensity = ["Invalid intensity."];
      if (Object.keys(errors).length > 0)
        return json(res, 422, { message: Object.values(errors)[0]![0], errors });
      const id = `6a1b9c44-2e3f-4d5b-89a1-${(++seq).toString(16).padStart(12, "0")}`;
      const track: FakeTrack = {
        id,
        body,
        reads: 0,
        fails: failNext > 0,
        createdAt: new Date().toISOString(),
      };
      if (failNext > 0) failNext--;
      tracks.set(id, track);
      fake.submitted++;
      fake.bodies.push(body);
      return json(res, 200, { data: view(track, false) });
    }

    const one = path.match(/^\/api\/v3\/public\/tracks\/([^/]+)$/);
    if (req.method === "GET" && one) {
      const track = tracks.get(decodeURIComponent(one[1]!));
      if (!track) return json(res, 404, { message: "Track not found", code: "NotFound" });
      track.reads++;
      return json(res, 200, { data: view(track, true) });
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
