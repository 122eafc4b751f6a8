import { deflateSync } from "node:zlib";
import { angleOf, colorsOf, unitOf } from "./seed.ts";

/**
 * A real PNG with no image library: 8-bit RGB, one IDAT of zlib-deflated scanlines (filter 0 on every row), and
 * tEXt chunks for the words a viewer shows. The pattern is a gradient under a checkerboard, both from the seed and
 * both in coordinates relative to the picture, so a thumbnail shows the same pattern as the full image.
 */

/** The largest side drawn: 2048×2048 is 12 MiB of scanlines before deflate, which bounds one request's memory. */
export const MAX_SIDE = 2048;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const BYTES_PER_PIXEL = 3;

/** A side in pixels: a whole number from 1 to MAX_SIDE (NaN counts as 1; it never reaches the encoder). */
export function clampSide(n: number): number {
  if (Number.isNaN(n)) return 1;
  return Math.min(MAX_SIDE, Math.max(1, Math.round(n)));
}

export interface PngOptions {
  width: number;
  height: number;
  seed: Uint8Array;
  /** tEXt chunks, keyword to text (Latin-1: anything else becomes "?"). */
  text?: Readonly<Record<string, string>>;
}

/** The placeholder image for a seed, its sides clamped to 1..MAX_SIDE. */
export function placeholderPng(options: PngOptions): Buffer {
  const width = clampSide(options.width);
  const height = clampSide(options.height);
  return encodePng(width, height, patternScanlines(width, height, options.seed), options.text ?? {});
}

/** Unfiltered scanlines, as IDAT wants them before deflate: each row is a filter byte (0) and then RGB triples. */
export function patternScanlines(width: number, height: number, seed: Uint8Array): Buffer {
  const [from, to] = colorsOf(seed);
  const angle = angleOf(seed);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const cells = 2 + Math.floor(unitOf(seed, 3) * 7);
  const rowBytes = 1 + width * BYTES_PER_PIXEL;
  const out = Buffer.alloc(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5) / height;
    const row = y * rowBytes;
    out[row] = 0;
    for (let x = 0; x < width; x++) {
      const u = (x + 0.5) / width;
      const t = Math.min(1, Math.max(0, 0.5 + (u - 0.5) * dx + (v - 0.5) * dy));
      const shade = (Math.floor(u * cells) + Math.floor(v * cells)) % 2 === 1 ? 0.82 : 1;
      const at = row + 1 + x * BYTES_PER_PIXEL;
      for (let c = 0; c < 3; c++) out[at + c] = Math.round((from[c]! + (to[c]! - from[c]!) * t) * shade);
    }
  }
  return out;
}

/** A PNG file from 8-bit RGB scanlines (filter bytes included). */
export function encodePng(
  width: number,
  height: number,
  scanlines: Buffer,
  text: Readonly<Record<string, string>> = {},
): Buffer {
  if (scanlines.length !== height * (1 + width * BYTES_PER_PIXEL))
    throw new RangeError(`png: ${scanlines.length} bytes of scanlines for ${width}×${height}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  header[10] = 0; // compression: deflate
  header[11] = 0; // filter method: adaptive (each row says its filter)
  header[12] = 0; // no interlace
  return Buffer.concat([
    SIGNATURE,
    chunk("IHDR", header),
    ...Object.entries(text).map(([keyword, value]) => chunk("tEXt", textData(keyword, value))),
    chunk("IDAT", deflateSync(scanlines)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Length, type, data, and the CRC of type and data. */
function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** tEXt is Latin-1 with a 1–79 character keyword and a NUL between; a NUL or control character in either is invalid. */
function textData(keyword: string, value: string): Buffer {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || /^ | $| {2}/.test(keyword))
    throw new RangeError(`png: ${JSON.stringify(keyword)} is not a tEXt keyword`);
  const latin1 = value.replace(/[^\n\x20-\x7e\xa0-\xff]/g, "?");
  return Buffer.from(`${keyword}\0${latin1}`, "latin1");
}

let table: Uint32Array | undefined;

/** The CRC-32 PNG uses (ISO 3309, reflected polynomial 0xEDB88320), from a 256-entry table built once. */
export function crc32(bytes: Uint8Array): number {
  table ??= crcTable();
  let crc = 0xffffffff;
  for (const byte of bytes) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function crcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
