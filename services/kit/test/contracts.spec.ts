import assert from "node:assert/strict";
import { registerBody } from "../src/contracts/auth.ts";
import { completionRequest } from "../src/contracts/chat.ts";

describe("public request contracts", () => {
  const user = (content: unknown) => ({ messages: [{ role: "user", content }] });

  it("refuses a text part without its text, and names an unsupported part's type", () => {
    assert.equal(completionRequest.safeParse(user([{ type: "text", text: "hi" }])).success, true);
    assert.equal(completionRequest.safeParse(user([{ type: "text" }])).success, false);
    const image = completionRequest.safeParse(user([{ type: "image_url", image_url: {} }]));
    assert.match(image.error?.issues[0]?.message ?? "", /"image_url" are not supported/);
  });

  it("checks an email with one rule, the one the document publishes", () => {
    assert.equal(registerBody.safeParse({ email: "a@b.example", password: "long enough" }).success, true);
    const bad = registerBody.safeParse({ email: "not an address", password: "long enough" });
    assert.equal(bad.error?.issues[0]?.message, "Invalid email address");
  });
});
