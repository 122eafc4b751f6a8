import assert from "node:assert/strict";
import { createKeyBody } from "@gaia/kit/contracts/auth";
import { documentedPath, openApiDocument, statusesOf } from "../src/openapi.ts";
import { ROUTES } from "../src/route-table.ts";
import { compileRoutes } from "../src/router.ts";

type Operation = {
  operationId: string;
  security: unknown[];
  responses: Record<string, unknown>;
  description?: string;
  requestBody?: { required: boolean; content: Record<string, { schema: { $ref: string } }> };
};
type Schema = { properties: Record<string, Record<string, unknown>>; required?: string[] };

describe("gateway OpenAPI document", () => {
  const doc = openApiDocument(ROUTES, "9.9.9") as {
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
  };
  const op = (method: string, path: string) => doc.paths[path]![method]!;
  const statuses = (method: string, path: string) => Object.keys(op(method, path).responses).map(Number);

  it("is OpenAPI 3.1 with the service's version", () => {
    assert.equal(doc.openapi, "3.1.0");
    assert.equal(doc.info.version, "9.9.9");
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ["apiKey", "bearer"]);
  });

  it("describes every route of the table, method by method", () => {
    for (const route of ROUTES)
      for (const method of route.methods)
        assert.ok(doc.paths[documentedPath(route.path)]?.[method.toLowerCase()], `${method} ${route.path}`);
  });

  it("gives every operation a unique id", () => {
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    assert.equal(new Set(ids).size, ids.length);
  });

  it("marks public operations as such and protected ones with both credentials", () => {
    assert.deepEqual(doc.paths["/api/v1/auth/login"]?.post?.security, []);
    assert.deepEqual(doc.paths["/api/v1/chat"]?.post?.security, [{ apiKey: [] }, { bearer: [] }]);
    assert.deepEqual(doc.paths["/api/v1/auth/logout"]?.post?.security, [{ apiKey: [] }, { bearer: [] }, {}]);
  });

  it("documents request bodies, streaming answers, limits and errors", () => {
    const chat = doc.paths["/api/v1/chat"]!.post!;
    assert.equal(
      chat.requestBody?.content["application/json"]?.schema.$ref,
      "#/components/schemas/ChatRequest",
    );
    assert.ok((chat.responses["200"] as { content: Record<string, unknown> }).content["text/event-stream"]);
    for (const status of ["401", "413", "429", "503"]) assert.ok(chat.responses[status], status);
    const components = doc.components as unknown as Record<string, Record<string, unknown>>;
    const refs = JSON.stringify(doc).match(/#\/components\/\w+\/\w+/g) ?? [];
    assert.ok(refs.length > 0);
    for (const ref of new Set(refs)) {
      const [, , kind, name] = ref.split("/");
      assert.ok(components[kind!]?.[name!], ref);
    }
  });

  it("shows {name+} prefixes as ordinary path parameters", () => {
    assert.ok(doc.paths["/api/v1/conversations/{path}"]);
    assert.equal(
      Object.keys(doc.paths).some((p) => p.includes("+")),
      false,
    );
  });

  it("names every status an operation answers, success and errors", () => {
    assert.deepEqual(
      statuses("post", "/api/v1/auth/register"),
      [201, 400, 403, 409, 413, 415, 422, 429, 502, 503, 504],
    );
    assert.deepEqual(
      statuses("delete", "/api/v1/auth/keys/{id}").filter((s) => s < 300),
      [204],
    );
    assert.ok(statuses("post", "/api/v1/auth/login").includes(401), "a wrong password, without a credential");
    for (const status of [400, 404, 413, 415, 422, 429, 502, 503, 504])
      assert.ok(statuses("post", "/api/v1/chat").includes(status), String(status));
    assert.ok(statuses("post", "/api/v1/conversations").includes(201));
    assert.ok(statuses("get", "/api/v1/conversations").includes(200));
    assert.ok(statuses("patch", "/api/v1/conversations/{path}").includes(405), "a named path below a prefix");
    assert.ok(!statuses("get", "/health").includes(401));
  });

  it("answers a 204 without content and every error with {detail}", () => {
    assert.deepEqual(op("post", "/api/v1/auth/logout").responses["204"], { description: "Done; no content" });
    const responses = (doc.components as unknown as { responses: Record<string, { content: object }> })
      .responses;
    for (const [name, response] of Object.entries(responses))
      assert.deepEqual(
        response.content,
        { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        name,
      );
  });

  it("describes request bodies with the services' own validators", () => {
    const key = doc.components.schemas.ApiKeyRequest!;
    assert.equal(key.properties.name?.minLength, 1);
    assert.equal(key.properties.permissions?.minItems, 1);
    assert.deepEqual(key.required, ["name"]);
    assert.equal(createKeyBody.safeParse({ name: " " }).success, false, "the pattern says why: spaces only");
    assert.equal(key.properties.name?.pattern, "\\S");
    assert.equal(doc.components.schemas.RegisterRequest!.properties.password?.minLength, 8);
    assert.equal(doc.components.schemas.ChatCompletionRequest!.properties.messages?.minItems, 1);
    // A body the validator takes as {} may be left out; the others are required.
    assert.equal(op("post", "/api/v1/auth/logout").requestBody?.required, false);
    assert.equal(op("post", "/api/v1/auth/login").requestBody?.required, true);
  });

  it("describes the events of a stream", () => {
    const chat = op("post", "/api/v0.3/chat").responses["200"] as { content: Record<string, unknown> };
    assert.deepEqual(chat.content["text/event-stream"], {
      schema: { $ref: "#/components/schemas/StreamEvent" },
    });
    const event = JSON.stringify(doc.components.schemas.StreamEvent);
    for (const part of ["[DONE]", "chat.completion.chunk", "world_update", "contentSchema"])
      assert.ok(event.includes(part), part);
  });

  it("says that the services this release lacks answer 503", () => {
    for (const path of ["/login"]) {
      const method = path === "/login" ? "get" : "post";
      assert.match(op(method, path).description ?? "", /does not include yet.*503/, path);
      assert.ok(statuses(method, path).includes(503), path);
    }
  });

  it("marks the first platform's paths this release does not offer: 501 with the reason", () => {
    for (const [method, path] of [
      ["post", "/api/v1/auth/confirm"],
      ["post", "/api/v0.2/usage/log"],
      ["get", "/api/v0.2/performance/stages"],
    ] as const) {
      assert.ok(statuses(method, path).includes(501), path);
      assert.match(
        op(method, path).description ?? "",
        /not (part of|recorded by) this release|cannot log/,
        path,
      );
    }
  });

  it("documents the KB's request bodies as kb parses them, and no longer calls it absent", () => {
    const search = op("post", "/api/v0.2/kb/search");
    assert.doesNotMatch(search.description ?? "", /does not include yet/);
    const schema = JSON.stringify(search.requestBody);
    assert.match(schema, /KbSearch/);
    assert.ok(statuses("post", "/api/v0.2/kb/write").includes(409));
    assert.ok(statuses("post", "/api/v0.2/kb/write").includes(201));
  });

  it("lists for each path exactly the methods the gateway takes there (the Allow of its 405)", () => {
    const router = compileRoutes(ROUTES);
    for (const [path, item] of Object.entries(doc.paths)) {
      const concrete = path.replace(/\{\w+\}/g, "zz-fuzz");
      const match = router.match("OPTIONS", concrete, true);
      assert.equal(match.kind, "method-not-allowed", path);
      const allowed = (match as { allow: string[] }).allow.filter((m) => m !== "HEAD");
      assert.deepEqual(
        allowed,
        Object.keys(item)
          .map((m) => m.toUpperCase())
          .sort(),
        path,
      );
    }
  });

  it("derives statuses from a row's terms", () => {
    const calculator = ROUTES.find((r) => r.path === "/calculator/add")!;
    assert.deepEqual(statusesOf(calculator, "POST"), [200, 400, 413, 415, 422, 429]);
  });
});
