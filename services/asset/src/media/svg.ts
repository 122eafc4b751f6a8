import { capPrompt, PLACEHOLDER_NOTE, PLACEHOLDER_TITLE } from "./label.ts";
import { clampSide } from "./png.ts";
import { angleOf, colorsOf, hexOf } from "./seed.ts";

/**
 * The placeholder as SVG: the prompt's gradient, the prompt itself and the words "placeholder (offline)". The
 * prompt is a stranger's text inside markup, so every piece of it goes through xmlText: escaped, and stripped of
 * the characters XML 1.0 forbids (a control character or a lone surrogate would make the whole file unparsable).
 */

export interface SvgOptions {
  width: number;
  height: number;
  seed: Uint8Array;
  prompt: string;
}

export function placeholderSvg(options: SvgOptions): string {
  const width = clampSide(options.width);
  const height = clampSide(options.height);
  const [from, to] = colorsOf(options.seed);
  const angle = angleOf(options.seed);
  const prompt = capPrompt(options.prompt);

  const fontSize = Math.max(6, Math.min(64, Math.round(Math.min(width, height) / 16)));
  const lineHeight = fontSize * 1.25;
  // Sans-serif glyphs average about 0.6 em; 90% of the width keeps a margin.
  const perLine = Math.max(4, Math.floor((width * 0.9) / (fontSize * 0.6)));
  const maxLines = Math.max(1, Math.floor((height * 0.7) / lineHeight));
  const lines = wrap(prompt, perLine, maxLines);
  const top = height / 2 - ((lines.length - 1) * lineHeight) / 2;
  const labelSize = Math.max(5, Math.round(fontSize * 0.6));

  const tspans = lines
    .map(
      (line, i) => `<tspan x="${num(width / 2)}" y="${num(top + i * lineHeight)}">${xmlText(line)}</tspan>`,
    )
    .join("");
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${PLACEHOLDER_TITLE}">`,
    `<title>${PLACEHOLDER_TITLE}</title>`,
    `<desc>${xmlText(`${PLACEHOLDER_NOTE}. Prompt: ${prompt}`)}</desc>`,
    `<metadata>placeholder: true</metadata>`,
    `<defs><linearGradient id="bg" x1="${num(0.5 - Math.cos(angle) / 2)}" y1="${num(0.5 - Math.sin(angle) / 2)}" x2="${num(0.5 + Math.cos(angle) / 2)}" y2="${num(0.5 + Math.sin(angle) / 2)}">` +
      `<stop offset="0" stop-color="${hexOf(from)}"/><stop offset="1" stop-color="${hexOf(to)}"/></linearGradient></defs>`,
    `<rect width="100%" height="100%" fill="url(#bg)"/>`,
    `<text font-family="sans-serif" font-size="${fontSize}" fill="#ffffff" text-anchor="middle" dominant-baseline="middle">${tspans}</text>`,
    `<text x="${num(width / 2)}" y="${num(height - labelSize)}" font-family="sans-serif" font-size="${labelSize}" fill="#ffffff" fill-opacity="0.85" text-anchor="middle">${PLACEHOLDER_TITLE}</text>`,
    `</svg>`,
    "",
  ].join("\n");
}

/** Text safe in XML content and attribute values: the five specials escaped, characters XML 1.0 forbids dropped. */
export function xmlText(text: string): string {
  return text
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Words into lines of at most `perLine` code points (a longer word is cut); past `maxLines` the rest is "…". */
export function wrap(text: string, perLine: number, maxLines: number): string[] {
  const pieces: string[] = [];
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    const points = Array.from(word);
    for (let i = 0; i < points.length; i += perLine) pieces.push(points.slice(i, i + perLine).join(""));
  }
  const lines: string[] = [];
  for (const piece of pieces) {
    const last = lines[lines.length - 1];
    if (last !== undefined && Array.from(last).length + 1 + Array.from(piece).length <= perLine)
      lines[lines.length - 1] = `${last} ${piece}`;
    else lines.push(piece);
  }
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  const end = Array.from(kept[maxLines - 1]!);
  kept[maxLines - 1] = `${end.slice(0, Math.max(0, perLine - 1)).join("")}…`;
  return kept;
}

/** A coordinate with at most one decimal: stable text for the same input, and short. */
function num(n: number): string {
  return String(Math.round(n * 10) / 10);
}
