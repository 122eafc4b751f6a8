/** What every storage mode offers the KB's domain: files, their versions, and changes as one-step operations. */

export interface Author {
  userId: string;
  name: string;
  email: string;
}

export interface Document {
  path: string;
  content: string;
  /** The ETag: a Git blob SHA, or a version number in database mode. */
  version: string;
}

export interface FileEntry {
  path: string;
  size: number;
}

export interface Change {
  path: string;
  content: string;
  /** The version the writer started from; a stale one is merged, or refused when the edits overlap. */
  base?: string;
  author: Author;
  message?: string;
}

export interface Written {
  path: string;
  version: string;
  /** The commit (git, hybrid) or the version (database) that recorded the change. */
  commit: string;
  created: boolean;
  /** The writer's edit was merged with another made since their base. */
  merged: boolean;
  /** The content was already that: nothing recorded. */
  unchanged: boolean;
}

/** A stale base whose edits overlap another's: the current text, and the writer's own, returned to them. */
export class WriteConflict extends Error {
  constructor(
    readonly path: string,
    readonly current: Document | null,
    readonly yours: string | null,
  ) {
    super(`${path} changed since version you started from`);
    this.name = "WriteConflict";
  }
}

/** The storage cannot do it right now (its remote refused or did not answer); nothing was changed. */
export class StorageUnavailable extends Error {
  constructor(
    message: string,
    readonly status: 502 | 503 = 502,
  ) {
    super(message);
    this.name = "StorageUnavailable";
  }
}

export interface SearchQuery {
  text: string;
  kind: "words" | "phrase" | "regex";
  /** Only below this folder ("" everywhere). */
  under: string;
  caseSensitive: boolean;
}

export interface Hit {
  path: string;
  line: number;
  snippet: string;
  score: number;
}

export interface SyncResult {
  before: string | null;
  after: string | null;
  changed: string[];
  conflicts: number;
}

export interface StoreStatus {
  mode: "git" | "database" | "hybrid";
  head: string | null;
  branch?: string;
  remote?: string;
  ahead?: number;
  lastSync?: string | null;
  lastSyncError?: string | null;
  files: number;
}

export interface Store {
  /** Why it cannot answer yet (still cloning, ...), or undefined. */
  notReady(): string | undefined;
  read(path: string): Promise<Document | null>;
  /** Every file, for listing, navigation and contexts; permission filtering is the caller's. */
  files(): Promise<FileEntry[]>;
  write(change: Change): Promise<Written>;
  move(from: string, to: string, author: Author, base?: string): Promise<Written>;
  remove(path: string, author: Author, base?: string): Promise<{ commit: string }>;
  /**
   * Up to `limit` hits of the query, best first, in files `visible` accepts (others are never counted); at least
   * the first `detailed` with their line and snippet (the rest may carry line 0, for counting and later pages).
   */
  search(
    query: SearchQuery,
    limit: number,
    visible: (path: string) => boolean,
    detailed: number,
  ): Promise<Hit[]>;
  status(): Promise<StoreStatus>;
  /** Bring in what the remote has (git, hybrid); database mode has nothing to sync. */
  sync(): Promise<SyncResult>;
  close(): Promise<void>;
}
