import { createHash } from "node:crypto";

/**
 * A placeholder is drawn from a hash of its prompt: the same prompt always gives the same bytes (so a file can be
 * rebuilt after a restart from the task's state alone), and another prompt visibly gives another file.
 */

export type Rgb = readonly [number, number, number];

/** 32 bytes standing for the words of a request. */
export function seedOf(...parts: readonly (string | undefined)[]): Buffer {
  return createHash("sha256")
    .update(JSON.stringify(parts.map((p) => p ?? "")))
    .digest();
}

/** A number in [0, 1) from the `at`-th four bytes of the seed (wrapping round, so any `at` is safe). */
export function unitOf(seed: Uint8Array, at: number): number {
  if (seed.length === 0) return 0;
  let n = 0;
  for (let k = 0; k < 4; k++) n = n * 256 + (seed[(at * 4 + k) % seed.length] ?? 0);
  return n / 2 ** 32;
}

/** Two colours that go together: hues a quarter to a half turn apart, neither too dark nor too pale for text. */
export function colorsOf(seed: Uint8Array): [Rgb, Rgb] {
  const hue = unitOf(seed, 0);
  const other = (hue + 0.25 + unitOf(seed, 1) * 0.25) % 1;
  const saturation = 0.55 + unitOf(seed, 4) * 0.25;
  return [hslToRgb(hue, saturation, 0.38), hslToRgb(other, saturation, 0.55)];
}

/** The direction the gradient runs, in radians. */
export function angleOf(seed: Uint8Array): number {
  return unitOf(seed, 2) * 2 * Math.PI;
}

export function hexOf(color: Rgb): string {
  return `#${color.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

/** HSL in [0, 1] to 8-bit RGB (the CSS formula). */
export function hslToRgb(h: number, s: number, l: number): Rgb {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
