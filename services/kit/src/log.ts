import { type Logger, pino } from "pino";

export type { Logger };

/**
 * Paths redacted from every log line. Secrets travel in these fields; a log line is not a safe place for them.
 */
export const REDACTED_PATHS = [
  "password",
  "*.password",
  "token",
  "*.token",
  "key",
  "*.key",
  "secret",
  "*.secret",
  "refresh_token",
  "*.refresh_token",
  "access_token",
  "*.access_token",
  "authorization",
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  'req.headers["x-gaia-identity"]',
  "req.headers.cookie",
  "headers.authorization",
  'headers["x-api-key"]',
];

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino(
    {
      name,
      level,
      // Services add their own `service` binding; keeping it out of the base avoids a duplicate key.
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    // Asynchronous writes: a synchronous write per request log line costs a proxy tens of microseconds.
    // Shutdown flushes (see onShutdownSignal).
    pino.destination({ dest: 1, sync: false }),
  );
}
