import { nameOf } from "./paths.ts";

/** A document's title: its front matter's `title:`, else its first heading, else its file name without extension. */
export function titleOf(path: string, content: string): string {
  const front = /^---\r?\n([\s\S]*?)\r?\n---/.exec(content);
  const fromFront = front?.[1]?.match(/^title:\s*["']?(.+?)["']?\s*$/m)?.[1];
  if (fromFront) return fromFront.slice(0, 200);
  const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/m.exec(content)?.[1];
  if (heading) return heading.slice(0, 200);
  return nameOf(path).replace(/\.[^.]+$/, "");
}
