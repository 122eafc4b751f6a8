import type { Logger } from "@gaia/kit";
import type { Db } from "@gaia/kit/db/client";
import { titleOf } from "../titles.ts";
import type { GitStore } from "./git-store.ts";
import { searchIndex } from "./index-search.ts";
import type {
  Author,
  Change,
  Document,
  FileEntry,
  Hit,
  SearchQuery,
  Store,
  StoreStatus,
  SyncResult,
  Written,
} from "./types.ts";

/**
 * Git is the truth, PostgreSQL the search index. After each change and each sync only the paths the new commits
 * touched (`git diff --name-only old..new`) are indexed again, so a sync of one commit costs one commit's work.
 * Replicas share the index: an advisory lock lets one update it at a time, and a replica whose clone is behind
 * the indexed commit leaves the index alone (the one ahead already did the work).
 */

const INDEXED = "indexed";
/** pg_advisory_xact_lock's key for the index (any constant the KB alone uses). */
const INDEX_LOCK = 0x6b62_6978;

export class HybridStore implements Store {
  readonly #git: GitStore;
  readonly #db: Db;
  readonly #log: Logger;
  #indexing: Promise<void> = Promise.resolve();
  onChange: (paths: string[], head: string) => void = () => {};

  constructor(git: GitStore, db: Db, log: Logger) {
    this.#git = git;
    this.#db = db;
    this.#log = log;
    git.onChange = (paths, head) => {
      this.#indexing = this.#indexing
        .then(async () => {
          await this.reindex(head);
        })
        .catch((error) => {
          this.#log.warn({ err: String(error) }, "hybrid index not updated; the next change or sync retries");
        });
      this.onChange(paths, head);
    };
  }

  notReady(): string | undefined {
    return this.#git.notReady();
  }

  read(path: string): Promise<Document | null> {
    return this.#git.read(path);
  }

  files(): Promise<FileEntry[]> {
    return this.#git.files();
  }

  async #settled<T>(result: T): Promise<T> {
    // The writer's own change is searchable when their answer arrives.
    await this.#indexing;
    return result;
  }

  async write(change: Change): Promise<Written> {
    return this.#settled(await this.#git.write(change));
  }

  async move(from: string, to: string, author: Author, base?: string): Promise<Written> {
    return this.#settled(await this.#git.move(from, to, author, base));
  }

  async remove(path: string, author: Author, base?: string): Promise<{ commit: string }> {
    return this.#settled(await this.#git.remove(path, author, base));
  }

  search(
    query: SearchQuery,
    limit: number,
    visible: (path: string) => boolean,
    detailed: number,
  ): Promise<Hit[]> {
    return searchIndex(this.#db, query, limit, visible, detailed);
  }

  async status(): Promise<StoreStatus> {
    const status = await this.#git.status();
    return { ...status, mode: "hybrid" };
  }

  async sync(): Promise<SyncResult> {
    const result = await this.#git.sync();
    await this.#indexing;
    return result;
  }

  /** Index what changed between the indexed commit and `head` (everything, the first time). */
  async reindex(head: string): Promise<{ indexed: number }> {
    return this.#db.$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(${INDEX_LOCK})`;
        const indexed = (await tx.kbSyncState.findUnique({ where: { key: INDEXED } }))?.value ?? null;
        if (indexed === head) return { indexed: 0 };
        if (indexed && !(await this.#git.contains(head, indexed))) return { indexed: 0 };
        const paths = indexed ? await this.#git.changedPaths(indexed, head) : null;
        const files = new Map((await this.#git.files()).map((f) => [f.path, f]));
        const targets = paths ?? [...files.keys()];
        if (paths === null) await tx.kbDocument.deleteMany({});
        for (const path of targets) {
          const doc = files.has(path) ? await this.#git.read(path).catch(() => null) : null;
          if (!doc) {
            await tx.kbDocument.deleteMany({ where: { path } });
            continue;
          }
          const data = {
            content: doc.content,
            version: doc.version,
            title: titleOf(path, doc.content),
            size: Buffer.byteLength(doc.content),
            updatedAt: new Date(),
          };
          await tx.kbDocument.upsert({ where: { path }, create: { path, ...data }, update: data });
        }
        await tx.kbSyncState.upsert({
          where: { key: INDEXED },
          create: { key: INDEXED, value: head },
          update: { value: head },
        });
        return { indexed: targets.length };
      },
      { timeout: 600_000, maxWait: 60_000 },
    );
  }

  close(): Promise<void> {
    return this.#git.close();
  }
}
