import assert from "node:assert/strict";
import { storableText, unstorable, unstorableText } from "../src/text.ts";

const NUL = "contains a NUL character (\\u0000), which cannot be stored";
const surrogate = (unit: string) =>
  `contains an unpaired UTF-16 surrogate (\\u${unit}), which is not valid Unicode text`;

describe("text PostgreSQL can store", () => {
  it("accepts any well-formed text without NUL, astral characters and noncharacters included", () => {
    for (const text of [
      "",
      "plain",
      "\u00e9\u4e2d",
      "\ud83d\ude00",
      "\u{10ffff}",
      "\ufffe\uffff",
      "\u0001\u001f",
    ]) {
      assert.equal(unstorable(text), undefined, JSON.stringify(text));
    }
  });

  it("names NUL first, then the first unpaired surrogate, high or low", () => {
    assert.equal(unstorable("a\u0000b"), NUL);
    assert.equal(unstorable("\ud800\u0000"), NUL);
    assert.equal(unstorable("end \ud83d"), surrogate("d83d"));
    assert.equal(unstorable("\ude00 start"), surrogate("de00"));
    assert.equal(unstorable("\ud83d\ude00\udc00"), surrogate("dc00"), "after a whole pair");
    assert.equal(
      unstorable("\ude00\ud83d"),
      surrogate("de00"),
      "a pair in the wrong order is two lone halves",
    );
  });

  it("gives the same answer however often it is asked (no state kept between calls)", () => {
    for (let i = 0; i < 3; i++) assert.equal(unstorable("x\ud800"), surrogate("d800"));
  });

  it("names every field at fault by its path, keys included, in the order written", () => {
    assert.deepEqual(
      unstorableText({
        ok: "fine",
        messages: [{ content: "fine" }, { content: "a\u0000" }],
        tools: [{ parameters: { "x\udc00": 1, y: ["\ud800"] } }],
      }),
      [
        `messages.1.content: ${NUL}`,
        `tools.0.parameters: key "x\\udc00" ${surrogate("dc00")}`,
        `tools.0.parameters.y.0: ${surrogate("d800")}`,
      ],
    );
    assert.deepEqual(unstorableText({ "\u0000": "" }), [`key "\\u0000" ${NUL}`]);
    assert.deepEqual(unstorableText("\u0000"), [NUL]);
  });

  it("passes numbers, booleans, null and absent values, and stops after ten problems", () => {
    assert.deepEqual(unstorableText({ a: 1, b: true, c: null, d: [1.5, false] }), []);
    assert.deepEqual(unstorableText(undefined), []);
    const many = unstorableText(Array.from({ length: 1000 }, () => "\u0000"));
    assert.equal(many.length, 10);
    assert.equal(many[9], `9: ${NUL}`);
  });

  it("walks a value nested far deeper than the call stack, naming the field by its last steps", () => {
    let deep: unknown = { leaf: "\u0000" };
    for (let i = 0; i < 200_000; i++) deep = [deep];
    // Named by its last 32 steps: enough to find it, short enough to read.
    assert.deepEqual(unstorableText(deep), [`…${".0".repeat(31)}.leaf: ${NUL}`]);
  });

  it("makes a model's text storable: NUL and unpaired surrogates become U+FFFD, the rest is kept", () => {
    assert.equal(storableText("a\u0000b\ud800c\udc00"), "a\ufffdb\ufffdc\ufffd");
    assert.equal(storableText("\ud83d\ude00 \u{10ffff}"), "\ud83d\ude00 \u{10ffff}");
    assert.equal(unstorable(storableText("\u0000\ud83d\u0000\ude00")), undefined);
  });
});
