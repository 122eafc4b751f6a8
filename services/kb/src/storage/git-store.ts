import { chmod, lstat, mkdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { forbidden, type Logger } from "@gaia/kit";
import type { KbConfig } from "../config.ts";
import { blobSha, type GitAuth, GitError, git, gitEnv, mergeText, redact } from "../git.ts";
import { searchFolder } from "../search.ts";
import { Serial } from "./serial.ts";
import {
  type Author,
  type Change,
  type Document,
  type FileEntry,
  type Hit,
  type SearchQuery,
  StorageUnavailable,
  type Store,
  type StoreStatus,
  type SyncResult,
  WriteConflict,
  type Written,
} from "./types.ts";

/**
 * The knowledge base as a Git working copy: a clone of the remote (the truth, shared by every replica), or a local
 * repository when there is none. Every change is one commit, authored as the caller, pushed before it is
 * answered; a push the remote rejects (another replica was first) is fetched and the change made again on top,
 * merged three-way when both touched one file. The working copy is never left with an unpushed commit or an
 * uncommitted file by a failed operation.
 */

export interface ConflictSink {
  record(conflict: {
    path: string;
    ours: string | null;
    theirs: string | null;
    oursAuthor?: string;
  }): Promise<void>;
}

const SEED_README = `# Knowledge base

This is Gaia's knowledge base: markdown files that writers edit through the API, the web UI, or \`git push\`.

- \`shared/\` is readable by every user and writable by developers.
- \`users/<id>/\` is private to that user.
`;

/** A push loses a race at most this many times in a row before the writer is told to try again. */
const PUSH_ATTEMPTS = 40;
/** Between lost races, a random wait up to this many ms times the attempt, so two replicas stop colliding. */
const BACKOFF_MS = 15;
const NO_COMMIT = "0000000000000000000000000000000000000000";
const RACE =
  /\[rejected\]|non-fast-forward|fetch first|failed to update ref|cannot lock ref|incorrect old value/i;
/** Local commits the remote lacks, kept here while they are replayed on top of it. */
const UNPUSHED_REF = "refs/gaia/unpushed";

function authorArg(author: Author): string {
  const clean = (s: string) => s.replace(/[<>\n\r]/g, "").trim() || "unknown";
  return `${clean(author.name)} <${clean(author.email)}>`;
}

export class GitStore implements Store {
  readonly #config: KbConfig;
  readonly #log: Logger;
  readonly #conflicts: ConflictSink;
  readonly #serial = new Serial();
  readonly #env: NodeJS.ProcessEnv;
  readonly #auth: GitAuth;
  #realRoot = "";
  #ready = false;
  #startError: string | undefined = "the Git working copy is being prepared";
  #lastSync: Date | null = null;
  #lastSyncError: string | null = null;
  #files: { head: string; list: FileEntry[] } | undefined;
  /** Called after every change that reached the truth: the changed paths and the new head. */
  onChange: (paths: string[], head: string) => void = () => {};

  constructor(config: KbConfig, log: Logger, conflicts: ConflictSink) {
    this.#config = config;
    this.#log = log;
    this.#conflicts = conflicts;
    this.#auth = {
      username: config.remote?.username,
      password: config.remote?.password,
      sshKeyFile: config.remote?.sshKey ? `${config.root}.ssh-key` : undefined,
    };
    this.#env = gitEnv(this.#auth);
  }

  get root(): string {
    return this.#config.root;
  }

  get remoteUrl(): string | undefined {
    return this.#config.remote ? redact(this.#config.remote.url) : undefined;
  }

  notReady(): string | undefined {
    return this.#ready ? undefined : this.#startError;
  }

  #git(args: string[], options: { okCodes?: number[]; input?: string } = {}) {
    return git(args, { cwd: this.#config.root, env: this.#env, ...options });
  }

  async #out(args: string[]): Promise<string> {
    return (await this.#git(args)).stdout;
  }

  /** Clone or open the working copy; throws (with a reason for /ready) until it can. */
  async open(): Promise<void> {
    const { root, remote, branch } = this.#config;
    try {
      await mkdir(dirname(root), { recursive: true });
      if (this.#auth.sshKeyFile && remote?.sshKey) {
        const key = remote.sshKey.endsWith("\n") ? remote.sshKey : `${remote.sshKey}\n`;
        await writeFile(this.#auth.sshKeyFile, key, { mode: 0o600 });
        await chmod(this.#auth.sshKeyFile, 0o600);
      }
      const existing = await stat(join(root, ".git")).then(
        () => true,
        () => false,
      );
      await mkdir(root, { recursive: true });
      this.#realRoot = await realpath(root);
      if (remote) {
        const sameRemote =
          existing &&
          (await this.#git(["remote", "get-url", "origin"]).then(
            (r) => r.stdout.trim() === remote.url,
            () => false,
          ));
        if (!sameRemote) {
          await rm(root, { recursive: true, force: true });
          await mkdir(root, { recursive: true });
          await this.#git(["init", "-q", "-b", branch]);
          await this.#git(["remote", "add", "origin", remote.url]);
        }
        await this.#fetch();
        const remoteHead = await this.#remoteHead();
        if (remoteHead) {
          // An existing repository is adopted as it is, history and all.
          if (!sameRemote) await this.#git(["reset", "-q", "--hard", remoteHead]);
          await this.#git(["branch", "-q", "--set-upstream-to", `origin/${branch}`]).catch(() => {});
        } else if (!sameRemote) {
          await this.#seed();
        }
        await this.#commitStray();
        await this.#replayUnpushed();
      } else {
        if (!existing) {
          await mkdir(root, { recursive: true });
          await this.#git(["init", "-q", "-b", branch]);
          await this.#seed();
        }
        await this.#commitStray();
      }
      this.#ready = true;
      this.#startError = undefined;
      this.#lastSync = new Date();
    } catch (error) {
      this.#startError = remote
        ? `cannot clone ${redact(remote.url)} (branch ${branch}): ${(error as Error).message}`
        : `cannot open the repository at ${root}: ${(error as Error).message}`;
      throw new Error(this.#startError);
    }
  }

  async #seed() {
    await writeFile(join(this.#config.root, "README.md"), SEED_README);
    await this.#git(["add", "README.md"]);
    await this.#git(["commit", "-q", "-m", "Seed the knowledge base"]);
    if (this.#config.remote) await this.#push();
  }

  /** Files someone left in the working copy (an edit by hand, a crash mid-write) become a commit, not a loss. */
  async #commitStray() {
    const status = await this.#out(["status", "--porcelain", "-z"]);
    if (!status) return;
    await this.#git(["add", "-A"]);
    await this.#git(["commit", "-q", "-m", "Changes found in the working copy"]);
    this.#log.warn("committed changes found in the working copy");
  }

  async #fetch() {
    try {
      await this.#git(
        [
          "fetch",
          "-q",
          "--prune",
          "origin",
          `+refs/heads/${this.#config.branch}:refs/remotes/origin/${this.#config.branch}`,
        ],
        {},
      );
    } catch (error) {
      // An empty remote has no such branch yet: not an error.
      if (error instanceof GitError && /couldn't find remote ref/i.test(error.stderr)) return;
      throw error;
    }
  }

  async #remoteHead(): Promise<string | null> {
    const r = await this.#git(["rev-parse", "-q", "--verify", `refs/remotes/origin/${this.#config.branch}`], {
      okCodes: [1],
    });
    return r.code === 0 ? r.stdout.trim() : null;
  }

  async #head(): Promise<string> {
    const r = await this.#git(["rev-parse", "-q", "--verify", "HEAD"], { okCodes: [1] });
    return r.code === 0 ? r.stdout.trim() : NO_COMMIT;
  }

  /** Push HEAD; "rejected" when the remote moved on (fetch and try again), else the remote is unavailable. */
  async #push(): Promise<"pushed" | "rejected"> {
    try {
      await this.#git(["push", "-q", "origin", `HEAD:refs/heads/${this.#config.branch}`]);
      await this.#git(["update-ref", `refs/remotes/origin/${this.#config.branch}`, "HEAD"]);
      return "pushed";
    } catch (error) {
      // A lost race (another writer pushed first: "[rejected] ... (fetch first)", or the remote's ref lock) is
      // tried again; a "[remote rejected]" for any other reason (a hook, a protected branch) is a refusal.
      if (error instanceof GitError && RACE.test(error.stderr)) return "rejected";
      throw new StorageUnavailable(`the Git remote did not take the change: ${(error as Error).message}`);
    }
  }

  /** Back to what the remote has (or to the last commit without one): nothing half done stays. */
  async #resetToTruth() {
    const target = this.#config.remote ? ((await this.#remoteHead()) ?? "HEAD") : "HEAD";
    await this.#git(["reset", "-q", "--hard", target]);
    await this.#git(["clean", "-q", "-fd"]);
  }

  #absolute(path: string) {
    return join(this.#config.root, path);
  }

  /** Refuses a path whose file, or any folder on the way, is a symlink leading anywhere. */
  async #guard(path: string): Promise<void> {
    const absolute = this.#absolute(path);
    const info = await lstat(absolute).catch(() => null);
    if (info?.isSymbolicLink()) throw forbidden(`${path}: symbolic links are not followed`);
    let dir = dirname(absolute);
    while (dir.length > this.#config.root.length) {
      const real = await realpath(dir).catch(() => null);
      if (real !== null) {
        if (real !== this.#realRoot && !real.startsWith(`${this.#realRoot}/`)) {
          throw forbidden(`${path}: leads outside the knowledge base`);
        }
        // The first folder that exists decides; its real path is inside, so are its existing parents.
        if (real !== join(this.#realRoot, dir.slice(this.#config.root.length + 1))) {
          throw forbidden(`${path}: symbolic links are not followed`);
        }
        return;
      }
      dir = dirname(dir);
    }
  }

  async #readFile(path: string): Promise<Document | null> {
    await this.#guard(path);
    const absolute = this.#absolute(path);
    const info = await lstat(absolute).catch(() => null);
    if (!info?.isFile()) return null;
    const bytes = await readFile(absolute);
    return { path, content: bytes.toString("utf8"), version: blobSha(bytes) };
  }

  read(path: string): Promise<Document | null> {
    return this.#readFile(path);
  }

  /** Tracked regular files at HEAD (symlinks and submodules are not part of the knowledge base). */
  async files(): Promise<FileEntry[]> {
    const head = await this.#head();
    if (this.#files?.head === head) return this.#files.list;
    const list: FileEntry[] = [];
    if (head !== NO_COMMIT) {
      const out = await this.#out(["ls-tree", "-r", "-l", "-z", "HEAD"]);
      for (const record of out.split("\0")) {
        const tab = record.indexOf("\t");
        if (tab < 0) continue;
        const [mode, type, , size] = record.slice(0, tab).split(/\s+/);
        if (type !== "blob" || (mode !== "100644" && mode !== "100755")) continue;
        list.push({ path: record.slice(tab + 1), size: Number(size) });
      }
    }
    this.#files = { head, list };
    return list;
  }

  /**
   * One change, serialised with every other in this process and retried against the remote until it lands on
   * its newest commit. `apply` makes the change in the working copy given the current document; it may throw
   * (a conflict, a refusal), which leaves nothing behind.
   */
  #change<T extends { commit: string }>(
    paths: string[],
    message: string,
    author: Author,
    apply: () => Promise<Omit<T, "commit"> & { unchanged?: boolean }>,
  ): Promise<T> {
    return this.#serial.run(async () => {
      this.#assertReady();
      for (let attempt = 0; attempt < PUSH_ATTEMPTS; attempt++) {
        if (this.#config.remote && attempt > 0) {
          await new Promise((resolve) =>
            setTimeout(resolve, Math.random() * BACKOFF_MS * Math.min(attempt, 10)),
          );
          await this.#fetch().catch((error) => {
            throw new StorageUnavailable(`the Git remote did not answer: ${(error as Error).message}`, 503);
          });
          await this.#git(["reset", "-q", "--hard", (await this.#remoteHead()) ?? "HEAD"]);
        }
        let outcome: Omit<T, "commit"> & { unchanged?: boolean };
        try {
          outcome = await apply();
        } catch (error) {
          await this.#resetToTruth();
          throw error;
        }
        if (outcome.unchanged) return { ...outcome, commit: await this.#head() } as unknown as T;
        try {
          await this.#git(["add", "-A", "--", ...paths]);
          await this.#git(["commit", "-q", "-m", message, "--author", authorArg(author)]);
          if (this.#config.remote && (await this.#push()) === "rejected") continue;
        } catch (error) {
          await this.#resetToTruth();
          throw error;
        }
        const head = await this.#head();
        this.#files = undefined;
        this.onChange(paths, head);
        return { ...outcome, commit: head } as unknown as T;
      }
      await this.#resetToTruth();
      throw new StorageUnavailable("too many writers at once: the change did not land, try again", 503);
    });
  }

  #assertReady() {
    if (!this.#ready)
      throw new StorageUnavailable(`the knowledge base is not ready: ${this.#startError}`, 503);
  }

  async #writeFile(path: string, content: string) {
    await this.#guard(path);
    const absolute = this.#absolute(path);
    await mkdir(dirname(absolute), { recursive: true });
    await this.#guard(path);
    // A whole file or none: written aside, then renamed over the old one.
    const temporary = `${absolute}.gaia-${process.pid}.tmp`;
    await writeFile(temporary, content);
    await rename(temporary, absolute);
  }

  /** The text the writer started from, when git still has that blob. */
  async #blob(version: string): Promise<string | null> {
    if (!/^[0-9a-f]{40}$/.test(version)) return null;
    const r = await this.#git(["cat-file", "blob", version], { okCodes: [1, 128] });
    return r.code === 0 ? r.stdout : null;
  }

  /** The content to write given a base: the writer's own, or merged with what changed since; a conflict throws. */
  async #resolve(path: string, current: Document | null, content: string, base: string | undefined) {
    if (base === undefined || base === current?.version) return { text: content, merged: false };
    if (current === null) throw new WriteConflict(path, null, content);
    let baseText = await this.#blob(base);
    if (baseText === null && this.#config.remote) {
      // Read on another replica, from a commit this one has not fetched yet.
      await this.#fetch().catch(() => {});
      baseText = await this.#blob(base);
    }
    if (baseText === null) throw new WriteConflict(path, current, content);
    const merged = await mergeText(baseText, current.content, content);
    if (merged === null) throw new WriteConflict(path, current, content);
    return { text: merged, merged: true };
  }

  async write(change: Change): Promise<Written> {
    const { path, content, base, author } = change;
    const message = change.message ?? `${base === undefined ? "Write" : "Update"} ${path}`;
    const result = await this.#change<Written>([path], message, author, async () => {
      const current = await this.#readFile(path);
      if (current === null && (await this.#isFolder(path))) throw new WriteConflict(path, null, content);
      const { text, merged } = await this.#resolve(path, current, content, base);
      const written = { path, version: blobSha(text), created: current === null, merged, unchanged: false };
      if (current?.content === text) return { ...written, unchanged: true };
      await this.#writeFile(path, text);
      return written;
    });
    return result;
  }

  async #isFolder(path: string) {
    return (await lstat(this.#absolute(path)).catch(() => null))?.isDirectory() ?? false;
  }

  async move(from: string, to: string, author: Author, base?: string): Promise<Written> {
    const result = await this.#change<Written>([from, to], `Move ${from} to ${to}`, author, async () => {
      const current = await this.#readFile(from);
      if (current === null) throw new MissingFile(from);
      if (base !== undefined && base !== current.version) throw new WriteConflict(from, current, null);
      await this.#guard(to);
      if (await lstat(this.#absolute(to)).catch(() => null)) throw new TargetExists(to);
      await mkdir(dirname(this.#absolute(to)), { recursive: true });
      await this.#guard(to);
      // A rename of the same bytes: Git records a move, and history follows the file.
      await rename(this.#absolute(from), this.#absolute(to));
      return { path: to, version: current.version, created: true, merged: false, unchanged: false };
    });
    return result;
  }

  async remove(path: string, author: Author, base?: string): Promise<{ commit: string }> {
    return this.#change<{ commit: string }>([path], `Delete ${path}`, author, async () => {
      const current = await this.#readFile(path);
      if (current === null) throw new MissingFile(path);
      if (base !== undefined && base !== current.version) throw new WriteConflict(path, current, null);
      await rm(this.#absolute(path));
      return {};
    });
  }

  search(query: SearchQuery, limit: number, visible: (path: string) => boolean): Promise<Hit[]> {
    this.#assertReady();
    return searchFolder(
      {
        root: this.#config.root,
        ripgrep: this.#config.ripgrep,
        maxFileBytes: this.#config.maxFileBytes,
        extensions: this.#config.extensions,
      },
      query,
      limit,
      visible,
    );
  }

  async status(): Promise<StoreStatus> {
    const head = this.#ready ? await this.#head() : null;
    const ahead =
      this.#ready && this.#config.remote && (await this.#remoteHead())
        ? Number(
            (
              await this.#out(["rev-list", "--count", `refs/remotes/origin/${this.#config.branch}..HEAD`])
            ).trim(),
          )
        : 0;
    return {
      mode: "git",
      head: head === NO_COMMIT ? null : head,
      branch: this.#config.branch,
      ...(this.remoteUrl ? { remote: this.remoteUrl } : {}),
      ahead,
      lastSync: this.#lastSync?.toISOString() ?? null,
      lastSyncError: this.#lastSyncError,
      files: this.#ready ? (await this.files()).length : 0,
    };
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors (false when either is unknown here). */
  async contains(descendant: string, ancestor: string): Promise<boolean> {
    const r = await this.#git(["merge-base", "--is-ancestor", ancestor, descendant], { okCodes: [1, 128] });
    return r.code === 0;
  }

  /** The paths that differ between two commits (renames as both paths). */
  async changedPaths(before: string | null, after: string): Promise<string[]> {
    if (!before || before === NO_COMMIT) return (await this.files()).map((f) => f.path);
    if (before === after) return [];
    const out = await this.#out(["diff", "--name-only", "-z", "--no-renames", before, after]);
    return out.split("\0").filter(Boolean);
  }

  /** Fetch the remote and move to its newest commit; local commits not pushed yet are replayed on top. */
  sync(): Promise<SyncResult> {
    return this.#serial.run(async () => {
      this.#assertReady();
      const before = await this.#head();
      if (!this.#config.remote) return { before, after: before, changed: [], conflicts: 0 };
      try {
        await this.#fetch();
        await this.#commitStray();
        const conflicts = await this.#replayUnpushed();
        const after = await this.#head();
        const changed = await this.changedPaths(before, after);
        this.#lastSync = new Date();
        this.#lastSyncError = null;
        if (changed.length > 0) this.onChange(changed, after);
        return { before, after, changed, conflicts };
      } catch (error) {
        this.#lastSyncError = (error as Error).message;
        throw new StorageUnavailable(`sync with the Git remote failed: ${(error as Error).message}`, 503);
      }
    });
  }

  /**
   * Bring the working copy to the remote's newest commit, keeping any local commit it does not have yet (a crash
   * between commit and push leaves one): each file they changed is written again on top, merged three-way when
   * the remote changed it too, and kept as a conflict record, both texts, when the edits overlap. Answers how many
   * conflicts were recorded. Conflict markers are never committed.
   */
  async #replayUnpushed(): Promise<number> {
    const remoteHead = await this.#remoteHead();
    if (!remoteHead) {
      // An empty remote: what we have is all there is.
      if ((await this.#head()) !== NO_COMMIT) await this.#push();
      return 0;
    }
    // Work an earlier replay set aside before it was interrupted comes first: it is not on the branch any more.
    const kept = await this.#git(["rev-parse", "-q", "--verify", UNPUSHED_REF], { okCodes: [1] });
    const head = kept.code === 0 ? kept.stdout.trim() : await this.#head();
    if (head === remoteHead) return 0;
    const isAncestor = await this.#git(["merge-base", "--is-ancestor", head, remoteHead], { okCodes: [1] });
    if (head === NO_COMMIT || isAncestor.code === 0) {
      await this.#git(["reset", "-q", "--hard", remoteHead]);
      return 0;
    }
    const mergeBase = (await this.#git(["merge-base", head, remoteHead], { okCodes: [1] })).stdout.trim();
    const diff = async (from: string, to: string) =>
      from
        ? (await this.#out(["diff", "--name-only", "-z", "--no-renames", from, to]))
            .split("\0")
            .filter(Boolean)
        : (await this.#out(["ls-tree", "-r", "--name-only", "-z", to])).split("\0").filter(Boolean);
    const ours = await diff(mergeBase, head);
    const theirs = new Set(await diff(mergeBase, remoteHead));
    const show = async (rev: string, path: string) => {
      if (!rev) return null;
      const r = await this.#git(["show", `${rev}:${path}`], { okCodes: [128] });
      return r.code === 0 ? r.stdout : null;
    };
    const authorOf = (await this.#out(["log", "-1", "--format=%an <%ae>", head])).trim();
    const local = new Map<string, string | null>();
    const bases = new Map<string, string | null>();
    for (const path of ours) {
      local.set(path, await show(head, path));
      bases.set(path, await show(mergeBase, path));
    }
    // Set aside under a ref of our own before the branch moves, so a failure from here on loses nothing.
    await this.#git(["update-ref", UNPUSHED_REF, head]);
    await this.#git(["reset", "-q", "--hard", remoteHead]);
    let conflicts = 0;
    const touched: string[] = [];
    for (const path of ours) {
      const mine = local.get(path) ?? null;
      let text: string | null = mine;
      if (theirs.has(path)) {
        const remote = await show(remoteHead, path);
        const base = bases.get(path) ?? null;
        const merged =
          mine !== null && remote !== null && base !== null ? await mergeText(base, remote, mine) : null;
        if (merged === null && mine !== remote) {
          await this.#conflicts.record({ path, ours: mine, theirs: remote, oursAuthor: authorOf });
          conflicts++;
          continue;
        }
        text = merged ?? mine;
      }
      if (text === null) await rm(this.#absolute(path), { force: true });
      else await this.#writeFile(path, text);
      touched.push(path);
    }
    const status = await this.#out(["status", "--porcelain", "-z"]);
    if (status) {
      await this.#git(["add", "-A"]);
      await this.#git(["commit", "-q", "-m", "Changes kept from before the last sync"]);
      if ((await this.#push()) === "rejected") {
        await this.#git(["update-ref", "-d", UNPUSHED_REF]);
        return conflicts + (await this.#replayUnpushed());
      }
    }
    await this.#git(["update-ref", "-d", UNPUSHED_REF]);
    if (conflicts > 0)
      this.#log.warn({ conflicts }, "sync kept conflicting local changes as conflict records");
    return conflicts;
  }

  async close(): Promise<void> {
    await this.#serial.run(async () => {});
  }
}

export class MissingFile extends Error {
  constructor(readonly path: string) {
    super(`No file at ${path}`);
  }
}

export class TargetExists extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists`);
  }
}
