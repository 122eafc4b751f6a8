import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tinyMp3 } from "./fake-mubert.ts";

/**
 * Freesound APIv2 text search on a loopback port, for tests: the wire format of freesound.org/docs/api
 * (GET /apiv2/search/ and its older name /apiv2/search/text/; token authentication by `Authorization: Token` or a
 * `token` parameter; errors as `{detail}`). Every query term must match a sound's name or tags, as Freesound's
 * are mandatory; `filter=duration:[a TO b]` bounds the duration; `fields` picks the fields answered. The HQ MP3
 * previews are served here too, and ask for the token like the API.
 */

export const FAKE_FREESOUND_KEY = "fs_fake_k3y_9f8e7d6c5b4a";

export interface Failure {
  status?: number;
  /** Retry-After, in seconds. */
  retryAfter?: string;
  message?: string;
  hang?: boolean;
}

export interface FakeSound {
  id: number;
  name: string;
  tags: string[];
  duration: number;
  license: string;
  username: string;
}

/** Best match first, as Freesound's score would rank them. */
export const CATALOGUE: FakeSound[] = [
  {
    id: 100,
    name: "Laser zap long.wav",
    tags: ["laser", "zap", "scifi", "retro"],
    duration: 12.5,
    license: "https://creativecommons.org/licenses/by/4.0/",
    username: "sfxmaker",
  },
  {
    id: 200,
    name: "Laser zap short.wav",
    tags: ["laser", "zap", "retro", "game"],
    duration: 0.8,
    license: "http://creativecommons.org/publicdomain/zero/1.0/",
    username: "pixelbeep",
  },
  {
    id: 300,
    name: "Old door creak",
    tags: ["door", "creak", "creaking", "wooden"],
    duration: 3.2,
    license: "http://creativecommons.org/licenses/by-nc/3.0/",
    username: "oldhouse",
  },
];

export interface FakeFreesound {
  url: string;
  key: string;
  /** Search requests answered (a Freesound "submission" is a search: nothing is created). */
  searches: number;
  /** The query parameters of each search. */
  queries: URLSearchParams[];
  /** Preview downloads. */
  downloads: string[];
  sounds: FakeSound[];
  fail(...failures: Failure[]): void;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

export async function startFakeFreesound(key = FAKE_FREESOUND_KEY): Promise<FakeFreesound> {
  const failures: Failure[] = [];
  const fake: FakeFreesound = {
    url: "",
    key,
    searches: 0,
    queries: [],
    downloads: [],
    sounds: [...CATALOGUE],
    fail: (...f) => failures.push(...f),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const previews = (s: FakeSound) => {
    const base = `${fake.url}/data/previews/${Math.floor(s.id / 1000)}/${s.id}_${s.username.length}`;
    return {
      "preview-hq-mp3": `${base}-hq.mp3`,
      "preview-hq-ogg": `${base}-hq.ogg`,
      "preview-lq-mp3": `${base}-lq.mp3`,
      "preview-lq-ogg": `${base}-lq.ogg`,
    };
  };

  const serialize = (s: FakeSound, fields: string[]) => {
    const all: Record<string, unknown> = {
      id: s.id,
      url: `https://freesound.org/people/${s.username}/sounds/${s.id}/`,
      name: s.name,
      tags: s.tags,
      license: s.license,
      username: s.username,
      duration: s.duration,
      previews: previews(s),
      type: "wav",
    };
    return Object.fromEntries(fields.filter((f) => f in all).map((f) => [f, all[f]]));
  };

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname;
    const token = url.searchParams.get("token");
    const authorized = req.headers.authorization === `Token ${key}` || token === key;

    const preview = path.match(/^\/data\/previews\/\d+\/(\d+)_\d+-(hq|lq)\.(mp3|ogg)$/);
    if (req.method === "GET" && preview) {
      if (!authorized) return json(res, 401, { detail: "Authentication credentials were not provided." });
      fake.downloads.push(path);
      if (!fake.sounds.some((s) => s.id === Number(preview[1])))
        return json(res, 404, { detail: "Not found" });
      return res.writeHead(200, { "content-type": "audio/mpeg" }).end(tinyMp3());
    }
    if (!path.startsWith("/apiv2/")) return json(res, 404, { detail: "Invalid url" });
    if (!authorized) return json(res, 401, { detail: "Invalid token." });

    const failure = failures.shift();
    if (failure) {
      if (failure.hang) return;
      const status = failure.status ?? 500;
      return json(
        res,
        status,
        { detail: failure.message ?? (status === 429 ? "Request was throttled." : "Server error") },
        failure.retryAfter ? { "retry-after": failure.retryAfter } : {},
      );
    }

    if (req.method === "GET" && (path === "/apiv2/search/" || path === "/apiv2/search/text/")) {
      fake.searches++;
      fake.queries.push(url.searchParams);
      const query = url.searchParams.get("query");
      const filter = url.searchParams.get("filter");
      if (query === null && filter === null)
        return json(res, 400, {
          detail: "At least one request parameter from Text Search should be included in the request.",
        });
      const terms = (query ?? "").toLowerCase().split(/\s+/).filter(Boolean);
      const range = filter?.match(/duration:\[\s*([\d.]+|\*)\s+TO\s+([\d.]+|\*)\s*\]/i);
      const min = range && range[1] !== "*" ? Number(range[1]) : -Infinity;
      const max = range && range[2] !== "*" ? Number(range[2]) : Infinity;
      const matches = fake.sounds.filter((s) => {
        const words = [...s.name.toLowerCase().split(/[^a-z0-9]+/), ...s.tags];
        return terms.every((t) => words.includes(t)) && s.duration >= min && s.duration <= max;
      });
      const pageSize = Math.min(150, Number(url.searchParams.get("page_size") ?? 15) || 15);
      const fields = (url.searchParams.get("fields") ?? "id,name,tags,username,license").split(",");
      return json(res, 200, {
        count: matches.length,
        previous: null,
        next: null,
        results: matches.slice(0, pageSize).map((s) => serialize(s, fields)),
      });
    }
    return json(res, 404, { detail: "Invalid url" });
  }

  const server = createServer(handle);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return fake;
}
