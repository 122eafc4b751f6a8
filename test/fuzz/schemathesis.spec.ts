import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { type Platform, startPlatform } from "../support/cli.ts";

/**
 * The public contract, checked by a fuzzer: Schemathesis reads the gateway's GET /openapi.json, sends what the
 * document allows and what it forbids to every operation of the platform started with `gaia dev` on real
 * PostgreSQL, Redis and NATS, and checks every answer against the document (`--checks all`): no server error,
 * every status, content type, header and body as documented, invalid input refused, valid input accepted,
 * Allow on 405 as documented, credentials enforced. Once with a user's API key, once without credentials.
 * test/fuzz/schemathesis.toml says where a check's expectation is widened and why.
 */

const VERSION = "4.32.5";
const VENV = join(homedir(), ".cache", "gaia", `schemathesis-${VERSION}`);
const CONFIG = resolve("test/fuzz/schemathesis.toml");
/** Examples per operation and phase: enough to reach each status, bounded for two shared cores. */
const MAX_EXAMPLES = 10;
/** A fixed seed makes a failure reproducible; change it to explore other inputs. */
const SEED = 20261203;

const run = promisify(execFile);
const st = join(VENV, "bin", "st");

/** Schemathesis in a virtualenv of its own, made once per version; an interrupted install is started over. */
async function installSchemathesis(): Promise<void> {
  const done = join(VENV, "installed");
  if (existsSync(done)) return;
  await rm(VENV, { recursive: true, force: true });
  await mkdir(dirname(VENV), { recursive: true });
  await run("python3", ["-m", "venv", VENV]).catch((error) => {
    throw new Error(`python3 -m venv failed (apt-get install -y python3 python3-venv): ${error}`);
  });
  await run(join(VENV, "bin", "pip"), ["install", "--quiet", `schemathesis==${VERSION}`], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const { stdout } = await run(st, ["--version"]);
  assert.match(stdout, new RegExp(VERSION.replaceAll(".", "\\.")));
  await writeFile(done, `${VERSION}\n`);
}

interface FuzzResult {
  code: number | null;
  output: string;
}

/** One Schemathesis run against the gateway; its working files stay in a temporary folder. */
async function schemathesis(gateway: string, headers: string[]): Promise<FuzzResult> {
  const cwd = await mkdtemp(join(tmpdir(), "gaia-fuzz-"));
  const args = [
    "--config-file",
    CONFIG,
    "run",
    `${gateway}/openapi.json`,
    "--checks",
    "all",
    "--max-examples",
    String(MAX_EXAMPLES),
    "--seed",
    String(SEED),
    "--workers",
    "2",
    "--generation-database",
    "none",
    "--no-color",
    ...headers.flatMap((h) => ["-H", h]),
  ];
  try {
    return await new Promise((resolvePromise, reject) => {
      const child = spawn(st, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      child.on("error", reject);
      child.on("exit", (code) => resolvePromise({ code, output }));
    });
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

/** What a failed run found: Schemathesis's failure listing and summary, with megabyte bodies cut short. */
const findings = (output: string) => {
  const start = output.search(/^=+ (FAILURES|ERRORS) =+$/m);
  return (start === -1 ? output : output.slice(start))
    .split("\n")
    .map((line) => (line.length > 1000 ? `${line.slice(0, 1000)} ...` : line))
    .join("\n");
};

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `${url}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as Record<string, unknown>;
}

describe("the public contract, fuzzed by Schemathesis", function () {
  this.timeout(15 * 60_000);
  let platform: Platform;
  let key: string;

  before(async function () {
    this.timeout(10 * 60_000);
    await installSchemathesis();
    // Limits far above what the fuzzer sends: a run of 429s would check nothing else.
    const limit = "1000000";
    platform = await startPlatform({
      GAIA_RATE_LIMIT_USER: limit,
      GAIA_RATE_LIMIT_ANONYMOUS: limit,
      GAIA_RATE_LIMIT_GUEST: limit,
    });
    const email = `fuzz-${process.pid}@example.com`;
    const password = "fuzzing the public contract";
    await post(`${platform.gateway}/api/v1/auth/register`, { email, password });
    const session = await post(`${platform.gateway}/api/v1/auth/login`, { email, password });
    const created = await post(
      `${platform.gateway}/api/v1/auth/keys`,
      { name: "schemathesis" },
      { authorization: `Bearer ${session.access_token}` },
    );
    key = String(created.key);
  });

  after(() => platform?.stop());

  for (const [who, headers] of [
    ["with a user's API key", () => [`X-API-Key: ${key}`]],
    ["without credentials", () => []],
  ] as const) {
    it(`finds no server error and no departure from the document, ${who}`, async () => {
      const { code, output } = await schemathesis(platform.gateway, headers());
      assert.match(output, /API Operations:\s+Selected: \d+\/\d+\s+Tested: [1-9]/, output);
      assert.equal(code, 0, `Schemathesis ${VERSION} (seed ${SEED}) found:\n${findings(output)}`);
    });
  }
});
