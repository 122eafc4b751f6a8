import assert from "node:assert/strict";
import { documentedPath, openApiDocument } from "../src/openapi.ts";
import { ROUTES } from "../src/route-table.ts";

type Operation = {
  operationId: string;
  security: unknown[];
  responses: Record<string, unknown>;
  requestBody?: { content: Record<string, { schema: { $ref: string } }> };
};

describe("gateway OpenAPI document", () => {
  const doc = openApiDocument(ROUTES, "9.9.9") as {
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  };

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
});
