import type { Db } from "@gaia/kit/db/client";
import { Prisma } from "@gaia/kit/db/client";
import { mergeText } from "../git.ts";
import { titleOf } from "../titles.ts";
import { MissingFile, TargetExists } from "./git-store.ts";
import { searchIndex } from "./index-search.ts";
import {
  type Author,
  type Change,
  type Document,
  type FileEntry,
  type Hit,
  type SearchQuery,
  type Store,
  type StoreStatus,
  type SyncResult,
  WriteConflict,
  type Written,
} from "./types.ts";

/**
 * The knowledge base in PostgreSQL alone: each document with its version number, every earlier version kept
 * (a deletion is a version without content), full-text search by ts_rank. A change locks its document's row, so
 * concurrent writers from any number of replicas are serialised per document by the database itself.
 */

interface DocRow {
  path: string;
  content: string;
  version: string;
}

const RETRIES = 5;

export class DatabaseStore implements Store {
  readonly #db: Db;
  onChange: (paths: string[], head: string) => void = () => {};

  constructor(db: Db) {
    this.#db = db;
  }

  notReady(): string | undefined {
    return undefined;
  }

  async read(path: string): Promise<Document | null> {
    const doc = await this.#db.kbDocument.findUnique({
      where: { path },
      select: { path: true, content: true, version: true },
    });
    return doc;
  }

  async files(): Promise<FileEntry[]> {
    return this.#db.kbDocument.findMany({ select: { path: true, size: true }, orderBy: { path: "asc" } });
  }

  /** Run `body` in a transaction, again when a concurrent first write of the same path won the race. */
  async #transaction<T>(body: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#db.$transaction(body);
      } catch (error) {
        const unique = error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
        if (!unique || attempt >= RETRIES) throw error;
      }
    }
  }

  async #locked(tx: Prisma.TransactionClient, path: string): Promise<DocRow | null> {
    const rows = await tx.$queryRaw<DocRow[]>`
      SELECT "path", "content", "version" FROM "kb_documents" WHERE "path" = ${path} FOR UPDATE`;
    return rows[0] ?? null;
  }

  async #nextVersion(tx: Prisma.TransactionClient, path: string): Promise<number> {
    const last = await tx.kbDocumentVersion.findFirst({ where: { path }, orderBy: { version: "desc" } });
    return (last?.version ?? 0) + 1;
  }

  async write(change: Change): Promise<Written> {
    const { path, content, base, author } = change;
    const result = await this.#transaction(async (tx) => {
      const current = await this.#locked(tx, path);
      let text = content;
      let merged = false;
      if (base !== undefined && base !== current?.version) {
        if (!current) throw new WriteConflict(path, null, content);
        const baseRow = /^\d+$/.test(base)
          ? await tx.kbDocumentVersion.findUnique({
              where: { path_version: { path, version: Number(base) } },
            })
          : null;
        const mergedText =
          baseRow?.content != null ? await mergeText(baseRow.content, current.content, content) : null;
        if (mergedText === null) throw new WriteConflict(path, current, content);
        text = mergedText;
        merged = true;
      }
      if (current?.content === text) {
        return {
          path,
          version: current.version,
          commit: current.version,
          created: false,
          merged,
          unchanged: true,
        };
      }
      const version = String(await this.#nextVersion(tx, path));
      const data = {
        content: text,
        version,
        title: titleOf(path, text),
        size: Buffer.byteLength(text),
        updatedBy: author.userId,
        updatedAt: new Date(),
      };
      await tx.kbDocument.upsert({ where: { path }, create: { path, ...data }, update: data });
      await tx.kbDocumentVersion.create({
        data: {
          path,
          version: Number(version),
          content: text,
          author: `${author.name} <${author.email}>`,
          message: change.message ?? `Write ${path}`,
        },
      });
      return { path, version, commit: version, created: current === null, merged, unchanged: false };
    });
    if (!result.unchanged) this.onChange([path], result.version);
    return result;
  }

  async move(from: string, to: string, author: Author, base?: string): Promise<Written> {
    const result = await this.#transaction(async (tx) => {
      const current = await this.#locked(tx, from);
      if (!current) throw new MissingFile(from);
      if (base !== undefined && base !== current.version) throw new WriteConflict(from, current, null);
      if (await this.#locked(tx, to)) throw new TargetExists(to);
      const who = `${author.name} <${author.email}>`;
      await tx.kbDocument.delete({ where: { path: from } });
      await tx.kbDocumentVersion.create({
        data: {
          path: from,
          version: await this.#nextVersion(tx, from),
          content: null,
          author: who,
          message: `Move ${from} to ${to}`,
        },
      });
      const version = String(await this.#nextVersion(tx, to));
      await tx.kbDocument.create({
        data: {
          path: to,
          content: current.content,
          version,
          title: titleOf(to, current.content),
          size: Buffer.byteLength(current.content),
          updatedBy: author.userId,
        },
      });
      await tx.kbDocumentVersion.create({
        data: {
          path: to,
          version: Number(version),
          content: current.content,
          author: who,
          message: `Move ${from} to ${to}`,
        },
      });
      return { path: to, version, commit: version, created: true, merged: false, unchanged: false };
    });
    this.onChange([from, to], result.version);
    return result;
  }

  async remove(path: string, author: Author, base?: string): Promise<{ commit: string }> {
    const version = await this.#transaction(async (tx) => {
      const current = await this.#locked(tx, path);
      if (!current) throw new MissingFile(path);
      if (base !== undefined && base !== current.version) throw new WriteConflict(path, current, null);
      await tx.kbDocument.delete({ where: { path } });
      const next = await this.#nextVersion(tx, path);
      await tx.kbDocumentVersion.create({
        data: {
          path,
          version: next,
          content: null,
          author: `${author.name} <${author.email}>`,
          message: `Delete ${path}`,
        },
      });
      return String(next);
    });
    this.onChange([path], version);
    return { commit: version };
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
    return { mode: "database", head: null, files: await this.#db.kbDocument.count() };
  }

  async sync(): Promise<SyncResult> {
    return { before: null, after: null, changed: [], conflicts: 0 };
  }

  async close(): Promise<void> {}
}
