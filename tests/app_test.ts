import assert from "node:assert/strict";
import { App } from "../mod.ts";

function memApp(id: string, extra: Record<string, unknown> = {}): App {
  return new App(id, { broker: "memory://", store: "memory://", ...extra });
}

Deno.test("App.agent() on an anonymous topic receives what is sent (seed agent example)", async () => {
  const app = memApp("stream-example");
  const seen: unknown[] = [];
  const myagent = app.agent(undefined, async function* myagent(stream) {
    for await (const value of stream) {
      seen.push(value);
      yield value;
    }
  });
  await app.start();
  await myagent.send({ value: "hello" });
  const reply = await myagent.ask({ value: "world" });
  assert.equal(reply, "world");
  assert.deepEqual(seen, ["hello", "world"]);
  assert.equal(myagent.channel.label, "stream-example-myagent");
  await app.stop();
});

Deno.test("App.start() with processingGuarantee exactly_once on a broker without transactions is a ConfigError naming both", async () => {
  const app = new App("eos-on-memory", {
    broker: "memory://",
    processingGuarantee: "exactly_once",
  });
  const t = app.topic("eos-in");
  app.agent(t, async (stream) => {
    for await (const _ of stream) { /* nothing */ }
  });
  await assert.rejects(
    () => app.start(),
    (e: Error) =>
      e.name === "ConfigError" && e.message.includes("exactly_once") &&
      e.message.includes("memory://") && e.message.includes("at_least_once"),
  );
});
