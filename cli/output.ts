/** What the CLI tells a person: steps with their number and time, and a last line saying what to do next. */
export function steps(total: number) {
  let n = 0;
  const started = Date.now();
  return {
    async run<T>(label: string, work: () => Promise<T>): Promise<T> {
      n++;
      const t = Date.now();
      process.stderr.write(`[${n}/${total}] ${label} ...`);
      try {
        const result = await work();
        process.stderr.write(` done (${((Date.now() - t) / 1000).toFixed(1)}s)\n`);
        return result;
      } catch (error) {
        process.stderr.write(" failed\n");
        throw error;
      }
    },
    elapsed: () => ((Date.now() - started) / 1000).toFixed(1),
  };
}

export const say = (line = "") => process.stdout.write(`${line}\n`);
export const warn = (line: string) => process.stderr.write(`${line}\n`);
