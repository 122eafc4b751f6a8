import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { inflateSync, crc32 as zlibCrc32 } from "node:zlib";
import { crc32, placeholderPng } from "../src/media/png.ts";
import { xmlText } from "../src/media/svg.ts";
import { encodeWav } from "../src/media/wav.ts";
import { placeholderFiles, placeholderProvider } from "../src/providers/placeholder.ts";
import {
  ASSET_TYPES,
  type AssetSpec,
  ProviderError,
  type ResultFile,
  type Task,
} from "../src/providers/types.ts";

/*
 * The placeholder's files are checked the way a strict reader would check a stranger's file: every length, offset
 * and checksum recomputed here from the bytes (CRCs with zlib's own crc32, scanlines with zlib's inflate), never by
 * asking the writer. A file that passes is one a real decoder opens.
 */

const live = () => new AbortController().signal;
const spec = (over: Partial<AssetSpec> & Pick<AssetSpec, "type">): AssetSpec => ({
  prompt: "a mossy stone bridge at dawn",
  quality: "standard",
  ...over,
});
const only = (files: ResultFile[], n: number): ResultFile[] => {
  assert.equal(files.length, n, `expected ${n} file(s), got ${files.length}`);
  return files;
};
const first = (files: ResultFile[]): Buffer => files[0]!.bytes;

// ---------------------------------------------------------------------------------------------------- PNG reader

interface Png {
  width: number;
  height: number;
  text: Record<string, string>;
  scanlines: Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function readPng(bytes: Buffer): Png {
  assert.ok(bytes.subarray(0, 8).equals(PNG_SIGNATURE), "PNG signature");
  const chunks: { type: string; data: Buffer }[] = [];
  let at = 8;
  while (at < bytes.length) {
    assert.ok(at + 12 <= bytes.length, `chunk header at ${at} runs past the end`);
    const length = bytes.readUInt32BE(at);
    assert.ok(length <= 0x7fffffff, "chunk length over 2^31-1");
    const type = bytes.toString("latin1", at + 4, at + 8);
    assert.match(type, /^[A-Za-z]{4}$/, `chunk type ${JSON.stringify(type)}`);
    assert.ok(at + 12 + length <= bytes.length, `${type} runs past the end`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    const stored = bytes.readUInt32BE(at + 8 + length);
    assert.equal(stored, zlibCrc32(bytes.subarray(at + 4, at + 8 + length)), `${type} CRC`);
    chunks.push({ type, data });
    at += 12 + length;
  }
  assert.equal(at, bytes.length, "bytes after the last chunk");
  assert.equal(chunks[0]?.type, "IHDR", "IHDR first");
  assert.equal(chunks.at(-1)?.type, "IEND", "IEND last");
  assert.equal(chunks.at(-1)?.data.length, 0, "IEND is empty");
  assert.equal(chunks.filter((c) => c.type === "IHDR").length, 1);
  assert.equal(chunks.filter((c) => c.type === "IEND").length, 1);

  const ihdr = chunks[0]!.data;
  assert.equal(ihdr.length, 13, "IHDR length");
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  assert.ok(width > 0 && height > 0, "zero side");
  const [depth, colour, compression, filter, interlace] = ihdr.subarray(8);
  assert.equal(depth, 8, "bit depth");
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colour as 0 | 2 | 4 | 6];
  assert.ok(channels !== undefined, `colour type ${colour}`);
  assert.deepEqual([compression, filter, interlace], [0, 0, 0]);

  // IDAT chunks are consecutive and their data together is one zlib stream.
  const idatAt = chunks.flatMap((c, i) => (c.type === "IDAT" ? [i] : []));
  assert.ok(idatAt.length > 0, "no IDAT");
  assert.equal(idatAt.at(-1)! - idatAt[0]! + 1, idatAt.length, "IDAT chunks are not consecutive");
  const scanlines = inflateSync(Buffer.concat(idatAt.map((i) => chunks[i]!.data)));
  const rowBytes = 1 + width * channels;
  assert.equal(scanlines.length, height * rowBytes, "scanline bytes = height × (1 + width × bytesPerPixel)");
  for (let y = 0; y < height; y++) assert.ok(scanlines[y * rowBytes]! <= 4, `row ${y} filter type`);

  const text: Record<string, string> = {};
  for (const c of chunks.filter((c) => c.type === "tEXt")) {
    const nul = c.data.indexOf(0);
    assert.ok(nul >= 1 && nul <= 79, "tEXt keyword of 1–79 bytes");
    assert.equal(c.data.indexOf(0, nul + 1), -1, "a second NUL in tEXt");
    text[c.data.toString("latin1", 0, nul)] = c.data.toString("latin1", nul + 1);
  }
  return { width, height, text, scanlines };
}

/** The mean colour of an RGB PNG (filter 0 rows only, which is what a placeholder writes). */
function meanColour(png: Png): number[] {
  const sum = [0, 0, 0];
  const rowBytes = 1 + png.width * 3;
  for (let y = 0; y < png.height; y++) {
    assert.equal(png.scanlines[y * rowBytes], 0);
    for (let x = 0; x < png.width; x++)
      for (let c = 0; c < 3; c++) sum[c]! += png.scanlines[y * rowBytes + 1 + x * 3 + c]!;
  }
  return sum.map((s) => s / (png.width * png.height));
}

// ---------------------------------------------------------------------------------------------------- XML reader

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: (XmlElement | string)[];
}

const XML_CHAR = /^[\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Character data: every & starts a well-formed reference, no "]]>", then references replaced. */
function decodeXml(raw: string): string {
  assert.doesNotMatch(raw, /&(?!(?:lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/, `bare & in ${raw}`);
  assert.ok(!raw.includes("]]>"), "]]> in character data");
  return raw.replace(/&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/g, (_, named, dec, hex) =>
    named
      ? ENTITIES[named]!
      : String.fromCodePoint(dec ? Number.parseInt(dec, 10) : Number.parseInt(hex, 16)),
  );
}

/**
 * A strict reader of the XML subset an SVG needs: a declaration, elements, attributes in quotes, references and
 * comments. Anything else (CDATA, a DOCTYPE, processing instructions) is refused, as is any mismatch.
 */
function parseXml(xml: string): XmlElement {
  assert.match(xml, XML_CHAR, "a character XML 1.0 forbids");
  const NAME = "[A-Za-z_:][\\w.:-]*";
  const openTag = new RegExp(`<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`, "y");
  const closeTag = new RegExp(`</(${NAME})\\s*>`, "y");
  const document: XmlElement = { name: "#document", attrs: {}, children: [] };
  const stack = [document];
  let i = 0;
  const declaration = /^<\?xml\s+version="1\.[0-9]"(?:\s+encoding="UTF-8")?\s*\?>/.exec(xml);
  if (declaration) i = declaration[0].length;
  while (i < xml.length) {
    const top = stack.at(-1)!;
    const lt = xml.indexOf("<", i);
    const raw = xml.slice(i, lt === -1 ? xml.length : lt);
    if (top === document) assert.match(raw, /^\s*$/, "text outside the root element");
    else if (raw.length > 0) top.children.push(decodeXml(raw));
    if (lt === -1) break;
    if (xml.startsWith("<!--", lt)) {
      const end = xml.indexOf("-->", lt + 4);
      assert.ok(end > 0, "unterminated comment");
      assert.ok(!xml.slice(lt + 4, end).includes("--"), "-- inside a comment");
      i = end + 3;
      continue;
    }
    assert.ok(!xml.startsWith("<!", lt) && !xml.startsWith("<?", lt), `unexpected markup at ${lt}`);
    closeTag.lastIndex = lt;
    const close = closeTag.exec(xml);
    if (close) {
      assert.notEqual(top, document, `</${close[1]}> with nothing open`);
      assert.equal(close[1], top.name, `</${close[1]}> closes <${top.name}>`);
      stack.pop();
      i = closeTag.lastIndex;
      continue;
    }
    openTag.lastIndex = lt;
    const open = openTag.exec(xml);
    assert.ok(open, `malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const attrs: Record<string, string> = {};
    for (const [, key, quoted] of open[2]!.matchAll(
      new RegExp(`(${NAME})\\s*=\\s*("[^"<]*"|'[^'<]*')`, "g"),
    )) {
      assert.ok(!(key! in attrs), `attribute ${key} twice`);
      attrs[key!] = decodeXml(quoted!.slice(1, -1));
    }
    const element: XmlElement = { name: open[1]!, attrs, children: [] };
    if (top === document) assert.equal(document.children.length, 0, "a second root element");
    top.children.push(element);
    if (open[3] !== "/") stack.push(element);
    i = openTag.lastIndex;
  }
  assert.equal(stack.length, 1, `<${stack.at(-1)?.name}> is never closed`);
  const root = document.children[0];
  assert.ok(root && typeof root !== "string", "no root element");
  return root;
}

function elements(root: XmlElement): XmlElement[] {
  return [root, ...root.children.flatMap((c) => (typeof c === "string" ? [] : elements(c)))];
}
function textOf(element: XmlElement): string {
  return element.children.map((c) => (typeof c === "string" ? c : textOf(c))).join("");
}

// ---------------------------------------------------------------------------------------------------- GLB reader

interface Gltf {
  asset: { version: string; generator?: string; extras?: Record<string, unknown> };
  buffers: { byteLength: number; uri?: string }[];
  bufferViews: { buffer: number; byteOffset?: number; byteLength: number; byteStride?: number }[];
  accessors: {
    bufferView: number;
    byteOffset?: number;
    componentType: number;
    count: number;
    type: string;
    min?: number[];
    max?: number[];
  }[];
  meshes: { primitives: { attributes: Record<string, number>; indices?: number; mode?: number }[] }[];
  nodes: { mesh?: number }[];
  scenes: { nodes: number[] }[];
  scene?: number;
}

const COMPONENT_BYTES: Record<number, number> = { 5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4 };
const COMPONENTS: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT4: 16 };

function readGlb(bytes: Buffer): { gltf: Gltf; bin: Buffer } {
  assert.ok(bytes.length >= 12 + 8, "shorter than a header and a chunk");
  assert.equal(bytes.readUInt32LE(0), 0x46546c67, "magic glTF");
  assert.equal(bytes.toString("latin1", 0, 4), "glTF");
  assert.equal(bytes.readUInt32LE(4), 2, "version");
  assert.equal(bytes.readUInt32LE(8), bytes.length, "header length = file length");

  const jsonLength = bytes.readUInt32LE(12);
  assert.equal(bytes.readUInt32LE(16), 0x4e4f534a, "first chunk is JSON");
  assert.equal(jsonLength % 4, 0, "JSON chunk padded to 4");
  assert.ok(20 + jsonLength <= bytes.length, "JSON chunk runs past the end");
  const jsonText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(20, 20 + jsonLength));
  assert.match(jsonText, /[}\]] {0,3}$/, "JSON chunk padded with at most 3 spaces");
  const gltf = JSON.parse(jsonText) as Gltf;

  const binAt = 20 + jsonLength;
  assert.ok(binAt + 8 <= bytes.length, "no BIN chunk");
  const binLength = bytes.readUInt32LE(binAt);
  assert.equal(bytes.readUInt32LE(binAt + 4), 0x004e4942, "second chunk is BIN");
  assert.equal(binLength % 4, 0, "BIN chunk padded to 4");
  assert.equal(binAt + 8 + binLength, bytes.length, "BIN chunk ends the file");
  const bin = bytes.subarray(binAt + 8, binAt + 8 + binLength);

  assert.equal(gltf.asset.version, "2.0");
  assert.equal(gltf.buffers.length, 1);
  assert.equal(gltf.buffers[0]!.uri, undefined, "the GLB buffer has no uri");
  assert.ok(gltf.buffers[0]!.byteLength <= bin.length, "buffer byteLength fits the BIN chunk");
  assert.ok(bin.length - gltf.buffers[0]!.byteLength < 4, "more than padding after the buffer");
  for (const view of gltf.bufferViews) {
    const buffer = gltf.buffers[view.buffer];
    assert.ok(buffer, `bufferView's buffer ${view.buffer}`);
    assert.ok((view.byteOffset ?? 0) + view.byteLength <= buffer.byteLength, "bufferView fits its buffer");
  }
  for (const accessor of gltf.accessors) {
    const view = gltf.bufferViews[accessor.bufferView];
    assert.ok(view, `accessor's bufferView ${accessor.bufferView}`);
    const component = COMPONENT_BYTES[accessor.componentType];
    const components = COMPONENTS[accessor.type];
    assert.ok(component && components, `accessor ${accessor.componentType}/${accessor.type}`);
    const element = component * components;
    const stride = view.byteStride ?? element;
    const offset = accessor.byteOffset ?? 0;
    assert.equal(((view.byteOffset ?? 0) + offset) % component, 0, "accessor aligned to its component");
    assert.ok(
      offset + stride * (accessor.count - 1) + element <= view.byteLength,
      "accessor fits its bufferView",
    );
  }
  return { gltf, bin };
}

/** An accessor's values, read from the BIN chunk through its bufferView (tightly packed floats or uint16). */
function accessorValues({ gltf, bin }: { gltf: Gltf; bin: Buffer }, index: number): number[] {
  const accessor = gltf.accessors[index]!;
  const view = gltf.bufferViews[accessor.bufferView]!;
  const start = (view.byteOffset ?? 0) + (accessor.byteOffset ?? 0);
  const n = accessor.count * COMPONENTS[accessor.type]!;
  if (accessor.componentType === 5126)
    return Array.from({ length: n }, (_, i) => bin.readFloatLE(start + i * 4));
  assert.equal(accessor.componentType, 5123);
  return Array.from({ length: n }, (_, i) => bin.readUInt16LE(start + i * 2));
}

// ---------------------------------------------------------------------------------------------------- WAV reader

interface Wav {
  format: number;
  channels: number;
  rate: number;
  byteRate: number;
  blockAlign: number;
  bits: number;
  data: Buffer;
  comment?: string;
}

function readWav(bytes: Buffer): Wav {
  assert.equal(bytes.toString("latin1", 0, 4), "RIFF");
  assert.equal(bytes.readUInt32LE(4), bytes.length - 8, "RIFF size = file length − 8");
  assert.equal(bytes.toString("latin1", 8, 12), "WAVE");
  const chunks = new Map<string, Buffer>();
  let at = 12;
  while (at < bytes.length) {
    assert.ok(at + 8 <= bytes.length, `chunk header at ${at} runs past the end`);
    const id = bytes.toString("latin1", at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    assert.ok(at + 8 + size <= bytes.length, `${id} runs past the end`);
    assert.ok(!chunks.has(id), `two ${id} chunks`);
    chunks.set(id, bytes.subarray(at + 8, at + 8 + size));
    at += 8 + size + (size % 2); // chunks are padded to an even length
  }
  assert.equal(at, bytes.length, "chunks fill the RIFF exactly");
  const fmt = chunks.get("fmt ");
  const data = chunks.get("data");
  assert.ok(fmt && data, "fmt and data chunks");
  assert.ok([...chunks.keys()].indexOf("fmt ") < [...chunks.keys()].indexOf("data"), "fmt before data");
  assert.equal(fmt.length, 16, "PCM fmt is 16 bytes");
  let comment: string | undefined;
  const list = chunks.get("LIST");
  if (list) {
    assert.equal(list.toString("latin1", 0, 4), "INFO");
    for (let i = 4; i < list.length; ) {
      const id = list.toString("latin1", i, i + 4);
      const size = list.readUInt32LE(i + 4);
      assert.ok(i + 8 + size <= list.length, `${id} runs past its LIST`);
      if (id === "ICMT") comment = list.toString("latin1", i + 8, i + 8 + size).replace(/\0+$/, "");
      i += 8 + size + (size % 2);
    }
  }
  return {
    format: fmt.readUInt16LE(0),
    channels: fmt.readUInt16LE(2),
    rate: fmt.readUInt32LE(4),
    byteRate: fmt.readUInt32LE(8),
    blockAlign: fmt.readUInt16LE(12),
    bits: fmt.readUInt16LE(14),
    data,
    ...(comment !== undefined ? { comment } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------- the tests

describe("asset placeholder provider (pure)", () => {
  describe("PNG", () => {
    it("is a valid PNG: signature, every CRC, IHDR, and IDAT inflating to height × (1 + width × 3)", () => {
      for (const [size, w, h] of [
        ["1024x1024", 1024, 1024],
        ["640x360", 640, 360],
        ["17x3", 17, 3],
      ] as const) {
        const [main, thumb] = only(placeholderFiles(spec({ type: "image", size })), 2);
        assert.equal(main!.contentType, "image/png");
        assert.equal(main!.format, "png");
        const png = readPng(main!.bytes);
        assert.deepEqual([png.width, png.height], [w, h], size);
        assert.equal(thumb!.contentType, "image/png");
        assert.equal(thumb!.format, "png");
        const small = readPng(thumb!.bytes);
        assert.deepEqual([small.width, small.height], [128, 128], "thumbnail");
      }
    });

    it("says it is the offline placeholder in a tEXt Comment", () => {
      for (const file of placeholderFiles(spec({ type: "texture" }))) {
        const { text } = readPng(file.bytes);
        assert.match(text.Comment ?? "", /offline placeholder/);
        assert.match(text.Comment ?? "", /placeholder: true/);
      }
    });

    it("draws the same pattern in the thumbnail as in the image", () => {
      const [main, thumb] = placeholderFiles(spec({ type: "sprite", size: "512x512" }));
      const a = meanColour(readPng(main!.bytes));
      const b = meanColour(readPng(thumb!.bytes));
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(a[c]! - b[c]!) < 3, `channel ${c}: ${a[c]} vs ${b[c]}`);
    });

    it("is not one flat colour", () => {
      const png = readPng(first(placeholderFiles(spec({ type: "image", size: "64x64" }))));
      const pixels = new Set<string>();
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 64; x++)
          pixels.add(png.scanlines.toString("hex", y * 193 + 1 + x * 3, y * 193 + 4 + x * 3));
      assert.ok(pixels.size > 16, `${pixels.size} colours`);
    });

    it("clamps its sides itself, whatever its caller passed", () => {
      const seed = randomBytes(32);
      const sides = (width: number, height: number) => {
        const png = readPng(placeholderPng({ width, height, seed }));
        return [png.width, png.height];
      };
      assert.deepEqual(sides(5000, 3), [2048, 3]);
      assert.deepEqual(sides(0, -7), [1, 1]);
      assert.deepEqual(sides(Number.NaN, Number.POSITIVE_INFINITY), [1, 2048]);
      assert.deepEqual(sides(10.4, 10.6), [10, 11]);
    });

    it("computes the same CRC-32 as zlib", () => {
      for (const n of [0, 1, 3, 255, 4096]) {
        const bytes = randomBytes(n);
        assert.equal(crc32(bytes), zlibCrc32(bytes), `${n} bytes`);
      }
      assert.equal(crc32(Buffer.from("IEND", "latin1")), 0xae426082);
    });
  });

  describe("SVG", () => {
    const hostile = `</desc></text><script>alert("x")</script> Tom & Jerry's <![CDATA[ ]]> <!-- -- --> \u0001\u0008 \ud800 é 😀 <svg onload="alert(1)">`;
    // What XML 1.0 can carry of it: the control characters and the lone surrogate are dropped.
    const carried = hostile.replaceAll("\u0001", "").replaceAll("\u0008", "").replaceAll("\ud800", "");

    it("is well-formed XML with the prompt escaped: no element, attribute or markup from the prompt", () => {
      const [svgFile, thumb] = only(
        placeholderFiles(spec({ type: "image", format: "svg", prompt: hostile })),
        2,
      );
      assert.equal(svgFile!.contentType, "image/svg+xml");
      assert.equal(svgFile!.format, "svg");
      const xml = new TextDecoder("utf-8", { fatal: true }).decode(svgFile!.bytes);
      assert.ok(!xml.includes("<script"), "raw <script");
      assert.ok(!xml.includes("<![CDATA["), "raw CDATA");
      const root = parseXml(xml);
      assert.equal(root.name, "svg");
      assert.equal(root.attrs.xmlns, "http://www.w3.org/2000/svg");
      const all = elements(root);
      const names = new Set(all.map((e) => e.name));
      for (const name of names)
        assert.ok(
          [
            "svg",
            "title",
            "desc",
            "metadata",
            "defs",
            "linearGradient",
            "stop",
            "rect",
            "text",
            "tspan",
          ].includes(name),
          `element <${name}>`,
        );
      for (const e of all)
        for (const key of Object.keys(e.attrs)) assert.doesNotMatch(key, /^on/i, `<${e.name} ${key}>`);
      // The whole prompt survives as text, in the description and (wrapped) in the visible lines.
      const desc = all.find((e) => e.name === "desc")!;
      assert.ok(textOf(desc).endsWith(`Prompt: ${carried}`), textOf(desc));
      const lines = all.filter((e) => e.name === "tspan").map(textOf);
      assert.equal(lines.join("").replace(/\s+/g, ""), carried.replace(/\s+/g, ""));
      // The thumbnail of an SVG is a PNG.
      assert.equal(thumb!.contentType, "image/png");
      assert.deepEqual([readPng(thumb!.bytes).width, readPng(thumb!.bytes).height], [128, 128]);
    });

    it("escapes all five XML specials, so the prompt would be safe in an attribute value too", () => {
      assert.equal(
        xmlText(`<a href='x' title="y">&amp;</a>`),
        "&lt;a href=&apos;x&apos; title=&quot;y&quot;&gt;&amp;amp;&lt;/a&gt;",
      );
    });

    it('shows "placeholder (offline)" and says placeholder: true', () => {
      const root = parseXml(
        first(placeholderFiles(spec({ type: "texture", format: "svg" }))).toString("utf8"),
      );
      const all = elements(root);
      assert.ok(
        all.some((e) => e.name === "text" && textOf(e) === "placeholder (offline)"),
        "visible label",
      );
      assert.equal(textOf(all.find((e) => e.name === "title")!), "placeholder (offline)");
      assert.equal(textOf(all.find((e) => e.name === "metadata")!), "placeholder: true");
      assert.match(textOf(all.find((e) => e.name === "desc")!), /offline placeholder/);
    });

    it("has the size asked for, clamped, and cuts a long prompt into lines that fit", () => {
      const root = parseXml(
        first(
          placeholderFiles(
            spec({ type: "image", format: "svg", size: "300x9000", prompt: "word ".repeat(500) }),
          ),
        ).toString("utf8"),
      );
      assert.deepEqual(
        [root.attrs.width, root.attrs.height, root.attrs.viewBox],
        ["300", "2048", "0 0 300 2048"],
      );
      const lines = elements(root)
        .filter((e) => e.name === "tspan")
        .map(textOf);
      assert.ok(lines.length >= 1 && lines.length < 100, `${lines.length} lines`);
      assert.ok(lines.at(-1)!.endsWith("…"), "the cut is shown");
    });
  });

  describe("GLB", () => {
    // Multi-byte UTF-8 makes the JSON's byte length differ from its string length; a lone surrogate must survive too.
    const prompt = 'a ruined tower — «ÿ» 塔 😀 "quoted" </script> \ud800';

    it("is a valid GLB: header, JSON and BIN chunks, every view and accessor inside its buffer", () => {
      const [file] = only(placeholderFiles(spec({ type: "model3d", prompt })), 1);
      assert.equal(file!.contentType, "model/gltf-binary");
      assert.equal(file!.format, "glb");
      const glb = readGlb(file!.bytes);
      const { gltf } = glb;
      assert.match(gltf.asset.generator ?? "", /Gaia/);
      assert.match(gltf.asset.generator ?? "", /placeholder/);
      assert.equal(gltf.asset.extras?.placeholder, true);
      assert.equal(gltf.asset.extras?.prompt, prompt, "the prompt, multi-byte characters and all");
      assert.match(String(gltf.asset.extras?.note), /offline placeholder/);

      // The scene reaches a mesh whose indices address its positions, and whose bounds are the data's.
      const node = gltf.nodes[gltf.scenes[gltf.scene ?? 0]!.nodes[0]!]!;
      const primitive = gltf.meshes[node.mesh!]!.primitives[0]!;
      assert.equal(primitive.mode ?? 4, 4, "triangles");
      const positions = accessorValues(glb, primitive.attributes.POSITION!);
      const normals = accessorValues(glb, primitive.attributes.NORMAL!);
      const indices = accessorValues(glb, primitive.indices!);
      const vertexCount = gltf.accessors[primitive.attributes.POSITION!]!.count;
      assert.equal(indices.length % 3, 0);
      assert.ok(indices.length >= 36, "a cube's 12 triangles");
      for (const i of indices) assert.ok(i < vertexCount, `index ${i} of ${vertexCount} vertices`);
      const accessor = gltf.accessors[primitive.attributes.POSITION!]!;
      for (let c = 0; c < 3; c++) {
        const values = positions.filter((_, i) => i % 3 === c);
        assert.equal(accessor.min![c], Math.min(...values), "POSITION min");
        assert.equal(accessor.max![c], Math.max(...values), "POSITION max");
      }
      // Every triangle winds counter-clockwise seen from outside: its face normal agrees with the stored one.
      const at = (v: number) => [positions[v * 3]!, positions[v * 3 + 1]!, positions[v * 3 + 2]!];
      for (let t = 0; t < indices.length; t += 3) {
        const [a, b, c] = [at(indices[t]!), at(indices[t + 1]!), at(indices[t + 2]!)];
        const u = [b[0]! - a[0]!, b[1]! - a[1]!, b[2]! - a[2]!];
        const v = [c[0]! - a[0]!, c[1]! - a[1]!, c[2]! - a[2]!];
        const cross = [
          u[1]! * v[2]! - u[2]! * v[1]!,
          u[2]! * v[0]! - u[0]! * v[2]!,
          u[0]! * v[1]! - u[1]! * v[0]!,
        ];
        const n = indices[t]! * 3;
        const dot = cross[0]! * normals[n]! + cross[1]! * normals[n + 1]! + cross[2]! * normals[n + 2]!;
        assert.ok(dot > 0, `triangle ${t / 3} faces inwards`);
      }
    });
  });

  describe("WAV", () => {
    it("is PCM 16-bit mono at 22050 Hz with the data length of its duration", () => {
      for (const [type, seconds] of [
        ["sound", 1],
        ["music", 1.5],
        ["sound", 0.3333],
      ] as const) {
        const [file] = only(placeholderFiles(spec({ type, durationS: seconds })), 1);
        assert.equal(file!.contentType, "audio/wav");
        assert.equal(file!.format, "wav");
        const wav = readWav(file!.bytes);
        assert.deepEqual(
          [wav.format, wav.channels, wav.rate, wav.bits, wav.blockAlign, wav.byteRate],
          [1, 1, 22050, 16, 2, 44100],
        );
        assert.equal(wav.data.length, Math.round(seconds * 22050) * 2, `${type} ${seconds} s`);
        assert.match(wav.comment ?? "", /offline placeholder/);
      }
    });

    it("is an audible tone that starts and ends at silence and never clips", () => {
      const { data } = readWav(first(placeholderFiles(spec({ type: "sound", durationS: 1 }))));
      const samples = Array.from({ length: data.length / 2 }, (_, i) => data.readInt16LE(i * 2));
      const peak = Math.max(...samples.map(Math.abs));
      assert.ok(peak > 3000 && peak < 32767, `peak ${peak}`);
      assert.equal(samples[0], 0);
      assert.ok(Math.abs(samples.at(-1)!) < 100, `last sample ${samples.at(-1)}`);
      // Zero crossings a second say the pitch: within the A3–A5 range the placeholder uses.
      let crossings = 0;
      for (let i = 1; i < samples.length; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) crossings++;
      assert.ok(crossings / 2 > 200 && crossings / 2 < 900, `${crossings / 2} Hz`);
    });

    it("pads an odd-sized chunk to an even length, as RIFF readers expect", () => {
      for (const comment of ["ab", "abc", "é: not ASCII"]) {
        const wav = readWav(encodeWav(new Int16Array(7), comment));
        assert.equal(wav.data.length, 14);
        assert.equal(wav.comment, comment.replace(/[^ -~]/g, "?"));
      }
    });

    it("clamps durations to 0.1–30 s and uses a default when none is given", () => {
      const bytesOf = (durationS?: number) =>
        readWav(
          first(placeholderFiles(spec({ type: "music", ...(durationS === undefined ? {} : { durationS }) }))),
        ).data.length;
      assert.equal(bytesOf(0.01), 2205 * 2);
      assert.equal(bytesOf(0), 2205 * 2);
      assert.equal(bytesOf(600), 30 * 22050 * 2);
      assert.ok(bytesOf() > 0);
    });
  });

  describe("every type", () => {
    it("gives the same bytes for the same spec and different bytes for different prompts", () => {
      const cases: Partial<AssetSpec>[] = [
        { type: "image" },
        { type: "image", format: "svg" },
        { type: "texture", size: "256x256" },
        { type: "sprite", size: "64x96" },
        { type: "model3d" },
        { type: "music", durationS: 2 },
        { type: "sound", durationS: 0.5 },
      ];
      for (const c of cases) {
        const a = placeholderFiles(spec({ type: c.type!, ...c }));
        const again = placeholderFiles(spec({ type: c.type!, ...c }));
        const other = placeholderFiles(spec({ type: c.type!, ...c, prompt: "a lighthouse in a storm" }));
        assert.equal(a.length, again.length);
        for (const [i, f] of a.entries())
          assert.ok(f.bytes.equals(again[i]!.bytes), `${JSON.stringify(c)} file ${i}`);
        for (const [i, f] of a.entries())
          assert.ok(
            !f.bytes.equals(other[i]!.bytes),
            `${JSON.stringify(c)} file ${i} is the same for two prompts`,
          );
      }
    });

    it("clamps image sizes to 1..2048 a side", () => {
      const sides = (size: string) => {
        const png = readPng(first(placeholderFiles(spec({ type: "image", size }))));
        return [png.width, png.height];
      };
      assert.deepEqual(sides("4096x4096"), [2048, 2048]);
      assert.deepEqual(sides("99999999x10"), [2048, 10]);
      assert.deepEqual(sides("0x5"), [1, 5]);
      assert.deepEqual(sides("1x1"), [1, 1]);
    });
  });
});

describe("asset placeholder provider (interface)", () => {
  it("says it is offline, can make every type and costs nothing", () => {
    assert.equal(placeholderProvider.id, "placeholder");
    assert.equal(placeholderProvider.offline, true);
    const { capabilities } = placeholderProvider;
    assert.deepEqual([...capabilities.types].sort(), [...ASSET_TYPES].sort());
    for (const type of ["image", "texture", "sprite"] as const)
      assert.deepEqual(capabilities.formats[type], ["png", "svg"]);
    assert.deepEqual(capabilities.formats.model3d, ["glb"]);
    assert.deepEqual(capabilities.formats.music, ["wav"]);
    assert.deepEqual(capabilities.formats.sound, ["wav"]);
    assert.equal(capabilities.sizes, undefined, "any size");
    assert.equal(capabilities.slow, false);
    for (const type of ASSET_TYPES)
      assert.equal(
        placeholderProvider.estimateUsd(spec({ type }), () => 12.5),
        0,
      );
  });

  it("submits a task whose state alone rebuilds the same files after a restart", async () => {
    const asked = spec({ type: "image", size: "200x100", style: "watercolour" });
    const task = await placeholderProvider.submit(asked, live());
    assert.match(task.id, /^placeholder-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual((await placeholderProvider.submit(asked, live())).id, task.id);
    assert.deepEqual(await placeholderProvider.poll(task, live()), { status: "succeeded" });
    const files = await placeholderProvider.fetch(task, live());
    // As the service would have it back from its database: JSON, nothing shared with the submitted objects.
    const restored = JSON.parse(JSON.stringify(task)) as Task;
    asked.prompt = "changed after submit";
    const again = await placeholderProvider.fetch(restored, live());
    assert.equal(again.length, 2);
    for (const [i, f] of files.entries()) {
      assert.ok(f.bytes.equals(again[i]!.bytes), `file ${i}`);
      assert.equal(f.contentType, again[i]!.contentType);
    }
    assert.deepEqual([readPng(files[0]!.bytes).width, readPng(files[0]!.bytes).height], [200, 100]);
  });

  it("answers each type with the right file", async () => {
    const expected = {
      image: "image/png",
      texture: "image/png",
      sprite: "image/png",
      model3d: "model/gltf-binary",
      music: "audio/wav",
      sound: "audio/wav",
    } as const;
    for (const type of ASSET_TYPES) {
      const task = await placeholderProvider.submit(spec({ type, durationS: 0.5, size: "32x32" }), live());
      const files = await placeholderProvider.fetch(task, live());
      assert.equal(files[0]!.contentType, expected[type], type);
      assert.equal(files.length, type === "image" || type === "texture" || type === "sprite" ? 2 : 1, type);
    }
    const upper = await placeholderProvider.submit(
      spec({ type: "image", format: "SVG", size: "32x32" }),
      live(),
    );
    assert.equal((await placeholderProvider.fetch(upper, live()))[0]!.contentType, "image/svg+xml");
  });

  const refused = async (work: Promise<unknown>): Promise<ProviderError> => {
    try {
      await work;
    } catch (error) {
      assert.ok(error instanceof ProviderError, String(error));
      assert.equal(error.provider, "placeholder");
      assert.equal(error.options.charged, false);
      return error;
    }
    assert.fail("expected a refusal");
  };

  it("refuses a format, size or duration it cannot honour, at submit", async () => {
    for (const bad of [
      spec({ type: "image", format: "webp" }),
      spec({ type: "model3d", format: "fbx" }),
      spec({ type: "sound", format: "mp3" }),
      spec({ type: "image", size: "large" }),
      spec({ type: "image", size: "-5x10" }),
      spec({ type: "music", durationS: Number.NaN }),
      spec({ type: "music", durationS: Number.POSITIVE_INFINITY }),
      { type: "hologram", prompt: "x", quality: "standard" } as unknown as AssetSpec,
    ]) {
      const error = await refused(placeholderProvider.submit(bad, live()));
      assert.equal(error.options.retryable, false, error.message);
      assert.equal(error.options.status, 400, error.message);
    }
  });

  it("refuses to fetch or poll a task whose state is not a spec", async () => {
    for (const state of [
      {},
      { spec: null },
      { spec: { type: "image" } },
      { spec: { type: "image", prompt: 5, quality: "standard" } },
    ]) {
      const task: Task = { id: "placeholder-x", state };
      assert.equal((await refused(placeholderProvider.fetch(task, live()))).options.retryable, false);
      assert.equal((await refused(placeholderProvider.poll(task, live()))).options.retryable, false);
    }
  });

  it("stops when the request is cancelled", async () => {
    const controller = new AbortController();
    controller.abort();
    await refused(placeholderProvider.submit(spec({ type: "image" }), controller.signal));
    const task = await placeholderProvider.submit(spec({ type: "image" }), live());
    await refused(placeholderProvider.fetch(task, controller.signal));
  });
});
