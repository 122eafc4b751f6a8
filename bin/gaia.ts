import { startTelemetry } from "@gaia/kit/otel";

// Tracing must start before express and http are loaded, so everything else is imported after it.
const [command, name] = process.argv.slice(2);
await startTelemetry(command === "serve" && name ? `gaia-${name}` : "gaia");
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
