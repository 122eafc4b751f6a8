import assert from "node:assert/strict";
import { unstorable } from "@gaia/kit";
import * as contracts from "@gaia/kit/contracts/auth";
import {
  assertAnyTextIsAnswered,
  assertEveryTextFieldCovered,
  schemasOf,
  type TextCase,
} from "../../../test/support/text.ts";
import { issueKeyForEmail } from "../src/bootstrap.ts";
import * as schemas from "../src/routes/schemas.ts";
import {
  type AuthUnderTest,
  internalHeaders,
  type LoginBody,
  startAuthUnderTest,
  uniqueEmail,
} from "./harness.ts";

const NUL = "contains a NUL character (\\u0000), which cannot be stored";
const RUNS = 12;

/** Every request schema of auth, with a valid example to vary (ids and credentials filled in once auth runs). */
function cases(known: {
  email: string;
  login: LoginBody;
  key: string;
  keyId: string;
  target: string;
}): TextCase[] {
  const identity = {
    userId: known.login.user.id,
    email: known.email,
    role: "user",
    permissions: ["chat:create"],
    authType: "api_key",
    keyId: known.keyId,
    sessionId: "00000000-0000-4000-8000-000000000001",
  };
  return [
    {
      schema: "registerBody",
      method: "POST",
      path: "/api/v1/auth/register",
      body: () => ({ email: uniqueEmail("text"), password: "correct horse battery" }),
    },
    {
      schema: "loginBody",
      method: "POST",
      path: "/api/v1/auth/login",
      body: () => ({ email: known.email, password: "not the password" }),
    },
    {
      schema: "refreshBody",
      method: "POST",
      path: "/api/v1/auth/refresh",
      body: () => ({ refresh_token: known.login.refresh_token }),
    },
    {
      schema: "logoutBody",
      method: "POST",
      path: "/api/v1/auth/logout",
      body: () => ({ refresh_token: "not-a-token" }),
    },
    {
      schema: "createKeyBody",
      method: "POST",
      path: "/api/v1/auth/keys",
      as: "user",
      body: () => ({ name: "k", permissions: ["chat:create"], expires_at: "2099-01-01T00:00:00Z" }),
    },
    {
      schema: "updateKeyBody",
      method: "PATCH",
      path: `/api/v1/auth/keys/${known.keyId}`,
      as: "user",
      body: () => ({ name: "renamed", budget_usd: 5 }),
    },
    { schema: "uuid", method: "DELETE", path: "/api/v1/auth/keys/{text}", as: "user" },
    {
      schema: "usersQuery",
      method: "GET",
      path: "/api/v1/auth/users",
      as: "admin",
      query: { limit: "5", offset: "0", email: "someone@example.com" },
    },
    {
      schema: "updateUserBody",
      method: "PATCH",
      path: `/api/v1/auth/users/${known.target}`,
      as: "admin",
      body: () => ({ role: "user", disabled: false }),
    },
    {
      schema: "uuid",
      method: "PATCH",
      path: "/api/v1/auth/users/{text}",
      as: "admin",
      body: () => ({ role: "user" }),
    },
    {
      schema: "authenticateBody",
      method: "POST",
      path: "/internal/authenticate",
      as: "internal",
      body: () => ({ api_key: known.key }),
    },
    {
      schema: "authenticateBody",
      method: "POST",
      path: "/internal/authenticate",
      as: "internal",
      body: () => ({ bearer: known.login.access_token }),
    },
    {
      schema: "serviceTokenBody",
      method: "POST",
      path: "/internal/service-token",
      as: "internal",
      body: () => ({ identity }),
    },
  ];
}

describe("auth takes any text without a 5xx (PostgreSQL; property)", function () {
  this.timeout(120_000);
  let auth: AuthUnderTest;
  let all: TextCase[];
  let adminKey: string;
  let user: { email: string; login: LoginBody; key: string; keyId: string };

  before(async () => {
    auth = await startAuthUnderTest();
    const { email, login } = await auth.signUp();
    const key = await auth.call<{ key: string; id: string }>("POST", "/api/v1/auth/keys", {
      as: login.access_token,
      body: { name: "text tests" },
    });
    user = { email, login, key: key.body.key, keyId: key.body.id };
    adminKey = (await issueKeyForEmail(auth.runtime.db.prisma, uniqueEmail("admin"), "admin", "tests")).key;
    const target = (await auth.signUp()).login.user.id;
    all = cases({ ...user, target });
  });
  after(() => auth?.close());

  const send = ({ method, path, body, as }: { method: string; path: string; body?: unknown; as?: string }) =>
    auth.call<{ detail?: unknown; errors?: unknown }>(method, path, {
      body,
      as: as === "user" ? user.key : as === "admin" ? adminKey : undefined,
      headers: as === "internal" ? internalHeaders : {},
    });

  it("refuses a NUL in an API key's name with 422 naming the field, and stores no key", async () => {
    const before = await auth.runtime.db.prisma.apiKey.count();
    const reply = await send({
      method: "POST",
      path: "/api/v1/auth/keys",
      as: "user",
      body: { name: "k\u0000" },
    });
    assert.deepEqual([reply.status, reply.body.detail], [422, `name: ${NUL}`]);
    assert.equal(await auth.runtime.db.prisma.apiKey.count(), before);
  });

  it("has an example reaching every text field of every request schema", () => {
    assertEveryTextFieldCovered({ ...schemasOf(contracts), ...schemasOf(schemas) }, all);
  });

  it("answers arbitrary text in every text field, key and path parameter without a 5xx", async () => {
    for (const c of all) await assertAnyTextIsAnswered(c, send, unstorable, RUNS);
  });
});
