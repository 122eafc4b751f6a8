import assert from "node:assert/strict";
import { corsHeaders, corsPolicy, EXPOSED_HEADERS } from "../src/cors.ts";

describe("gateway CORS policy", () => {
  it("admits no origin by default", () => {
    assert.equal(corsHeaders(corsPolicy([]), "https://game.example"), undefined);
  });

  it("admits the configured origins, with credentials, and names the headers a page may read", () => {
    const policy = corsPolicy(["https://game.example/", " https://tools.example "]);
    assert.deepEqual(corsHeaders(policy, "https://game.example"), {
      "Access-Control-Allow-Origin": "https://game.example",
      "Access-Control-Allow-Credentials": "true",
      Vary: "Origin",
      "Access-Control-Expose-Headers": EXPOSED_HEADERS,
    });
    assert.ok(corsHeaders(policy, "https://tools.example"));
    assert.equal(corsHeaders(policy, "https://evil.example"), undefined);
    assert.match(EXPOSED_HEADERS, /X-Request-Id/);
    assert.match(EXPOSED_HEADERS, /RateLimit-Remaining/);
  });

  it("answers a preflight with methods, the requested headers and a max age", () => {
    const headers = corsHeaders(corsPolicy(["https://game.example"]), "https://game.example", {
      requestHeaders: "x-api-key, content-type",
    });
    assert.equal(headers?.["Access-Control-Allow-Headers"], "x-api-key, content-type");
    assert.match(headers?.["Access-Control-Allow-Methods"] ?? "", /POST/);
    assert.equal(headers?.["Access-Control-Max-Age"], "600");
  });

  it("with *, admits any origin but never with credentials", () => {
    const headers = corsHeaders(corsPolicy(["*"]), "http://localhost:5173");
    assert.equal(headers?.["Access-Control-Allow-Origin"], "*");
    assert.equal(headers?.["Access-Control-Allow-Credentials"], undefined);
  });
});
