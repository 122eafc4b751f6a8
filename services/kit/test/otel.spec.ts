import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe("tracing", function () {
  this.timeout(60_000);
  let collector: Server;
  const received: { path: string; body: string }[] = [];

  before(async () => {
    // An OTLP/HTTP collector that keeps what it is sent.
    collector = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  });

  after(() => new Promise((resolve) => collector.close(resolve)));

  it("exports a service's spans over OTLP, continuing the caller's W3C trace", async () => {
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("fixtures/traced-app.ts", import.meta.url))],
      {
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, TRACEPARENT },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, stderr);
    const traces = received.filter((r) => r.path === "/v1/traces");
    assert.ok(traces.length > 0, "spans were exported to /v1/traces");
    const body = traces.map((t) => t.body).join("\n");
    assert.ok(body.includes(TRACE_ID), "the server span belongs to the caller's trace");
    assert.match(body, /gaia-otel-test/, "spans name the service");
    assert.match(body, /\/hello/, "the request's route is recorded");
  });
});
