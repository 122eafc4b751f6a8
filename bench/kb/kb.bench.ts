/**
 * Knowledge base: search, write and sync on a repository of 10,000 markdown files (about 25 MB) that exists, with
 * history, before the kb first starts.
 *
 *   node --import tsx bench/kb/kb.bench.ts [--files 10000] [--megabytes 25] [--seed 1] [--rounds 3]
 *       [--hits 300] [--misses 150] [--writes 60] [--syncs 15] [--results bench/RESULTS.md] [--explain]
 *       [--keep (leave the corpus and its bare remotes in the temporary folder)]
 *
 * 1. A seeded generator writes the corpus (worlds/<n>/<kind>/<name>.md, shared/<kind>/<name>.md, lore text whose
 *    words follow a Zipf law, so some are in most files and each file's own name in one or a few), commits it once
 *    and pushes it to a bare repository, which is copied for the second platform.
 * 2. Two platforms from services/kb/test/support/platform.ts (PostgreSQL, Redis, NATS, auth, kb, gateway on
 *    loopback, all in this process) adopt those remotes: one in git mode, one in hybrid mode (git the truth,
 *    PostgreSQL the index; the bench waits until the first index of the 10,000 files is written).
 * 3. Search, through the gateway, one request at a time, each timed with performance.now around fetch: repeated
 *    queries (answered from the kb's Redis cache) and queries never asked before (cache misses: real searches),
 *    in words of three document frequencies. The same words are searched with ripgrep directly in the corpus
 *    folder: the bare command, and the kb's own arguments stopped at the kb's 2,000 hits; and the kb's searchFolder
 *    is called in this process (no HTTP). Targets alternate in rounds; warm-up queries (words not measured) come
 *    first. A search the gateway gives up on (504 after 30 s) is counted, and the next waits for the kb to finish it.
 * 4. Writes in git mode: each a commit pushed to the bare remote before the answer.
 * 5. Sync in hybrid mode: someone outside pushes a commit changing one file with plain git; timed from
 *    POST /sync/from-git until the new text is found by search.
 *
 * Prints the tables and appends them to bench/RESULTS.md under "Knowledge base". Needs PostgreSQL, Redis, NATS,
 * git and rg installed (started on loopback as in tests).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { searchFolder } from "../../services/kb/src/search.ts";
import { type KbPlatform, startKbPlatform } from "../../services/kb/test/support/platform.ts";
import { stopAllServers } from "../../test/support/servers.ts";
import { appendToSection, type Summary, summary } from "../results.ts";

const KB = "/api/v0.2/kb";
/** The kb stops a search after this many hits (MAX_HITS in services/kb/src/knowledge.ts). */
const KB_MAX_HITS = 2000;

// ---------------------------------------------------------------------------------------------------------------
// The corpus.

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
type Random = () => number;

/** Picks from a list by rank with probability proportional to 1 / rank^s. */
class Zipf<T> {
  readonly #items: readonly T[];
  readonly #cumulative: Float64Array;
  constructor(items: readonly T[], s = 1) {
    this.#items = items;
    this.#cumulative = new Float64Array(items.length);
    let sum = 0;
    for (let i = 0; i < items.length; i++) this.#cumulative[i] = sum += 1 / (i + 1) ** s;
  }
  pick(random: Random): T {
    const target = random() * this.#cumulative[this.#cumulative.length - 1]!;
    let lo = 0;
    let hi = this.#cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return this.#items[lo]!;
  }
}

const NOUNS = (
  "river mountain king queen city temple sword crown forest harbor tower empire war treaty dragon spirit god " +
  "goddess shrine ship fleet road bridge gate wall castle village valley desert sea island storm winter summer " +
  "harvest plague famine library scroll map oath blood fire stone iron gold silver salt wine grain horse wolf " +
  "raven serpent council guild order cult legion army rebellion heir prince princess priest monk merchant smith " +
  "hunter sailor scholar witch wizard knight captain general spy thief pilgrim prophecy relic artifact ruin tomb " +
  "crypt mine forge market festival ritual song legend chronicle dynasty border province capital frontier pass " +
  "lake marsh glacier volcano moon sun star comet eclipse tide wind rain ash bone mask banner throne coin tax law " +
  "trial exile siege battle duel alliance marriage betrayal murder debt secret letter voice dream shadow light " +
  "mirror door key lamp garden orchard well spring cave cliff hill plain steppe jungle reef lighthouse canal " +
  "aqueduct archive vault prison barracks inn tavern hall court tribe clan house family child mother father " +
  "brother sister widow ghost demon angel giant dwarf troll golem beast hound falcon bear stag boar eel whale " +
  "kraken amulet ring staff bow spear shield armor helm cloak potion poison herb rune sigil glyph language " +
  "dialect calendar season age era century decade"
).split(" ");
const ADJECTIVES = (
  "ancient northern southern eastern western silver golden broken hidden forgotten sacred cursed burning frozen " +
  "drowned hollow crimson pale black white grey green blue iron stone wooden vast narrow quiet restless loyal " +
  "treacherous wise foolish young old last first lost distant sunken shining bitter gentle cruel proud humble " +
  "holy profane wild tame secret open empty crowded ruined rebuilt fallen risen eternal brief strange familiar " +
  "wealthy poor noble common fabled obscure"
).split(" ");
const VERBS = (
  "founded crossed betrayed ruled defended burned built destroyed discovered forged guarded sealed opened " +
  "abandoned conquered rescued cursed blessed stole sold bought married exiled crowned buried raised hunted " +
  "named mapped studied translated hid revealed broke mended sheltered besieged surrendered negotiated " +
  "inherited claimed lost found summoned banished followed led taught feared worshipped forgot remembered"
).split(" ");
const PREPOSITIONS = "beyond beneath across near against under above within along toward behind around".split(
  " ",
);
const SEASONS = "spring summer autumn winter".split(" ");
const SYLLABLES = (
  "ka ran mir thal dor vyn el zar os ith bel gor lun sa tor wen ul fen quar ish ny drel av oth rim sel ga mor " +
  "cy ond bra kesh lio ume tav yr phe dun iss cal vor nae hesk"
).split(" ");

const KINDS = {
  characters: ["Overview", "Early life", "Deeds", "Relations", "Rumours"],
  places: ["Overview", "Geography", "History", "Notable sites", "Travel notes"],
  factions: ["Overview", "Founding", "Beliefs", "Members", "Conflicts"],
  history: ["Summary", "Causes", "Course of events", "Aftermath", "Sources"],
  items: ["Description", "Origin", "Powers", "Known bearers"],
  sessions: ["Recap", "Loose threads", "Next time"],
} as const;
const SHARED_KINDS = {
  glossary: ["Meaning", "Usage", "Related terms"],
  cosmology: ["Overview", "The heavens", "The underworld", "Disputes"],
  rules: ["Rule", "Examples", "Exceptions"],
  timeline: ["Summary", "Entries"],
  style: ["Guideline", "Good examples", "To avoid"],
} as const;

interface Corpus {
  files: { path: string; content: string }[];
  bytes: number;
  /** In how many files each word (lower case) appears, for the words queries are drawn from. */
  df: Map<string, number>;
  /** Names of files (one each) and of the shared pantheon: invented words. */
  names: Set<string>;
}

/** The corpus, the same for the same arguments. */
function generateCorpus(fileCount: number, totalBytes: number, seed: number): Corpus {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const shuffle = <T>(items: T[]) => {
    for (let i = items.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  };
  const english = new Set([...NOUNS, ...ADJECTIVES, ...VERBS]);
  const names = new Set<string>();
  const newName = (): string => {
    for (;;) {
      const parts = 2 + int(3);
      let name = "";
      for (let i = 0; i < parts; i++) name += SYLLABLES[int(SYLLABLES.length)];
      if (name.length >= 5 && !names.has(name) && !english.has(name)) {
        names.add(name);
        return name[0]!.toUpperCase() + name.slice(1);
      }
    }
  };
  const nouns = new Zipf(shuffle([...NOUNS]));
  const adjectives = new Zipf(shuffle([...ADJECTIVES]));
  const verbs = new Zipf(shuffle([...VERBS]));
  const pantheon = Array.from({ length: 300 }, newName);
  const globalNames = new Zipf(pantheon);

  const worldCount = 40;
  const sharedCount = Math.round(fileCount * 0.05);
  const worldKinds = Object.keys(KINDS) as (keyof typeof KINDS)[];
  const sharedKinds = Object.keys(SHARED_KINDS) as (keyof typeof SHARED_KINDS)[];
  interface Planned {
    path: string;
    name: string;
    world: number;
    sections: readonly string[];
    bytes: number;
  }
  // Each file is about one named subject; file sizes are log-normal, scaled to the total asked for.
  const planned: Planned[] = [];
  const worldNames = Array.from({ length: worldCount }, newName);
  const weights: number[] = [];
  for (let i = 0; i < fileCount; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    weights.push(Math.exp(0.8 * z));
  }
  const weightSum = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < fileCount; i++) {
    const name = newName();
    const bytes = Math.max(400, (weights[i]! / weightSum) * totalBytes - 60);
    if (i < sharedCount) {
      const kind = sharedKinds[i % sharedKinds.length]!;
      planned.push({
        path: `shared/${kind}/${name.toLowerCase()}.md`,
        name,
        world: -1,
        sections: SHARED_KINDS[kind],
        bytes,
      });
    } else {
      const world = (i - sharedCount) % worldCount;
      const indexFile = i - sharedCount < worldCount;
      const kind = worldKinds[int(worldKinds.length)]!;
      planned.push({
        path: indexFile
          ? `worlds/${world + 1}/README.md`
          : `worlds/${world + 1}/${kind}/${name.toLowerCase()}.md`,
        name: indexFile ? worldNames[world]! : name,
        world,
        sections: indexFile ? ["Overview", "Peoples", "Places", "History"] : KINDS[kind],
        bytes,
      });
    }
  }
  // Within a world, its subjects are mentioned Zipf-wise: a few everywhere, most only in their own file.
  const perWorld = Array.from({ length: worldCount }, (_, w) =>
    shuffle(planned.filter((p) => p.world === w).map((p) => p.name)),
  );
  const worldZipf = perWorld.map((list) => new Zipf(list, 1.1));

  const df = new Map<string, number>();
  const files: { path: string; content: string }[] = [];
  let total = 0;
  for (const file of planned) {
    const seen = new Set<string>();
    const use = (word: string) => {
      seen.add(word.toLowerCase());
      return word;
    };
    const world = file.world >= 0 ? file.world : int(worldCount);
    const someone = () => {
      const r = random();
      if (r < 0.15) return use(file.name);
      if (r < (file.world >= 0 ? 0.75 : 0.4)) return use(worldZipf[world]!.pick(random));
      return use(globalNames.pick(random));
    };
    const n = () => use(nouns.pick(random));
    const a = () => use(adjectives.pick(random));
    const v = () => use(verbs.pick(random));
    const p = () => PREPOSITIONS[int(PREPOSITIONS.length)]!;
    const year = () => String(1 + int(1400));
    const templates = [
      () => `${someone()} ${v()} the ${a()} ${n()} of ${someone()} in the year ${year()}.`,
      () => `The ${n()} ${p()} the ${a()} ${n()} was ${v()} by ${someone()}.`,
      () => `Few remember that ${someone()} once ${v()} a ${n()} ${p()} the ${n()}.`,
      () =>
        `According to the ${n()} of ${use(globalNames.pick(random))}, the ${a()} ${n()} ${v()} ${p()} the ${n()}.`,
      () => `It is said that the ${n()} ${v()} when ${someone()} ${v()} the ${a()} ${n()}.`,
      () => `${someone()} and ${someone()} ${v()} the ${n()} together, though the ${n()} never forgave them.`,
      () =>
        `Travellers speak of a ${a()} ${n()} ${p()} ${someone()}, where the ${n()} is ${v()} each ${SEASONS[int(4)]}.`,
      () =>
        `The ${a()} ${n()} remains ${a()}; scholars of ${someone()} dispute whether ${someone()} ${v()} it.`,
      () => `In ${year()} the ${n()} of the ${a()} ${n()} was ${v()}, and the ${n()} with it.`,
    ];
    const sentence = () => templates[int(templates.length)]!();
    let text = `# ${use(file.name)}\n\n> ${sentence()}\n`;
    for (let s = 0; text.length < file.bytes; s++) {
      text += `\n## ${file.sections[s % file.sections.length]}\n\n`;
      const list = random() < 0.35;
      const items = 2 + int(5);
      for (let i = 0; i < items && text.length < file.bytes; i++) {
        if (list) {
          const r = random();
          text +=
            r < 0.4
              ? `- **${someone()}**: ${sentence()}\n`
              : r < 0.7
                ? `- See [[${someone()}]] for the ${n()}.\n`
                : `- ${year()}: ${sentence()}\n`;
        } else text += `${i === 0 ? "" : " "}${sentence()}`;
      }
      if (!list) text += "\n";
    }
    for (const word of seen) df.set(word, (df.get(word) ?? 0) + 1);
    files.push({ path: file.path, content: text });
    total += Buffer.byteLength(text);
  }
  return { files, bytes: total, df, names };
}

/** Query words in three classes of document frequency, drawn the same way for the same seed. */
function queryWords(corpus: Corpus, seed: number) {
  const random = mulberry32(seed ^ 0x5eed);
  const count = corpus.files.length;
  const classOf = (word: string, df: number) => {
    if (df >= count * 0.1 && !corpus.names.has(word) && word.length >= 5) return "common";
    if (df >= count * 0.003 && df <= count * 0.03) return "mid";
    if (df <= 5 && corpus.names.has(word) && word.length >= 7) return "rare";
    return null;
  };
  const classes = { common: [] as string[], mid: [] as string[], rare: [] as string[] };
  for (const [word, df] of [...corpus.df].sort(([a], [b]) => a.localeCompare(b))) {
    const c = classOf(word, df);
    if (c) classes[c].push(word);
  }
  for (const list of Object.values(classes)) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
  }
  return classes;
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring.

const median = (values: number[]) => summary(values).p50;

/** One request through the gateway, timed from before fetch until its whole answer is read. */
async function timed<T = Record<string, unknown>>(
  gateway: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  allow: number[] = [],
): Promise<{ ms: number; status: number; body: T }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  const response = await fetch(`${gateway}${path}`, {
    method,
    headers: { "x-api-key": key, ...(payload ? { "content-type": "application/json" } : {}) },
    body: payload,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  if (!response.ok && !allow.includes(response.status))
    throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return { ms, status: response.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** ripgrep run in `cwd`, timed from spawn until it exits; `stopAfter` matches, it is killed (as the kb does). */
function timeRipgrep(
  cwd: string,
  args: string[],
  stopAfter?: number,
): Promise<{ ms: number; matches: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("rg", args, { cwd, stdio: ["ignore", "pipe", "ignore"] });
    let matches = 0;
    let pending = "";
    let stopped = false;
    child.on("error", reject);
    child.stdout.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString("utf8")).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith('{"type":"match"')) continue;
        matches++;
        if (stopAfter !== undefined && matches >= stopAfter && !stopped) {
          stopped = true;
          child.kill();
        }
      }
    });
    child.on("close", () => resolve({ ms: performance.now() - started, matches }));
  });
}

const bareRgArgs = (word: string) => ["--json", "-i", "-F", "-e", word, "."];
/** The kb's own ripgrep arguments for a one-word query (ripgrepArgs in services/kb/src/search.ts). */
const kbRgArgs = (word: string) => [
  "--json",
  "--no-config",
  "--max-count",
  "20",
  "--max-filesize",
  String(1024 * 1024),
  "--ignore-case",
  "--fixed-strings",
  "-e",
  word,
  "--",
  ".",
];

interface CacheStats {
  hits: number;
  misses: number;
}

type WordClass = "common" | "mid" | "rare";
const CLASSES: WordClass[] = ["common", "mid", "rare"];

interface SearchTarget {
  name: string;
  /** Runs one query untimed, so that the repeated queries are in the kb's cache (its TTL is 300 s by default). */
  prime?: (word: string) => Promise<unknown>;
  /**
   * Runs one query; answers the time and how many hits (or matching lines) it found, null when the gateway gave
   * up waiting (504, after its default 30 s timeout).
   */
  run(word: string): Promise<{ ms: number; total: number | null }>;
  stats?: () => Promise<CacheStats>;
}

interface Samples {
  samples: number[];
  /** The totals of the answered requests. */
  totals: number[];
  timedOut: number;
}
interface Phase extends Samples {
  byClass: Record<WordClass, Samples>;
  cache?: CacheStats;
}
const emptySamples = (): Samples => ({ samples: [], totals: [], timedOut: 0 });
const emptyPhase = (): Phase => ({
  ...emptySamples(),
  byClass: { common: emptySamples(), mid: emptySamples(), rare: emptySamples() },
});

/** Until no query of the kb's on kb_documents has run for a moment (PostgreSQL's own view of its sessions). */
async function kbIdle(p: KbPlatform) {
  const prisma = p.kbRuntimes[0]!.db.prisma;
  for (let idle = 0; idle < 3; ) {
    const [{ n }] = await prisma.$queryRawUnsafe<[{ n: number }]>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%kb_documents%'`,
    );
    idle = n === 0 ? idle + 1 : 0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Corpus Generator",
      GIT_AUTHOR_EMAIL: "corpus@example.com",
      GIT_COMMITTER_NAME: "Corpus Generator",
      GIT_COMMITTER_EMAIL: "corpus@example.com",
      GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z",
      GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z",
    },
  });
const REPOSITORY = new URL("../..", import.meta.url).pathname;
const shell = (command: string) =>
  execFileSync("sh", ["-c", command], { cwd: REPOSITORY, encoding: "utf8" }).trim();

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return performance.now() - started;
}

async function main(options: {
  files: number;
  megabytes: number;
  seed: number;
  rounds: number;
  hits: number;
  misses: number;
  writes: number;
  syncs: number;
  results: string;
  explain: boolean;
  keep: boolean;
}) {
  const loadAtStart = shell("uptime").replace(/^.*load average:\s*/, "");
  const date = shell("date -u");
  const commit = shell("git rev-parse --short HEAD");
  const dirty = shell("git status --porcelain") !== "";
  const cpuModel =
    (await readFile("/proc/cpuinfo", "utf8")).match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown";
  const nproc = shell("nproc");
  console.log(`load average at start: ${loadAtStart}`);

  const temp = await mkdtemp(join(tmpdir(), "gaia-kb-bench-"));
  const platforms: KbPlatform[] = [];
  try {
    // 1. The corpus, committed and pushed to a bare remote before any kb starts.
    let started = performance.now();
    const corpus = generateCorpus(options.files, options.megabytes * 1_000_000, options.seed);
    const generatedMs = performance.now() - started;
    const dir = join(temp, "corpus");
    started = performance.now();
    const made = new Set<string>();
    for (const file of corpus.files) {
      const folder = dirname(join(dir, file.path));
      if (!made.has(folder)) await mkdir(folder, { recursive: true });
      made.add(folder);
      await writeFile(join(dir, file.path), file.content);
    }
    const writtenMs = performance.now() - started;
    const gitRemote = join(temp, "git-remote.git");
    const hybridRemote = join(temp, "hybrid-remote.git");
    started = performance.now();
    git(temp, "init", "-q", "-b", "main", dir);
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "The lore corpus");
    git(temp, "init", "-q", "--bare", "-b", "main", gitRemote);
    git(dir, "push", "-q", gitRemote, "main");
    const committedMs = performance.now() - started;
    git(temp, "clone", "-q", "--bare", gitRemote, hybridRemote);
    const head = git(dir, "rev-parse", "HEAD").trim();
    const words = queryWords(corpus, options.seed);
    console.log(
      `corpus: ${corpus.files.length} files, ${(corpus.bytes / 1e6).toFixed(1)} MB, generated in ${(generatedMs / 1000).toFixed(1)} s, ` +
        `written in ${(writtenMs / 1000).toFixed(1)} s, committed and pushed in ${(committedMs / 1000).toFixed(1)} s; ` +
        `query words: ${CLASSES.map((c) => `${words[c].length} ${c}`).join(", ")}`,
    );

    // 2. The platforms, one after the other (the hybrid one's first index is heavy).
    started = performance.now();
    const gitPlatform = await startKbPlatform({ mode: "git", remotePath: gitRemote });
    platforms.push(gitPlatform);
    const gitReadyMs = performance.now() - started;
    started = performance.now();
    const hybridPlatform = await startKbPlatform({ mode: "hybrid", remotePath: hybridRemote });
    platforms.push(hybridPlatform);
    const hybridReadyMs = performance.now() - started;
    const prisma = hybridPlatform.kbRuntimes[0]!.db.prisma;
    await waitFor(
      "the hybrid index",
      30 * 60_000,
      async () => (await prisma.kbSyncState.findUnique({ where: { key: "indexed" } }))?.value === head,
    );
    const hybridIndexedMs = performance.now() - started;
    const indexedRows = await prisma.kbDocument.count();
    console.log(
      `git platform ready in ${(gitReadyMs / 1000).toFixed(1)} s; hybrid ready in ${(hybridReadyMs / 1000).toFixed(1)} s, ` +
        `indexed (${indexedRows} documents) ${(hybridIndexedMs / 1000).toFixed(1)} s after its start`,
    );
    for (const p of platforms) {
      const status = await p.call(await p.user("developer"), "GET", `${KB}/git/status`);
      if (status.body.head !== head || status.body.files !== options.files)
        throw new Error(`the kb did not adopt the repository as it is: ${JSON.stringify(status.body)}`);
    }

    // 3. Search.
    const reader = { git: await gitPlatform.user("user"), hybrid: await hybridPlatform.user("user") };
    const kbTarget = (name: string, p: KbPlatform, key: string): SearchTarget => ({
      name,
      prime(word) {
        return this.run(word);
      },
      async run(word) {
        const { ms, status, body } = await timed<{ total: number }>(
          p.gateways[0]!,
          key,
          "POST",
          `${KB}/search`,
          { query: word, mode: "words", limit: 20 },
          [504],
        );
        if (status !== 504) return { ms, total: body.total };
        // The kb goes on searching after the gateway gave up: let it finish, or it would slow the next request.
        await kbIdle(p);
        return { ms, total: null };
      },
      async stats() {
        return (await timed<CacheStats>(p.gateways[0]!, key, "GET", `${KB}/cache/stats`)).body;
      },
    });
    const targets: SearchTarget[] = [
      kbTarget("git mode", gitPlatform, reader.git.key),
      kbTarget("hybrid mode", hybridPlatform, reader.hybrid.key),
      {
        name: "bare `rg`",
        run: async (word) => {
          const r = await timeRipgrep(dir, bareRgArgs(word));
          return { ms: r.ms, total: r.matches };
        },
      },
      {
        name: "rg as the kb runs it",
        run: async (word) => {
          const r = await timeRipgrep(dir, kbRgArgs(word), KB_MAX_HITS);
          return { ms: r.ms, total: r.matches };
        },
      },
      {
        name: "the kb's searchFolder, called in this process",
        run: async (word) => {
          const started = performance.now();
          const hits = await searchFolder(
            {
              root: gitPlatform.clonePath(0),
              ripgrep: "rg",
              maxFileBytes: 1024 * 1024,
              extensions: new Set(["md"]),
            },
            { text: word, kind: "words", under: "", caseSensitive: false },
            KB_MAX_HITS,
            () => true,
          );
          return { ms: performance.now() - started, total: hits.length };
        },
      },
    ];
    const perClass = Math.ceil(options.misses / CLASSES.length);
    const take = (c: WordClass, from: number, n: number) => words[c].slice(from, from + n);
    const warmWords = CLASSES.flatMap((c) => take(c, 0, 5));
    const hitWords = CLASSES.flatMap((c) => take(c, 5, 4));
    const missWords = Object.fromEntries(CLASSES.map((c) => [c, take(c, 9, perClass)])) as Record<
      WordClass,
      string[]
    >;
    const classOf = new Map(
      CLASSES.flatMap((c) => [...take(c, 0, 9 + perClass)].map((w) => [w, c] as const)),
    );
    // Warm-up: JIT, connections, the page cache, the kb's query paths; then each repeated query once (to cache it).
    for (const target of targets)
      for (const word of [...warmWords, ...warmWords, ...hitWords]) await target.run(word);
    const phases = new Map(targets.map((t) => [t.name, { hits: emptyPhase(), misses: emptyPhase() }]));
    const record = (phase: Phase, word: string, r: { ms: number; total: number | null }) => {
      for (const into of [phase, phase.byClass[classOf.get(word)!]]) {
        into.samples.push(r.ms);
        if (r.total === null) into.timedOut++;
        else into.totals.push(r.total);
      }
    };
    const addStats = (phase: Phase, before: CacheStats, after: CacheStats) => {
      phase.cache = {
        hits: (phase.cache?.hits ?? 0) + after.hits - before.hits,
        misses: (phase.cache?.misses ?? 0) + after.misses - before.misses,
      };
    };
    const hitsPerRound = Math.ceil(options.hits / options.rounds);
    for (let round = 0; round < options.rounds; round++) {
      const roundMisses = CLASSES.flatMap((c) => {
        const per = Math.ceil(missWords[c].length / options.rounds);
        return missWords[c].slice(round * per, (round + 1) * per);
      });
      for (const target of targets) {
        const phase = phases.get(target.name)!;
        if (target.prime) for (const word of hitWords) await target.prime(word);
        let before = await target.stats?.();
        // The repeated queries measure the kb's cache; ripgrep has none.
        for (let i = 0; target.stats && i < hitsPerRound; i++) {
          const word = hitWords[(round * hitsPerRound + i) % hitWords.length]!;
          record(phase.hits, word, await target.run(word));
        }
        let after = await target.stats?.();
        if (before && after) addStats(phase.hits, before, after);
        before = after;
        for (const word of roundMisses) record(phase.misses, word, await target.run(word));
        after = await target.stats?.();
        if (before && after) addStats(phase.misses, before, after);
      }
      console.log(`search round ${round + 1} of ${options.rounds} done`);
    }

    // 4. Writes in git mode: commit + push to the bare remote, half updates of existing files, half new files.
    const writer = await gitPlatform.user("developer");
    const random = mulberry32(options.seed ^ 0x3217e);
    const worldFiles = corpus.files.filter(
      (f) => f.path.startsWith("worlds/") && !f.path.endsWith("README.md"),
    );
    const writeSamples = { update: [] as number[], create: [] as number[] };
    const updatedBytes: number[] = [];
    const commitsBefore = Number(git(temp, "--git-dir", gitRemote, "rev-list", "--count", "main").trim());
    const warmWrites = 6;
    for (let i = 0; i < warmWrites + options.writes; i++) {
      const update = i % 2 === 0;
      const file = worldFiles[Math.floor(random() * worldFiles.length)]!;
      const body = update
        ? {
            path: file.path,
            content: `${file.content}\n## Bench note ${i}\n\nA note written by the benchmark.\n`,
          }
        : {
            path: `shared/bench/note-${i}.md`,
            content: `# Note ${i}\n\nA new file written by the benchmark.\n`,
          };
      const { ms } = await timed(gitPlatform.gateways[0]!, writer.key, "POST", `${KB}/write`, body);
      if (i >= warmWrites) writeSamples[update ? "update" : "create"].push(ms);
      if (i >= warmWrites && update) updatedBytes.push(Buffer.byteLength(body.content));
    }
    const commitsAfter = Number(git(temp, "--git-dir", gitRemote, "rev-list", "--count", "main").trim());
    if (commitsAfter - commitsBefore !== warmWrites + options.writes)
      throw new Error(
        `expected ${warmWrites + options.writes} commits on the remote, found ${commitsAfter - commitsBefore}`,
      );
    console.log("writes done");

    // 5. Sync in hybrid mode: a commit pushed from outside, then sync/from-git until search finds the new text.
    const outside = await hybridPlatform.outsideClone();
    const syncer = await hybridPlatform.user("developer");
    const syncSamples = { call: [] as number[], searchable: [] as number[], searches: [] as number[] };
    const warmSyncs = 2;
    for (let i = 0; i < warmSyncs + options.syncs; i++) {
      const file = worldFiles[Math.floor(random() * worldFiles.length)]!;
      const token = `zqsync${options.seed}x${String(i).padStart(4, "0")}`;
      await writeFile(
        join(outside.dir, file.path),
        `${file.content}\n## Outside note\n\nThe ${token} was recorded by hand.\n`,
      );
      outside.git("commit", "-q", "-am", `Outside edit ${i}`);
      outside.git("push", "-q", "origin", "HEAD:main");
      const t0 = performance.now();
      const synced = await timed<{ changed_files: number }>(
        hybridPlatform.gateways[0]!,
        syncer.key,
        "POST",
        `${KB}/sync/from-git`,
      );
      const callMs = performance.now() - t0;
      if (synced.body.changed_files !== 1)
        throw new Error(`sync changed ${synced.body.changed_files} files, expected 1`);
      let searches = 0;
      for (;;) {
        // A different spelling each time: an answer cached before the index caught up would not be asked again.
        const query = token.slice(0, searches) + token.slice(searches).toUpperCase();
        const found = await timed<{ total: number }>(
          hybridPlatform.gateways[0]!,
          syncer.key,
          "POST",
          `${KB}/search`,
          {
            query,
          },
        );
        searches++;
        if (found.body.total > 0) break;
        if (searches > token.length) throw new Error(`${token} never became searchable`);
      }
      const searchableMs = performance.now() - t0;
      if (i >= warmSyncs) {
        syncSamples.call.push(callMs);
        syncSamples.searchable.push(searchableMs);
        syncSamples.searches.push(searches);
      }
    }
    console.log("syncs done");

    if (options.explain) await explain(prisma, missWords);
    const loadAtEnd = shell("uptime").replace(/^.*load average:\s*/, "");

    // The report.
    const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
    const row = (label: string, s: Summary, ...rest: string[]) =>
      `| ${[label, String(s.n), fmt(s.p50), fmt(s.p90), fmt(s.p99), ...rest].join(" | ")} |`;
    const classLabel = {
      common: "common words (each in ≥ 10 % of files)",
      mid: "mid words (in 0.3–3 % of files)",
      rare: "rare words (names in ≤ 5 files)",
    };
    const dfRange = (c: WordClass) => {
      const dfs = missWords[c].map((w) => corpus.df.get(w)!);
      return `${Math.min(...dfs)}–${Math.max(...dfs)}`;
    };
    const searchRows = targets.flatMap((t) => {
      const { hits, misses } = phases.get(t.name)!;
      const cache = (phase: Phase) =>
        phase.cache ? `${phase.cache.hits} hits, ${phase.cache.misses} misses` : "—";
      return [
        ...(t.stats
          ? [
              row(
                `${t.name}: repeated queries (${hitWords.length} words)`,
                summary(hits.samples),
                String(median(hits.totals)),
                String(hits.timedOut),
                cache(hits),
              ),
            ]
          : []),
        row(
          `${t.name}: queries never asked before, all`,
          summary(misses.samples),
          String(median(misses.totals)),
          t.stats ? String(misses.timedOut) : "—",
          cache(misses),
        ),
        ...CLASSES.map((c) =>
          row(
            `${t.name}: … ${classLabel[c]}`,
            summary(misses.byClass[c].samples),
            String(median(misses.byClass[c].totals)),
            t.stats ? String(misses.byClass[c].timedOut) : "—",
            "",
          ),
        ),
      ];
    });
    const gitMiss = summary(phases.get("git mode")!.misses.samples);
    const hybridMiss = summary(phases.get("hybrid mode")!.misses.samples);
    const gitHit = summary(phases.get("git mode")!.hits.samples);
    const hybridHit = summary(phases.get("hybrid mode")!.hits.samples);
    const rgBare = summary(phases.get(targets[2]!.name)!.misses.samples);
    const rgKb = summary(phases.get(targets[3]!.name)!.misses.samples);
    const folder = summary(phases.get(targets[4]!.name)!.misses.samples);
    const classP50 = (name: string) =>
      CLASSES.map((c) => `${c} ${fmt(summary(phases.get(name)!.misses.byClass[c].samples).p50)} ms`).join(
        ", ",
      );
    const verdict = (value: number, target: number) => (value <= target ? "met" : "**not met**");
    const allWrites = [...writeSamples.update, ...writeSamples.create];
    const report = [
      "",
      `### Run of ${date}`,
      "",
      `Machine: ${cpus().length} cores (\`nproc\` ${nproc}, ${cpuModel}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
        `Node ${process.versions.node}, ripgrep ${shell("rg --version").split("\n")[0]?.split(" ")[1]}, ` +
        `${shell("git --version")}; commit ${commit}${dirty ? " (with uncommitted changes in the tree)" : ""}. ` +
        `Load average ${loadAtStart} at the start and ${loadAtEnd} at the end (other work shared the cores). ` +
        "PostgreSQL, Redis, NATS, auth, kb and the gateway on loopback, kb, auth, gateway and this client in one process " +
        "(services/kb/test/support/platform.ts).",
      "",
      `Corpus: ${corpus.files.length} markdown files, ${(corpus.bytes / 1e6).toFixed(1)} MB (seed ${options.seed}; ` +
        `${corpus.files.filter((f) => f.path.startsWith("worlds/")).length} under worlds/1–40/<kind>/, ` +
        `${corpus.files.filter((f) => f.path.startsWith("shared/")).length} under shared/), one commit pushed to a bare ` +
        `repository before the kb started. Adopted: git mode ready in ${(gitReadyMs / 1000).toFixed(1)} s (the platform's ` +
        `whole start: PostgreSQL, Redis, NATS, auth, the clone, the gateway); hybrid mode ready in ${(hybridReadyMs / 1000).toFixed(1)} s and its first index of ` +
        `${indexedRows} documents written ${(hybridIndexedMs / 1000).toFixed(1)} s after its start.`,
      "",
      `Search: \`POST ${KB}/search\` \`{query, mode: "words", limit: 20}\` through the gateway as a user, one request at a ` +
        `time, timed around fetch until the answer is read; ${options.rounds} alternating rounds after a warm-up of ` +
        `${warmWords.length} other words (twice) and each repeated query once. "Repeated" cycles ${hitWords.length} words ` +
        `(4 of each class) already asked: answered from the kb's Redis cache. "Never asked before" uses each word once per ` +
        `target (${CLASSES.map((c) => `${missWords[c].length} ${c}, in ${dfRange(c)} files`).join("; ")}), the same ` +
        'words for every target: kb cache misses, real searches (the "all" row is equal thirds of the three classes). The cache column is the kb\'s own counters ' +
        `(\`GET ${KB}/cache/stats\`) over each phase. "Hits" is the median \`total\` (git mode: matching lines, at most ` +
        `20 a file, stopped at ${KB_MAX_HITS}; hybrid: documents) or, for rg, matching lines. ` +
        'Bare `rg` is `rg --json -i -F -e <word> .` run in the corpus folder; "rg as the kb runs it" is the kb\'s ' +
        "arguments (`--json --no-config --max-count 20 --max-filesize 1048576 --ignore-case --fixed-strings -e <word> " +
        `-- .\`) killed at the ${KB_MAX_HITS}th match as the kb kills it; both timed from spawn to exit, their output ` +
        'read; "searchFolder" is the kb\'s own search function (services/kb/src/search.ts: rg, its JSON parsed, ' +
        "snippets, scores, sorted) called in this process on the git-mode kb's working copy, without HTTP, identity, " +
        "rules or cache. Before each round's repeated queries each is asked once untimed (the kb's cache entries live " +
        '300 s, and a round takes longer). "504": requests the gateway answered with 504 after its default 30 s timeout (counted at the time of ' +
        "the 504, so the percentiles above them are lower bounds; the next request waited until the kb's queries were done).",
      "",
      "| target | n | p50 ms | p90 ms | p99 ms | hits (median) | 504 | cache |",
      "|---|---|---|---|---|---|---|---|",
      ...searchRows,
      "",
      `- Search in git mode: p50 **${fmt(gitMiss.p50)} ms** for queries never asked before (target ≤ 45 ms: ` +
        `${verdict(gitMiss.p50, 45)}; ${classP50("git mode")}); ${fmt(gitHit.p50)} ms from the cache. The same words ` +
        `with ripgrep alone: bare \`rg\` p50 ${fmt(rgBare.p50)} ms, rg as the kb runs it ${fmt(rgKb.p50)} ms, the kb's ` +
        `searchFolder in this process ${fmt(folder.p50)} ms.`,
      `- Search in hybrid mode: p50 **${fmt(hybridMiss.p50)} ms** for queries never asked before (target ≤ 10 ms: ` +
        `${verdict(hybridMiss.p50, 10)}; ${classP50("hybrid mode")}; ${phases.get("hybrid mode")!.misses.timedOut} ` +
        `answered 504); ${fmt(hybridHit.p50)} ms from the cache.`,
      "",
      `Writes in git mode: \`POST ${KB}/write\` as a developer, each answered once committed and pushed to the bare ` +
        `remote (${options.writes} measured after ${warmWrites}; the remote gained one commit per write).`,
      "",
      "| write | n | p50 ms | p90 ms | p99 ms |",
      "|---|---|---|---|---|",
      row(
        `update an existing file (worlds/…, median ${(median(updatedBytes) / 1000).toFixed(1)} KB)`,
        summary(writeSamples.update),
      ),
      row("create a new file (shared/bench/…)", summary(writeSamples.create)),
      row("all writes", summary(allWrites)),
      "",
      `Sync in hybrid mode: a clone outside Gaia commits a change to one file (a new word in it) and pushes it with ` +
        `plain git; timed from \`POST ${KB}/sync/from-git\` (fetch, move to the new head, index the one changed path) ` +
        `until \`search\` finds the new word (${options.syncs} measured after ${warmSyncs}; the first search after ` +
        `the sync's answer found it ${syncSamples.searches.filter((s) => s === 1).length} times of ${options.syncs}).`,
      "",
      "| sync of one outside commit | n | p50 ms | p90 ms | p99 ms |",
      "|---|---|---|---|---|",
      row("`sync/from-git` answered", summary(syncSamples.call)),
      row("new text searchable", summary(syncSamples.searchable)),
      "",
    ].join("\n");
    console.log(report);
    await appendToSection(options.results, "Knowledge base", report);
  } finally {
    for (const p of platforms) await p.close().catch(() => {});
    await stopAllServers();
    if (options.keep) console.log(`corpus and remotes kept in ${temp}`);
    else await rm(temp, { recursive: true, force: true });
  }
}

/** What PostgreSQL does for the first page of a hybrid search (the query index-search.ts sends). */
async function explain(
  prisma: KbPlatform["kbRuntimes"][number]["db"]["prisma"],
  missWords: Record<WordClass, string[]>,
) {
  const vector = `to_tsvector('simple', "title" || ' ' || "content")`;
  const tsquery = "replace(plainto_tsquery('simple', $1)::text, '&', '|')::tsquery";
  for (const c of CLASSES) {
    const word = missWords[c][0]!;
    const rows = await prisma.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
      `EXPLAIN (ANALYZE, BUFFERS) SELECT "path", "content", ts_rank(${vector}, ${tsquery}) AS rank FROM "kb_documents"
       WHERE ${vector} @@ ${tsquery} ORDER BY rank DESC, "path" LIMIT 200 OFFSET 0`,
      word,
    );
    console.log(`\nEXPLAIN ANALYZE, ${c} word "${word}":\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
  }
}

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "10000" },
    megabytes: { type: "string", default: "25" },
    seed: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    hits: { type: "string", default: "300" },
    misses: { type: "string", default: "150" },
    writes: { type: "string", default: "60" },
    syncs: { type: "string", default: "15" },
    results: { type: "string", default: new URL("../RESULTS.md", import.meta.url).pathname },
    explain: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});

await main({
  files: Number(values.files),
  megabytes: Number(values.megabytes),
  seed: Number(values.seed),
  rounds: Number(values.rounds),
  hits: Number(values.hits),
  misses: Number(values.misses),
  writes: Number(values.writes),
  syncs: Number(values.syncs),
  results: values.results!,
  explain: values.explain!,
  keep: values.keep!,
});
process.exit(0);
