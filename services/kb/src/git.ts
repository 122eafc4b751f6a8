import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The git command line, run without a shell. Credentials never reach argv (visible in `ps`) or the disk of
 * the working copy: an HTTPS token travels as an http.extraHeader in the environment (GIT_CONFIG_*), an SSH key
 * as a 0600 file outside the working copy. Errors carry git's message with any URL's user:password removed.
 */

export interface GitAuth {
  username?: string;
  password?: string;
  /** Path of an SSH private key file. */
  sshKeyFile?: string;
}

export class GitError extends Error {
  readonly code: number | null;
  readonly stderr: string;
  constructor(args: readonly string[], code: number | null, stderr: string) {
    super(
      `git ${args[0]} failed: ${redact(stderr.trim().split("\n").slice(-3).join(" ")) || `exit ${code}`}`,
    );
    this.name = "GitError";
    this.code = code;
    this.stderr = redact(stderr);
  }
}

/** https://user:secret@host → https://***@host, wherever it appears. */
export const redact = (text: string) => text.replace(/([a-z][\w+.-]*:\/\/)[^/@\s]+@/gi, "$1***@");

export function gitEnv(auth: GitAuth = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? tmpdir(),
    LANG: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Gaia KB",
    GIT_AUTHOR_EMAIL: "kb@gaia.invalid",
    GIT_COMMITTER_NAME: "Gaia KB",
    GIT_COMMITTER_EMAIL: "kb@gaia.invalid",
  };
  const config: [string, string][] = [
    // Paths and file names exactly as written, and no hooks or pagers from anyone's config.
    ["core.quotePath", "false"],
    ["core.hooksPath", "/dev/null"],
    ["core.autocrlf", "false"],
    ["core.symlinks", "true"],
    ["init.defaultBranch", "main"],
    ["commit.gpgSign", "false"],
  ];
  if (auth.username !== undefined || auth.password !== undefined) {
    const basic = Buffer.from(`${auth.username ?? "git"}:${auth.password ?? ""}`).toString("base64");
    config.push(["http.extraHeader", `Authorization: Basic ${basic}`]);
  }
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(config.length);
  if (auth.sshKeyFile) {
    env.GIT_SSH_COMMAND = `ssh -i '${auth.sshKeyFile}' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`;
  }
  return env;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** Exit codes that are answers, not failures (merge-file's conflict count, diff's 1). */
  okCodes?: readonly number[];
}

export function git(args: readonly string[], options: RunOptions): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      args,
      {
        cwd: options.cwd,
        env: options.env,
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 60_000,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        if (!error || (code !== null && options.okCodes?.includes(code)))
          resolve({ stdout, code: code ?? 0 });
        else reject(new GitError(args, code, stderr || String(error.message)));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The SHA-1 git gives a blob of this content: a file's version without asking git. */
export function blobSha(content: string | Buffer): string {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/**
 * Three-way merge of one text: the common ancestor, and two descendants. Answers the merged text, or null when the
 * two changed the same lines (conflict markers are never written anywhere).
 */
export async function mergeText(base: string, ours: string, theirs: string): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), "gaia-kb-merge-"));
  try {
    const [o, b, t] = ["ours", "base", "theirs"].map((name) => join(dir, name));
    await Promise.all([writeFile(o!, ours), writeFile(b!, base), writeFile(t!, theirs)]);
    const { stdout, code } = await git(["merge-file", "-p", "--quiet", o!, b!, t!], {
      cwd: dir,
      env: gitEnv(),
      okCodes: Array.from({ length: 127 }, (_, i) => i + 1),
    });
    return code === 0 ? stdout : null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
