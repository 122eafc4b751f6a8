import { appendFile, readFile, writeFile } from "node:fs/promises";

/**
 * Put a benchmark's report at the end of its section of bench/RESULTS.md (`## <heading>`), before the next
 * section; the section (with `intro` under it) and the file are made when missing. Other sections stay as they are.
 */
export async function appendToSection(
  path: string,
  heading: string,
  report: string,
  intro = "",
): Promise<void> {
  const title = `## ${heading}`;
  const pattern = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m");
  const existing = await readFile(path, "utf8").catch(() => null);
  const section = `\n${title}\n${intro ? `\n${intro.trim()}\n` : ""}`;
  if (existing === null) await appendFile(path, `# Benchmark results\n${section}`);
  else if (!pattern.test(existing))
    await appendFile(path, `${existing.endsWith("\n") ? "" : "\n"}${section}`);
  else {
    const start = existing.search(pattern);
    const next = existing.slice(start + 1).search(/^## /m);
    if (next !== -1) {
      const at = start + 1 + next;
      await writeFile(path, `${existing.slice(0, at)}${report.trimStart()}\n${existing.slice(at)}`);
      return;
    }
  }
  await appendFile(path, report);
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Count, percentiles (nearest rank) and maximum of a set of timings. */
export function summary(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}
