/**
 * The container engine for the image tests: the same choice as images/lib.sh (GAIA_CONTAINER_ENGINE, else a
 * running Docker, else podman), with podman's settings for this project (runc, images/containers.conf).
 * A machine without either fails the tests with the packages to install; it never skips them.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const INSTALL_HINT =
  "Install podman (Debian: apt-get install -y podman runc; plus debootstrap when no registry is reachable) " +
  "or run a Docker daemon; or set GAIA_CONTAINER_ENGINE=docker|podman.";

export interface Engine {
  name: "docker" | "podman";
  /** The command and its global options. */
  command: string;
  globalArgs: string[];
  env: NodeJS.ProcessEnv;
}

const succeeds = (command: string, args: string[]) =>
  spawnSync(command, args, { stdio: "ignore", timeout: 20_000 }).status === 0;

/** GAIA_CONTAINER_ENGINE, checked. */
function requestedEngine(value: string | undefined): Engine["name"] | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "docker" || value === "podman") return value;
  throw new Error(`GAIA_CONTAINER_ENGINE must be docker or podman (got "${value}")`);
}

export function selectEngine(env: NodeJS.ProcessEnv = process.env): Engine {
  const wanted = requestedEngine(env.GAIA_CONTAINER_ENGINE);
  const name: Engine["name"] | undefined =
    wanted ??
    (succeeds("docker", ["info"]) ? "docker" : succeeds("podman", ["--version"]) ? "podman" : undefined);
  if (!name)
    throw new Error(`No container engine: neither a running Docker nor podman was found. ${INSTALL_HINT}`);
  if (!succeeds(name, ["--version"])) throw new Error(`${name} is not installed. ${INSTALL_HINT}`);
  if (name === "docker") return { name, command: "docker", globalArgs: [], env: { ...env } };
  const runtime = env.GAIA_PODMAN_RUNTIME ?? (succeeds("runc", ["--version"]) ? "runc" : undefined);
  return {
    name,
    command: "podman",
    globalArgs: runtime ? ["--runtime", runtime] : [],
    env: {
      ...env,
      CONTAINERS_CONF: env.CONTAINERS_CONF ?? path.join(REPO_ROOT, "images", "containers.conf"),
    },
  };
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the engine with the arguments; never throws for a non-zero exit (the caller asserts). */
export function engineRun(engine: Engine, args: string[], timeoutMs = 120_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      engine.command,
      [...engine.globalArgs, ...args],
      { env: engine.env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`${engine.command} ${args.join(" ")}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/**
 * Runs a script of the repository (e.g. images/build.sh) with the engine selected; resolves with its output
 * and duration, rejects with the last lines of output when it fails.
 */
export function runScript(
  engine: Engine,
  script: string,
  args: string[],
  timeoutMs: number,
): Promise<{ seconds: number; output: string }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(REPO_ROOT, script), ...args], {
      cwd: REPO_ROOT,
      env: { ...engine.env, GAIA_CONTAINER_ENGINE: engine.name },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      // The script's own progress lines are worth seeing during a cold build of minutes.
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.startsWith("[images")) process.stderr.write(`      ${line}\n`);
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", (error) => reject(error));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ seconds: (Date.now() - started) / 1000, output });
      else
        reject(
          new Error(
            `${script} ${args.join(" ")} exited with ${code}. Last output:\n` +
              output.split("\n").slice(-40).join("\n"),
          ),
        );
    });
  });
}

/** A unique container name, so that parallel runs and leftovers never collide. */
export function containerName(purpose: string): string {
  return `gaia-test-${purpose}-${randomBytes(4).toString("hex")}`;
}

/** A writable tmpfs for the image's user (uid 10001) at `target`. */
export function userTmpfs(engine: Engine, target: string): string[] {
  // podman copies the image directory's mode but not its owner; :U hands the mount to the container's user.
  return engine.name === "podman"
    ? ["--tmpfs", `${target}:rw,U`]
    : ["--tmpfs", `${target}:rw,uid=10001,gid=10001`];
}

/** Removes containers, ignoring ones already gone. */
export async function removeContainers(engine: Engine, names: string[]): Promise<void> {
  if (names.length > 0) await engineRun(engine, ["rm", "-f", ...names]).catch(() => undefined);
}

/** The last lines of a container's log, for failure messages. */
export async function logsOf(engine: Engine, name: string): Promise<string> {
  const result = await engineRun(engine, ["logs", "--tail", "40", name]).catch((e: Error) => ({
    stdout: "",
    stderr: e.message,
  }));
  return `${result.stdout}${result.stderr}`.trim();
}

/** Whether a container is still running (false when it exited or is gone). */
export async function isRunning(engine: Engine, name: string): Promise<boolean> {
  const result = await engineRun(engine, ["inspect", "--format", "{{.State.Running}}", name]);
  return result.code === 0 && result.stdout.trim() === "true";
}
