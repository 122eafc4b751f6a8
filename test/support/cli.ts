import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, sharedPostgres, startNats, startRedis } from "./servers.ts";

/** The real `gaia` CLI as a child process, and the whole platform started with `gaia dev` on real servers. */

export interface Cli {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function gaia(args: string[], env: Record<string, string>): Cli {
  const child = spawn(process.execPath, ["--import", "tsx", "bin/gaia.ts", ...args], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function waitForOutput(cli: Cli, pattern: RegExp, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(cli.output())) {
    if (cli.child.exitCode !== null) throw new Error(`gaia exited early:\n${cli.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${cli.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Platform {
  dev: Cli;
  /** The variables `gaia dev` runs with, for further CLI commands on the same platform. */
  env: Record<string, string>;
  dataDir: string;
  gateway: string;
  /** Kills `gaia dev` if it still runs and removes its data directory. */
  stop(): Promise<void>;
}

/** `gaia dev` on PostgreSQL, Redis and NATS, every service on a free port; resolves once it says it runs. */
export async function startPlatform(extraEnv: Record<string, string> = {}): Promise<Platform> {
  const [postgres, redis, nats] = await Promise.all([sharedPostgres(), startRedis(), startNats()]);
  const dataDir = await mkdtemp(join(tmpdir(), "gaia-platform-"));
  const ports = await Promise.all(
    ["GATEWAY", "AUTH", "ASSET", "CHAT", "KB", "WEB"].map(async (n) => [n, await freePort()] as const),
  );
  const env: Record<string, string> = {
    GAIA_DATA_DIR: dataDir,
    DATABASE_URL: await postgres.createDatabase(),
    REDIS_URL: redis.url,
    NATS_URL: nats.url,
    ...Object.fromEntries(ports.map(([n, p]) => [`GAIA_${n}_PORT`, String(p)])),
    GAIA_METRICS_PORT: String(await freePort()),
    ...extraEnv,
  };
  const dev = gaia(["dev"], env);
  const stop = async () => {
    if (dev.child.exitCode === null) dev.child.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForOutput(dev, /Ctrl-C stops everything/, 90_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { dev, env, dataDir, gateway: `http://127.0.0.1:${env.GAIA_GATEWAY_PORT}`, stop };
}
