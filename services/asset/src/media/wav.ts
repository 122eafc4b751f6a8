import { unitOf } from "./seed.ts";

/**
 * The placeholder sound: 16-bit PCM mono WAV at 22050 Hz. A sound is one tone, a piece of music an arpeggio of four
 * pentatonic notes over the same root, looped; the root's pitch comes from the seed (continuously, so two prompts
 * practically never share one). Each note fades in and out over a few milliseconds, which keeps it free of clicks.
 */

export const SAMPLE_RATE = 22050;
export const MIN_SECONDS = 0.1;
export const MAX_SECONDS = 30;

const NOTE_SECONDS = 0.375;
const PENTATONIC = [0, 2, 4, 7, 9, 12];
const AMPLITUDE = 0.3;
const ATTACK_S = 0.01;
const RELEASE_S = 0.04;

/** Seconds of audio: MIN_SECONDS to MAX_SECONDS (NaN counts as the minimum). */
export function clampSeconds(seconds: number): number {
  if (Number.isNaN(seconds)) return MIN_SECONDS;
  return Math.min(MAX_SECONDS, Math.max(MIN_SECONDS, seconds));
}

/** Samples in a clip of that many seconds, after clamping. */
export function sampleCount(seconds: number): number {
  return Math.round(clampSeconds(seconds) * SAMPLE_RATE);
}

export interface WavOptions {
  seconds: number;
  seed: Uint8Array;
  kind: "sound" | "music";
  /** The LIST/INFO comment (ICMT); ASCII, anything else becomes "?". */
  comment?: string;
}

export function placeholderWav(options: WavOptions): Buffer {
  const root = 220 * 2 ** (unitOf(options.seed, 5) * 2); // A3 to A5
  const notes =
    options.kind === "sound"
      ? [root]
      : [0, 1, 2, 3].map((i) => root * 2 ** (PENTATONIC[Math.floor(unitOf(options.seed, 6 + i) * 6)]! / 12));
  const count = sampleCount(options.seconds);
  const noteSamples = options.kind === "sound" ? count : Math.round(NOTE_SECONDS * SAMPLE_RATE);
  const samples = new Int16Array(count);
  for (let i = 0; i < count; i++) {
    const note = Math.floor(i / noteSamples);
    const at = i - note * noteSamples;
    const length = Math.min(noteSamples, count - note * noteSamples);
    const envelope = Math.min(
      1,
      at / (ATTACK_S * SAMPLE_RATE),
      (length - 1 - at) / (RELEASE_S * SAMPLE_RATE),
    );
    const frequency = notes[note % notes.length]!;
    samples[i] = Math.round(
      AMPLITUDE * 32767 * Math.max(0, envelope) * Math.sin((2 * Math.PI * frequency * at) / SAMPLE_RATE),
    );
  }
  return encodeWav(samples, options.comment);
}

/** RIFF/WAVE with a 16-byte PCM fmt chunk, an optional LIST/INFO/ICMT, then the data chunk. */
export function encodeWav(samples: Int16Array, comment?: string): Buffer {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0); // PCM
  fmt.writeUInt16LE(1, 2); // mono
  fmt.writeUInt32LE(SAMPLE_RATE, 4);
  fmt.writeUInt32LE(SAMPLE_RATE * 2, 8); // bytes a second
  fmt.writeUInt16LE(2, 12); // bytes a frame
  fmt.writeUInt16LE(16, 14); // bits a sample
  const data = Buffer.alloc(samples.length * 2);
  for (const [i, s] of samples.entries()) data.writeInt16LE(s, i * 2);
  const chunks = [chunk("fmt ", fmt)];
  if (comment !== undefined) {
    const text = Buffer.from(`${comment.replace(/[^\x20-\x7e]/g, "?")}\0`, "latin1");
    chunks.push(chunk("LIST", Buffer.concat([Buffer.from("INFO", "latin1"), chunk("ICMT", text)])));
  }
  chunks.push(chunk("data", data));
  const body = Buffer.concat(chunks);
  const header = Buffer.alloc(12);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(4 + body.length, 4);
  header.write("WAVE", 8, "latin1");
  return Buffer.concat([header, body]);
}

/** A RIFF chunk: id, size, data and a pad byte when the size is odd (the size itself does not count the pad). */
function chunk(id: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, "latin1");
  header.writeUInt32LE(data.length, 4);
  return Buffer.concat(data.length % 2 === 1 ? [header, data, Buffer.alloc(1)] : [header, data]);
}
