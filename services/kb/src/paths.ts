import { badRequest, forbidden, HttpError } from "@gaia/kit";

/**
 * A KB path as a client gives it, made canonical or refused. Canonical: relative, `/`-separated, no empty, `.` or
 * `..` segment, nothing under `.git`, printable. Pure: every endpoint, storage mode and search filter goes
 * through here, so no mode can be tricked into a path another mode refuses.
 */

export const MAX_PATH_LENGTH = 512;

/** A file path: at least one segment. */
export function filePath(input: unknown, field = "path"): string {
  const path = canonical(input, field);
  if (path === "") throw badRequest(`${field}: name a file, not the knowledge base's root`);
  return path;
}

/** A folder path: "" (or "/", ".") is the root. A trailing slash is allowed. */
export function folderPath(input: unknown, field = "path"): string {
  if (input === undefined || input === null || input === "" || input === "/" || input === ".") return "";
  return canonical(typeof input === "string" ? input.replace(/\/+$/, "") : input, field);
}

function canonical(input: unknown, field: string): string {
  if (typeof input !== "string") throw badRequest(`${field}: expected a string`);
  if (input.length > MAX_PATH_LENGTH) throw badRequest(`${field}: longer than ${MAX_PATH_LENGTH} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  if (/[\u0000-\u001f\u007f]/.test(input)) throw badRequest(`${field}: control characters are not allowed`);
  if (input.includes("\\")) throw badRequest(`${field}: use / between folders, not \\`);
  if (input.startsWith("/")) {
    throw badRequest(`${field}: give a path inside the knowledge base, not an absolute one`);
  }
  if (input === "") return "";
  const segments = input.split("/");
  for (const segment of segments) {
    if (segment === "") throw badRequest(`${field}: empty folder name (//) in the path`);
    if (segment === "." || segment === "..") throw badRequest(`${field}: . and .. are not allowed`);
    if (segment.toLowerCase() === ".git" || segment.toLowerCase().startsWith(".git/")) {
      throw forbidden(`${field}: .git belongs to the repository, not to the knowledge base`);
    }
  }
  return segments.join("/");
}

/** The lower-cased extension of a file path, without the dot ("" when none). */
export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** Refuses files the KB does not keep: not text by extension (415), or larger than the limit (413). */
export function checkStorable(
  path: string,
  content: string,
  limits: { maxFileBytes: number; extensions: ReadonlySet<string> },
): void {
  checkTextPath(path, limits.extensions);
  const size = Buffer.byteLength(content, "utf8");
  if (size > limits.maxFileBytes) {
    throw new HttpError(
      413,
      `${path}: ${size} bytes is over the ${limits.maxFileBytes}-byte limit for a file`,
    );
  }
}

export function checkTextPath(path: string, extensions: ReadonlySet<string>): void {
  if (!extensions.has(extensionOf(path))) {
    throw new HttpError(
      415,
      `${path}: the knowledge base keeps text files (${[...extensions].map((e) => `.${e}`).join(", ")})`,
    );
  }
}

/** Whether `path` lies at or below `prefix` ("" is every path). */
export function isUnder(path: string, prefix: string): boolean {
  return prefix === "" || path === prefix || path.startsWith(`${prefix}/`);
}

/** The folder a path is in ("" for the root). */
export const parentOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
export const nameOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);
