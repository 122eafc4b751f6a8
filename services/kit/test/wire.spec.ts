import assert from "node:assert/strict";
import { rawRequest } from "../../../test/support/wire.ts";
import { createApp } from "../src/http/app.ts";
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
    // Without a JSON content type the app answers before reading the body; the parser fails on it afterwards.
    const answer = await rawRequest(
      server.url,
      `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;${"x".repeat(20_000)}\r\n{}\r\n`,
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body), { body: null });
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
