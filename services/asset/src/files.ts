import { createHash, randomUUID } from "node:crypto";
import { createReadStream, type ReadStream } from "node:fs";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Generated files on the local filesystem (GAIA_ASSET_STORAGE_DIR): each written whole under a temporary name and
 * renamed into place, so a full or unwritable disk leaves nothing half written. Keys are the asset's id and a
 * role (content, thumbnail), never a path a client chose.
 */

export interface Stored {
  key: string;
  size: number;
  sha256: string;
}

const KEY = /^[0-9a-f-]{36}\/(content|thumbnail)\.[a-z0-9]{1,8}$/;

export class FileStore {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  #path(key: string): string {
    if (!KEY.test(key)) throw new Error(`not a storage key: ${key}`);
    return join(this.#root, key);
  }

  async put(assetId: string, role: "content" | "thumbnail", format: string, bytes: Buffer): Promise<Stored> {
    const key = `${assetId}/${role}.${format}`;
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return { key, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  }

  async size(key: string): Promise<number | null> {
    return (await stat(this.#path(key)).catch(() => null))?.size ?? null;
  }

  /** The bytes from `start` to `end` inclusive (the whole file when not given). */
  open(key: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.#path(key), range);
  }

  /** The asset's every file. */
  async removeAll(assetId: string): Promise<void> {
    if (!/^[0-9a-f-]{36}$/.test(assetId)) return;
    await rm(join(this.#root, assetId), { recursive: true, force: true }).catch((error) => {
      // A storage root that is not a folder holds none of the asset's files: nothing to remove.
      if ((error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
    });
  }
}
