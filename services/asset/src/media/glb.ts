import { capPrompt, PLACEHOLDER_NOTE } from "./label.ts";
import { colorsOf } from "./seed.ts";

/**
 * The placeholder model: a unit cube in binary glTF 2.0 (GLB), coloured from the seed. A GLB is a 12-byte header
 * ("glTF", version 2, total length), a JSON chunk padded with spaces and a BIN chunk padded with zeros, each to
 * four bytes. The cube has a position and a normal per face corner (24 of each, so faces shade flat) and 36
 * uint16 indices, counter-clockwise seen from outside as glTF wants.
 */

const MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a; // "JSON"
const CHUNK_BIN = 0x004e4942; // "BIN\0"
const FLOAT = 5126;
const UNSIGNED_SHORT = 5123;
const ARRAY_BUFFER = 34962;
const ELEMENT_ARRAY_BUFFER = 34963;
const TRIANGLES = 4;

export const GLB_GENERATOR = "Gaia placeholder provider (offline placeholder, not a generated model)";

type Vec3 = readonly [number, number, number];

/** Each face: its outward normal and two edge directions u, v with u × v = normal (which makes the winding CCW). */
const FACES: readonly (readonly [Vec3, Vec3, Vec3])[] = [
  [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
  [
    [-1, 0, 0],
    [0, 0, 1],
    [0, 1, 0],
  ],
  [
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 0],
  ],
  [
    [0, -1, 0],
    [1, 0, 0],
    [0, 0, 1],
  ],
  [
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 0],
  ],
  [
    [0, 0, -1],
    [0, 1, 0],
    [1, 0, 0],
  ],
];
const CORNERS: readonly (readonly [number, number])[] = [
  [-1, -1],
  [1, -1],
  [1, 1],
  [-1, 1],
];

export interface GlbOptions {
  seed: Uint8Array;
  prompt: string;
}

export function placeholderGlb(options: GlbOptions): Buffer {
  const vertices = FACES.length * CORNERS.length;
  const positions = Buffer.alloc(vertices * 12);
  const normals = Buffer.alloc(vertices * 12);
  const indices = Buffer.alloc(FACES.length * 6 * 2);
  let vertex = 0;
  for (const [f, [n, u, v]] of FACES.entries()) {
    for (const [a, b] of CORNERS) {
      for (let c = 0; c < 3; c++) {
        positions.writeFloatLE((n[c]! + a * u[c]! + b * v[c]!) / 2, vertex * 12 + c * 4);
        normals.writeFloatLE(n[c]!, vertex * 12 + c * 4);
      }
      vertex++;
    }
    const base = f * 4;
    for (const [i, corner] of [0, 1, 2, 0, 2, 3].entries())
      indices.writeUInt16LE(base + corner, (f * 6 + i) * 2);
  }
  // Every view's length is a multiple of 4, so each starts aligned for its component type with no padding between.
  const bin = Buffer.concat([positions, normals, indices]);

  const [color] = colorsOf(options.seed);
  const gltf = {
    asset: {
      version: "2.0",
      generator: GLB_GENERATOR,
      extras: { placeholder: true, offline: true, note: PLACEHOLDER_NOTE, prompt: capPrompt(options.prompt) },
    },
    scene: 0,
    scenes: [{ name: "placeholder", nodes: [0] }],
    nodes: [{ name: "placeholder", mesh: 0 }],
    meshes: [
      {
        name: "placeholder cube",
        primitives: [{ attributes: { POSITION: 0, NORMAL: 1 }, indices: 2, material: 0, mode: TRIANGLES }],
      },
    ],
    materials: [
      {
        name: "placeholder",
        pbrMetallicRoughness: {
          baseColorFactor: [...color.map((c) => Math.round((c / 255) * 1000) / 1000), 1],
          metallicFactor: 0,
          roughnessFactor: 0.8,
        },
      },
    ],
    buffers: [{ byteLength: bin.length }],
    bufferViews: [
      { buffer: 0, byteOffset: 0, byteLength: positions.length, target: ARRAY_BUFFER },
      { buffer: 0, byteOffset: positions.length, byteLength: normals.length, target: ARRAY_BUFFER },
      {
        buffer: 0,
        byteOffset: positions.length + normals.length,
        byteLength: indices.length,
        target: ELEMENT_ARRAY_BUFFER,
      },
    ],
    accessors: [
      {
        bufferView: 0,
        componentType: FLOAT,
        count: vertices,
        type: "VEC3",
        min: [-0.5, -0.5, -0.5],
        max: [0.5, 0.5, 0.5],
      },
      { bufferView: 1, componentType: FLOAT, count: vertices, type: "VEC3" },
      { bufferView: 2, componentType: UNSIGNED_SHORT, count: indices.length / 2, type: "SCALAR" },
    ],
  };
  // Padded after encoding: the chunk length counts UTF-8 bytes, not the string's UTF-16 units.
  const json = pad(Buffer.from(JSON.stringify(gltf), "utf8"), 0x20);
  const body = pad(bin, 0);

  const header = Buffer.alloc(12);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + 8 + json.length + 8 + body.length, 8);
  return Buffer.concat([
    header,
    chunkHeader(json.length, CHUNK_JSON),
    json,
    chunkHeader(body.length, CHUNK_BIN),
    body,
  ]);
}

function chunkHeader(length: number, type: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32LE(length, 0);
  out.writeUInt32LE(type, 4);
  return out;
}

function pad(bytes: Buffer, fill: number): Buffer {
  const extra = (4 - (bytes.length % 4)) % 4;
  return extra === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(extra, fill)]);
}
