import type { NodeSDK } from "@opentelemetry/sdk-node";

/**
 * Tracing with W3C trace context. Only when OTEL_EXPORTER_OTLP_ENDPOINT is set, and it must run before
 * express or http are imported (the CLI calls it first), or their spans are never recorded.
 */
export async function startTelemetry(
  serviceName: string,
  endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
): Promise<NodeSDK | undefined> {
  if (!endpoint) return undefined;
  const [
    { NodeSDK },
    { OTLPTraceExporter },
    { HttpInstrumentation },
    { ExpressInstrumentation },
    { resourceFromAttributes },
  ] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/instrumentation-http"),
    import("@opentelemetry/instrumentation-express"),
    import("@opentelemetry/resources"),
  ]);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ "service.name": serviceName, "service.namespace": "gaia" }),
    traceExporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, "")}/v1/traces` }),
    instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
  });
  sdk.start();
  return sdk;
}
