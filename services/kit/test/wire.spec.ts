import assert from "node:assert/strict";
import { rawRequest } from "../../../test/support/wire.ts";
import { createApp } from "../src/http/app.ts";
import { unsupportedBody } from "../src/http/body-type.ts";
import { type Listening, listen, parserErrorAnswer } from "../src/http/serve.ts";
import { createLogger } from "../src/log.ts";

const log = createLogger("test", "silent");

describe("requests Node's HTTP parser refuses", () => {
  let server: Listening;

  before(async () => {
    const { app } = createApp({
      name: "wire-test",
      log,
      routes(app) {
        app.post("/echo", (req, res) => res.json({ body: req.body ?? null }));
      },
    });
    server = await listen(app, 0, log, "127.0.0.1");
  });

  after(() => server.close(1000));

  const refused: [what: string, request: string, status: number, detail: RegExp][] = [
    [
      "headers over Node's limit",
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
      431,
      /headers too large/i,
    ],
    ["an unknown method", "BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, /method/i],
    [
      "both Content-Length and Transfer-Encoding",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
      /Content-Length/,
    ],
    [
      "two different Content-Lengths",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
      400,
      /Content-Length/,
    ],
    [
      "chunk extensions over Node's limit",
      // Refused half-way through the body, while the app waits for it: the app has not answered yet.
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
        `2;${"x".repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
      413,
      /too large/i,
    ],
    [
      "a header line without a name",
      "GET /health HTTP/1.1\r\nHost: x\r\n: nameless\r\n\r\n",
      400,
      /malformed/i,
    ],
    ["bytes that are not HTTP at all", "\u0000\u0001\u0002\r\n\r\n", 400, /method/i],
    ["a space inside the path", "GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n", 400, /malformed/i],
  ];

  for (const [what, request, status, detail] of refused) {
    it(`answers ${what} with ${status} and the platform's JSON`, async () => {
      const answer = await rawRequest(server.url, request);
      assert.equal(answer.status, status);
      assert.match(answer.headers["content-type"] ?? "", /^application\/json/);
      assert.equal(Number(answer.headers["content-length"]), Buffer.byteLength(answer.body));
      assert.equal(answer.headers.connection, "close");
      assert.match(answer.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/);
      const body = JSON.parse(answer.body) as { detail: string };
      assert.deepEqual(Object.keys(body), ["detail"]);
      assert.match(body.detail, detail);
      assert.equal(answer.closed, true, "the connection is closed after the answer");
    });
  }

  it("leaves an answer already under way alone", async () => {
    // Without a JSON content type the app refuses the body before reading it; the parser fails on it afterwards.
    const answer = await rawRequest(
      server.url,
      `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;${"x".repeat(20_000)}\r\n{}\r\n`,
    );
    assert.equal(answer.status, 415);
    assert.match((JSON.parse(answer.body) as { detail: string }).detail, /application\/json/);
  });

  it("keeps serving well-formed requests", async () => {
    const answer = await rawRequest(
      server.url,
      "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(answer.status, 200);
  });

  it("writes nothing for a connection the client reset", () => {
    assert.equal(parserErrorAnswer(Object.assign(new Error("reset"), { code: "ECONNRESET" })), undefined);
  });

  it("answers a request whose headers never finished with 408", () => {
    const answer = parserErrorAnswer(Object.assign(new Error("slow"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }));
    assert.match(answer ?? "", /^HTTP\/1\.1 408 Request Timeout\r\n/);
  });
});

describe("request bodies that are not JSON", () => {
  let server: Listening;

  before(async () => {
    const { app } = createApp({
      name: "body-test",
      log,
      routes(app) {
        app.post("/echo", (req, res) => res.json({ body: req.body ?? null }));
      },
    });
    server = await listen(app, 0, log, "127.0.0.1");
  });

  after(() => server.close(1000));

  const post = (headers: Record<string, string>, body?: string | Buffer) =>
    fetch(`${server.url}/echo`, { method: "POST", headers, body });

  const refused: [what: string, headers: Record<string, string>, body: string | Buffer][] = [
    ["text/plain", { "content-type": "text/plain" }, '{"a":1}'],
    ["fetch's default for a string (text/plain;charset=UTF-8)", {}, '{"a":1}'],
    [
      "UTF-16 JSON",
      { "content-type": "application/json; charset=utf-16le" },
      Buffer.from('{"a":1}', "utf16le"),
    ],
    ["a form", { "content-type": "application/x-www-form-urlencoded" }, "a=1"],
    ["JSON under another media type", { "content-type": "application/vnd.api+json" }, '{"a":1}'],
  ];
  for (const [what, headers, body] of refused) {
    it(`refuses ${what} with 415 naming application/json`, async () => {
      const res = await post(headers, body);
      assert.equal(res.status, 415);
      const answer = (await res.json()) as { detail: string };
      assert.match(answer.detail, /application\/json/);
      assert.equal(res.headers.get("accept"), "application/json");
    });
  }

  it("reads JSON, with or without charset=utf-8", async () => {
    for (const type of [
      "application/json",
      "application/json; charset=utf-8",
      'Application/JSON;charset="UTF-8"',
    ]) {
      const res = await post({ "content-type": type }, '{"a":1}');
      assert.deepEqual(await res.json(), { body: { a: 1 } }, type);
    }
  });

  it("needs no content type for a request without a body", async () => {
    const res = await post({});
    assert.equal(res.status, 200);
    const typed = await post({ "content-type": "text/plain" }, "");
    assert.equal(typed.status, 200, "an empty body of any type is no body");
  });

  it("treats a chunked body as a body", () => {
    assert.equal(unsupportedBody({ "transfer-encoding": "chunked" })?.status, 415);
    assert.equal(
      unsupportedBody({ "transfer-encoding": "chunked", "content-type": "application/json" }),
      undefined,
    );
    assert.equal(unsupportedBody({ "content-length": "0" }), undefined);
  });
});
