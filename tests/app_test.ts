import assert from "node:assert/strict";
import { App } from "../mod.ts";
import { waitFor } from "./helpers.ts";

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

Deno.test("A stream that subscribes after start to a topic that cannot be declared crashes the app instead of waiting forever", async () => {
  const broker = `memory://late-${crypto.randomUUID()}`;
  const setup = memApp("late-setup", { broker });
  await setup.startClient();
  await setup.transport.createTopic({ name: "late", partitions: 3 });
  await setup.stop();

  const app = memApp("late", { broker });
  const trigger = app.channel();
  app.agent(trigger, async (s) => {
    for await (const _ of s) {
      // Described only now, after start: declared when the stream subscribes.
      const late = app.topic("late", { internal: true, partitions: 2 });
      for await (const v of late.stream()) void v;
    }
  }, { name: "lazy" });
  await app.start();
  await trigger.send({ value: 1 });
  const error = await app.crashed;
  assert.match(error.message, /Subscribing to topic "late" failed/);
  await app.stop();
});

Deno.test("streamRecoveryDelay: partitions are recovered and delivered only after the delay", async () => {
  const app = memApp("recovery-delay", {
    topicPartitions: 1,
    streamRecoveryDelay: 0.6,
  });
  const seen: number[] = [];
  app.agent("numbers", async function reader(stream) {
    for await (const _ of stream) seen.push(performance.now());
  });
  let assignedAt = 0;
  app.onPartitionsAssigned.connect(() => {
    assignedAt = performance.now();
    return Promise.resolve();
  });
  const t0 = performance.now();
  await app.start();
  try {
    await app.send("numbers", { value: 1 });
    await waitFor(() => seen.length === 1, 10_000);
    assert.ok(assignedAt - t0 >= 600, `assigned after ${assignedAt - t0} ms`);
    assert.ok(seen[0]! >= assignedAt);
  } finally {
    await app.stop();
  }
});
