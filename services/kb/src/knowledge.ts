import { createHash } from "node:crypto";
import {
  type Bus,
  type Cache,
  conflict,
  forbidden,
  getJson,
  type Identity,
  KB_CHANGED_SUBJECT,
  type Logger,
  notFound,
  setJson,
} from "@gaia/kit";
import type { KbConfig } from "./config.ts";
import { assembleContext, type ContextAnswer, contextParts } from "./context.ts";
import { checkStorable, checkTextPath, isUnder, nameOf, parentOf } from "./paths.ts";
import { type Access, accessFor } from "./permissions.ts";
import type { Author, Document, Hit, SearchQuery, Store, Written } from "./storage/types.ts";
import type { KbStore } from "./store.ts";
import { titleOf } from "./titles.ts";
import { type TreeNode, treeOf } from "./tree.ts";

/**
 * The knowledge base as its callers meet it, without HTTP: every operation takes the caller's identity, asks the
 * permission function before anything names a path, and caches answers in Redis under a generation that every
 * change retires at once (on every replica, since the counter is shared).
 */

const GENERATION_KEY = "kb:generation";
/** The most hits a search looks at: enough for any page a client asks for. */
const MAX_HITS = 2000;

export interface SearchRequest extends SearchQuery {
  limit: number;
  offset: number;
}

export interface SearchAnswer {
  query: string;
  mode: SearchQuery["kind"];
  results: Hit[];
  total: number;
  /** More hits exist than were counted (MAX_HITS). */
  truncated: boolean;
  limit: number;
  offset: number;
}

export function authorOf(identity: Identity): Author {
  const email = identity.email ?? `${identity.userId}@users.gaia.invalid`;
  return { userId: identity.userId, name: email.split("@")[0] || identity.userId, email };
}

export class KnowledgeBase {
  readonly #store: Store;
  readonly #rules: KbStore;
  readonly #cache: Cache;
  readonly #bus: Bus;
  readonly #config: KbConfig;
  readonly #log: Logger;
  readonly #replica: string;
  readonly stats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(deps: {
    store: Store;
    rules: KbStore;
    cache: Cache;
    bus: Bus;
    config: KbConfig;
    log: Logger;
    replica: string;
  }) {
    this.#store = deps.store;
    this.#rules = deps.rules;
    this.#cache = deps.cache;
    this.#bus = deps.bus;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#replica = deps.replica;
  }

  get store(): Store {
    return this.#store;
  }

  async access(identity: Identity): Promise<Access> {
    return accessFor(identity, await this.#rules.rulesFor(identity.userId, identity.role));
  }

  /** After a change: retire every cached answer and tell the other replicas. */
  async changed(paths: string[], head: string): Promise<void> {
    await this.invalidate();
    await this.#bus
      .publish(KB_CHANGED_SUBJECT, { paths, head, replica: this.#replica, at: new Date().toISOString() })
      .catch((error) => this.#log.warn({ err: String(error) }, "gaia.kb.changed not published"));
  }

  async invalidate(): Promise<number | null> {
    this.stats.invalidations++;
    return (await this.#cache.incr(GENERATION_KEY, 30 * 86_400))?.count ?? null;
  }

  async #generation(): Promise<string | null> {
    return this.#cache.get(GENERATION_KEY);
  }

  /** A cached answer under the current generation, else `make` (and cache it). No generation: no cache. */
  async #cached<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (this.#config.cacheTtlSeconds === 0) return make();
    const generation = await this.#generation();
    const full = `kb:g${generation ?? 0}:${key}`;
    const hit = await getJson<T>(this.#cache, full);
    if (hit !== null) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const value = await make();
    await setJson(this.#cache, full, value, this.#config.cacheTtlSeconds);
    return value;
  }

  /** A file the caller may read; one they may not is as absent as one that does not exist. */
  async read(identity: Identity, path: string): Promise<Document & { title: string; size: number }> {
    const access = await this.access(identity);
    if (!access.canRead(path)) throw notFound(`No file at ${path}`);
    checkTextPath(path, this.#config.extensions);
    const doc = await this.#cached(`read:${path}`, () => this.#store.read(path));
    if (!doc) throw notFound(`No file at ${path}`);
    return { ...doc, title: titleOf(path, doc.content), size: Buffer.byteLength(doc.content) };
  }

  async #visibleFiles(access: Access) {
    return (await this.#store.files()).filter((f) => access.canRead(f.path));
  }

  /** The folder's entries the caller may see: files, and folders holding at least one such file. */
  async list(identity: Identity, folder: string) {
    const access = await this.access(identity);
    const files = (await this.#visibleFiles(access)).filter(
      (f) => isUnder(f.path, folder) && f.path !== folder,
    );
    const entries = new Map<
      string,
      { name: string; path: string; type: "file" | "folder"; size?: number; files?: number }
    >();
    for (const file of files) {
      const rest = folder ? file.path.slice(folder.length + 1) : file.path;
      const name = rest.split("/")[0]!;
      const path = folder ? `${folder}/${name}` : name;
      if (!rest.includes("/")) entries.set(path, { name, path, type: "file", size: file.size });
      else {
        const entry = entries.get(path) ?? { name, path, type: "folder" as const, files: 0 };
        entry.files = (entry.files ?? 0) + 1;
        entries.set(path, entry);
      }
    }
    if (folder && entries.size === 0) throw notFound(`No folder at ${folder}`);
    return [...entries.values()].sort((a, b) =>
      a.type === b.type ? a.name.localeCompare(b.name) : a.type === "folder" ? -1 : 1,
    );
  }

  async navigate(identity: Identity, folder: string, depth: number): Promise<TreeNode> {
    const access = await this.access(identity);
    const files = (await this.#visibleFiles(access)).filter((f) => isUnder(f.path, folder));
    if (folder && files.length === 0) throw notFound(`No folder at ${folder}`);
    const titles = new Map<string, string>();
    for (const file of files) {
      if (/^(\+.*|index|readme)\.md$/i.test(nameOf(file.path))) {
        const doc = await this.#store.read(file.path).catch(() => null);
        if (doc) titles.set(file.path, titleOf(file.path, doc.content));
      }
    }
    return treeOf(folder, files, titles, depth);
  }

  async search(identity: Identity, request: SearchRequest): Promise<SearchAnswer> {
    const access = await this.access(identity);
    const { limit, offset, ...query } = request;
    const detailed = offset + limit;
    const key = createHash("sha256").update(JSON.stringify({ query, detailed })).digest("hex");
    const who = `${identity.userId}:${identity.role}:${identity.permissions.join(",")}`;
    const hits = await this.#cached(`search:${who}:${key}`, () =>
      this.#store.search(query, MAX_HITS, (path) => access.canRead(path), detailed),
    );
    return {
      query: query.text,
      mode: query.kind,
      results: hits.slice(offset, offset + limit),
      total: hits.length,
      truncated: hits.length >= MAX_HITS,
      limit,
      offset,
    };
  }

  #mayWrite(access: Access, path: string) {
    // Writing where one may not even read says nothing about what is there.
    if (!access.canWrite(path)) {
      throw forbidden(
        access.canRead(path) ? `You may read ${path} but not change it` : `You may not write ${path}`,
      );
    }
  }

  async write(
    identity: Identity,
    change: { path: string; content: string; base?: string; message?: string },
  ): Promise<Written> {
    const access = await this.access(identity);
    this.#mayWrite(access, change.path);
    checkStorable(change.path, change.content, this.#config);
    if (parentOf(change.path) && (await this.#store.read(parentOf(change.path)).catch(() => null))) {
      throw conflict(`${parentOf(change.path)} is a file, not a folder`);
    }
    return this.#store.write({ ...change, author: authorOf(identity) });
  }

  async move(identity: Identity, from: string, to: string, base?: string): Promise<Written> {
    const access = await this.access(identity);
    if (!access.canRead(from)) throw notFound(`No file at ${from}`);
    this.#mayWrite(access, from);
    this.#mayWrite(access, to);
    checkTextPath(to, this.#config.extensions);
    return this.#store.move(from, to, authorOf(identity), base);
  }

  async remove(identity: Identity, path: string, base?: string) {
    const access = await this.access(identity);
    if (!access.canRead(path)) throw notFound(`No file at ${path}`);
    this.#mayWrite(access, path);
    return this.#store.remove(path, authorOf(identity), base);
  }

  async context(identity: Identity, name: string, budgetTokens: number): Promise<ContextAnswer> {
    const access = await this.access(identity);
    const files = (await this.#visibleFiles(access)).filter((f) => isUnder(f.path, name) && f.path !== name);
    const readable = files.filter((f) =>
      this.#config.extensions.has(f.path.split(".").pop()?.toLowerCase() ?? ""),
    );
    if (readable.length === 0) throw notFound(`No context named ${name}`);
    const read = async (path: string) => (await this.#store.read(path).catch(() => null))?.content ?? null;
    const parts = await contextParts(
      name,
      readable.map((f) => f.path),
      read,
    );
    return assembleContext(name, parts, budgetTokens);
  }
}
