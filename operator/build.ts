/**
 * The operator as it ships: `operator/src/main.ts` and everything it imports bundled by esbuild into one ES module
 * that plain Node runs. Under plain Node it starts in about half the memory of tsx compiling the sources in the
 * process (bench/RESULTS.md, Operator), and the image needs no node_modules.
 *
 *   node operator/build.ts [outfile]        (make operator-build; default operator/dist/gaia-operator.mjs)
 *
 * Written for Node's own type stripping, so that building needs esbuild alone.
 */

import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const OPERATOR_DIR = path.dirname(fileURLToPath(import.meta.url));

export const OPERATOR_BUNDLE = path.join(OPERATOR_DIR, "dist", "gaia-operator.mjs");

/** Bundles the operator into `outfile` and returns its size in bytes. */
export async function buildOperator(outfile: string = OPERATOR_BUNDLE): Promise<number> {
  const result = await build({
    entryPoints: [path.join(OPERATOR_DIR, "src", "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    minifySyntax: true,
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
    // Some bundled CommonJS dependencies call require() for Node's built-in modules, which an ES module lacks.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  return result.metafile.outputs[path.relative(process.cwd(), outfile)]?.bytes ?? 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outfile = path.resolve(process.argv[2] ?? OPERATOR_BUNDLE);
  const shown = path.relative(process.cwd(), outfile).startsWith("..")
    ? outfile
    : path.relative(process.cwd(), outfile);
  const started = performance.now();
  const bytes = await buildOperator(outfile);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `[operator-build] wrote ${shown} (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${seconds}s; run it with: node ${shown}`,
  );
}
