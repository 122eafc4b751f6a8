import assert from "node:assert/strict";
import { jwtExpiry } from "../src/authn.ts";
import { credentialOf } from "../src/credentials.ts";
import { skipResponseHeader, traceparentOf, upstreamHeaders } from "../src/headers.ts";

describe("gateway credentials and headers", () => {
  it("reads X-API-Key first, then a bearer; a gaia_ bearer is an API key (OpenAI SDKs)", () => {
    assert.deepEqual(credentialOf({ "x-api-key": "gaia_abc_def", authorization: "Bearer jwt" }), {
      kind: "api_key",
      value: "gaia_abc_def",
    });
    assert.deepEqual(credentialOf({ authorization: "Bearer eyJ.x.y" }), { kind: "bearer", value: "eyJ.x.y" });
    assert.deepEqual(credentialOf({ authorization: "bearer gaia_abc_def" }), {
      kind: "api_key",
      value: "gaia_abc_def",
    });
    assert.equal(credentialOf({ authorization: "Basic dXNlcjpwYXNz" }), undefined);
    assert.equal(credentialOf({ authorization: "Bearer " }), undefined);
    assert.equal(credentialOf({}), undefined);
  });

  it("reads a bearer JWT's expiry (only to end a cache entry sooner), and nothing from anything else", () => {
    const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    assert.equal(
      jwtExpiry(`${part({ alg: "ES256" })}.${part({ exp: 1_900_000_000 })}.sig`),
      1_900_000_000_000,
    );
    assert.equal(jwtExpiry(`${part({ alg: "ES256" })}.${part({ sub: "x" })}.sig`), undefined);
    assert.equal(jwtExpiry("not-a-jwt"), undefined);
    assert.equal(jwtExpiry("a.%%%.c"), undefined);
  });

  const base = { requestId: "req-1", clientAddress: "10.1.2.3", proto: "http" };

  it("drops a client's internal headers, hop-by-hop headers and (outside auth) its credentials", () => {
    const out = upstreamHeaders(
      {
        host: "gateway.example",
        connection: "keep-alive, x-custom-hop",
        "x-custom-hop": "1",
        "transfer-encoding": "chunked",
        "x-gaia-identity": "forged",
        "x-gaia-internal-token": "forged",
        "x-api-key": "gaia_secret",
        authorization: "Bearer gaia_secret",
        cookie: "session=1",
        "content-type": "application/json",
        "x-request-id": "client-chosen",
      },
      { ...base, target: "chat", identityToken: "service.jwt" },
    );
    assert.deepEqual(Object.keys(out).sort(), [
      "content-type",
      "traceparent",
      "x-forwarded-for",
      "x-forwarded-host",
      "x-forwarded-proto",
      "x-gaia-identity",
      "x-request-id",
    ]);
    assert.equal(out["x-gaia-identity"], "service.jwt");
    assert.equal(out["x-request-id"], "req-1");
    assert.equal(out["x-forwarded-for"], "10.1.2.3");
    assert.equal(out["x-forwarded-host"], "gateway.example");
  });

  it("never passes a client's X-Gaia-Identity, even with no identity of the gateway's own", () => {
    const out = upstreamHeaders({ "x-gaia-identity": "forged" }, { ...base, target: "auth" });
    assert.equal(out["x-gaia-identity"], undefined);
  });

  it("lets auth see the credentials it checks and web its cookies", () => {
    const headers = { "x-api-key": "gaia_k", authorization: "Bearer t", cookie: "s=1" };
    const toAuth = upstreamHeaders(headers, { ...base, target: "auth" });
    assert.equal(toAuth["x-api-key"], "gaia_k");
    assert.equal(toAuth.authorization, "Bearer t");
    const toWeb = upstreamHeaders(headers, { ...base, target: "web" });
    assert.equal(toWeb.cookie, "s=1");
    assert.equal(toWeb.authorization, undefined);
  });

  it("appends the client's address to X-Forwarded-For", () => {
    const out = upstreamHeaders({ "x-forwarded-for": "203.0.113.7" }, { ...base, target: "chat" });
    assert.equal(out["x-forwarded-for"], "203.0.113.7, 10.1.2.3");
  });

  it("passes a well-formed traceparent on and starts a trace otherwise", () => {
    const given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    assert.equal(traceparentOf({ traceparent: given }), given);
    assert.match(traceparentOf({ traceparent: "garbage" }), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.match(traceparentOf({}), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const many = new Set(Array.from({ length: 1000 }, () => traceparentOf({})));
    assert.equal(many.size, 1000, "every new trace has its own id");
    const out = upstreamHeaders({ traceparent: given }, { ...base, target: "chat", traceparent: undefined });
    assert.equal(out.traceparent, given);
  });

  it("keeps a backend's hop-by-hop and internal headers off the client's answer", () => {
    for (const name of ["connection", "transfer-encoding", "keep-alive", "x-request-id", "x-gaia-identity"])
      assert.equal(skipResponseHeader(name), true, name);
    for (const name of ["content-type", "content-length", "cache-control", "set-cookie"])
      assert.equal(skipResponseHeader(name), false, name);
  });
});
