import { strict as assert } from "node:assert";
import { ECHO_LABEL, EchoProvider } from "../src/providers/echo.ts";
import type { StreamEvent } from "../src/types.ts";

describe("offline echo model (unit)", () => {
  const request = {
    model: "echo",
    messages: [
      { role: "system" as const, content: "You are Gaia." },
      { role: "user" as const, content: "the dragon sleeps" },
    ],
  };

  it("says it is not an AI and repeats the message, streamed word by word", async () => {
    const events: StreamEvent[] = [];
    for await (const event of new EchoProvider(0).stream(request, new AbortController().signal))
      events.push(event);
    const texts = events.flatMap((e) => (e.type === "text" ? [e.text] : []));
    assert.equal(texts.join(""), `${ECHO_LABEL} You said: the dragon sleeps`);
    assert.ok(texts.length > 10, "one event per word");
    assert.ok(texts.every((t) => t.trim().split(" ").length === 1));
    assert.deepEqual(events.at(-1), { type: "finish", reason: "stop" });
    assert.ok(events.some((e) => e.type === "usage" && e.usage.completionTokens > 0));
  });

  it("answers whole when not streaming, and stops when the client leaves", async () => {
    const echo = new EchoProvider(0);
    const whole = await echo.complete(request);
    assert.ok(whole.text.startsWith(ECHO_LABEL));
    const controller = new AbortController();
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const event of new EchoProvider(1).stream(request, controller.signal)) {
        if (event.type === "text") seen.push(event.text);
        if (seen.length === 2) controller.abort();
      }
    }, /cancelled/);
    assert.equal(seen.length, 2);
  });
});
