import assert from "node:assert/strict";
import { type StoppableServer, startNats, startRedis } from "../../../test/support/servers.ts";
import { rawRequest } from "../../../test/support/wire.ts";
import { type Auth, type Gateway, startRealAuth, startTestGateway } from "./platform.ts";

const post = (url: string, headers: Record<string, string>, body?: string | Buffer) =>
  fetch(url, { method: "POST", headers, body });

/** Requests refused below the routes, at the gateway and at a backend behind it: still the platform's JSON. */
describe("gateway and auth: errors below the routes", function () {
  this.timeout(60_000);
  let redis: StoppableServer;
  let nats: StoppableServer;
  let auth: Auth;
  let gateway: Gateway;

  before(async () => {
    [redis, nats] = await Promise.all([startRedis(), startNats()]);
    auth = await startRealAuth(redis, nats.url);
    gateway = await startTestGateway({ redisUrl: redis.url, natsUrl: nats.url, urls: { auth: auth.url } });
  });

  after(async () => {
    await gateway?.close();
    await auth?.close();
  });

  const servers = () => [
    ["the gateway", gateway.url],
    ["auth", auth.url],
  ];

  const refused: [what: string, request: string, status: number][] = [
    ["oversized headers", `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
    ["an unknown method", "BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    [
      "conflicting Content-Length and Transfer-Encoding",
      "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
  ];

  for (const [what, request, status] of refused) {
    it(`answers ${what} with ${status} and {"detail"}, on the gateway and on auth`, async () => {
      for (const [name, url] of servers()) {
        const answer = await rawRequest(url!, request);
        assert.equal(answer.status, status, name);
        assert.match(answer.headers["content-type"] ?? "", /^application\/json/, name);
        assert.equal(answer.headers.connection, "close", name);
        assert.equal(typeof (JSON.parse(answer.body) as { detail: unknown }).detail, "string", name);
      }
    });
  }

  describe("bodies that are not JSON", () => {
    it("passes them through to the backend, whose 415 reaches the client", async () => {
      const login = JSON.stringify({ email: "a@b.example", password: "irrelevant-here" });
      const plain = await post(`${gateway.url}/api/v1/auth/login`, { "content-type": "text/plain" }, login);
      assert.equal(plain.status, 415);
      assert.match(((await plain.json()) as { detail: string }).detail, /application\/json/);
      const utf16 = await post(
        `${gateway.url}/api/v1/auth/register`,
        { "content-type": "application/json; charset=utf-16le" },
        Buffer.from(login, "utf16le"),
      );
      assert.equal(utf16.status, 415);
    });

    it("refuses them on the gateway's own JSON endpoint too", async () => {
      const plain = await post(`${gateway.url}/calculator/add`, {}, '{"a":1,"b":2}');
      assert.equal(plain.status, 415);
      assert.match(((await plain.json()) as { detail: string }).detail, /application\/json/);
      const json = await post(
        `${gateway.url}/calculator/add`,
        { "content-type": "application/json" },
        '{"a":1,"b":2}',
      );
      assert.deepEqual(await json.json(), { result: 3 });
    });

    it("reads a request without a body as an empty object", async () => {
      const empty = await post(`${gateway.url}/calculator/add`, {});
      assert.deepEqual(await empty.json(), { result: 0 });
    });
  });
});
