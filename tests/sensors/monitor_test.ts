import assert from "node:assert/strict";
import { App, type Sensor, type TP } from "../../mod.ts";
import { waitFor } from "../../testing.ts";

function memApp(id: string): App {
  return new App(id, {
    broker: "memory://",
    store: "memory://",
    topicPartitions: 1,
  });
}

/** A sensor that writes down the hooks it receives. */
function recorder(): { sensor: Sensor; calls: string[] } {
  const calls: string[] = [];
  const at = (tp: TP, offset: number) =>
    `${tp.topic}[${tp.partition}]@${offset}`;
  return {
    calls,
    sensor: {
      onStreamEventIn: (tp, offset, stream) =>
        void calls.push(`in ${at(tp, offset)} ${stream}`),
      onStreamEventOut: (tp, offset, stream) =>
        void calls.push(`out ${at(tp, offset)} ${stream}`),
      onTableOp: (table, op) => void calls.push(`table ${table} ${op}`),
      onSendError: (topic, error) =>
        void calls.push(`send-error ${topic} ${(error as Error).message}`),
    },
  };
}

async function withCounter(
  fn: (app: App, calls: string[]) => Promise<void>,
): Promise<void> {
  const app = memApp("sensor-hooks");
  const { sensor, calls } = recorder();
  app.sensors.add(sensor);
  const counts = app.table("counts", { default: () => 0 });
  const words = app.topic("words", { valueType: "string", keyType: "string" });
  app.agent(words, async function counter(stream) {
    for await (const w of stream) {
      if (w === "forget") counts.delete("hello");
      else counts.set(w, counts.get(w) + 1);
    }
  });
  await app.start();
  try {
    await fn(app, calls);
  } finally {
    await app.stop();
  }
}

Deno.test("Sensor.onStreamEventIn is called when a stream takes an event, with the agent as the stream", async () => {
  await withCounter(async (app, calls) => {
    await app.send("words", { key: "hello", value: "hello" });
    await waitFor(() => calls.includes("in words[0]@0 counter"), 5000, "in");
  });
});

Deno.test("Sensor.onStreamEventOut is called when the stream acks the event", async () => {
  await withCounter(async (app, calls) => {
    await app.send("words", { key: "hello", value: "hello" });
    await app.send("words", { key: "hello", value: "hello" });
    // The first event is acked when the loop asks for the second.
    await waitFor(() => calls.includes("out words[0]@0 counter"), 5000, "out");
    const inAt = calls.indexOf("in words[0]@0 counter");
    assert.ok(inAt >= 0 && inAt < calls.indexOf("out words[0]@0 counter"));
  });
});

Deno.test("Sensor.onTableOp is called for table reads, writes and deletes", async () => {
  await withCounter(async (app, calls) => {
    await app.send("words", { key: "hello", value: "hello" });
    await app.send("words", { key: "hello", value: "forget" });
    await waitFor(() => calls.includes("table counts del"), 5000, "del");
    const ops = calls.filter((c) => c.startsWith("table "));
    assert.deepEqual(ops.slice(0, 2), ["table counts get", "table counts set"]);
  });
});

Deno.test("Sensor.onSendError is called with the topic and the error when a send fails", async () => {
  await withCounter(async (app, calls) => {
    await assert.rejects(
      app.send("words", { key: "x", value: "x", partition: 7 }),
    );
    const errors = calls.filter((c) => c.startsWith("send-error "));
    assert.equal(errors.length, 1, calls.join("\n"));
    assert.match(errors[0]!, /^send-error words .*7/);
  });
});

Deno.test("Sensor hooks: with no sensor, events flow and nothing is recorded", async () => {
  const app = memApp("sensor-none");
  const { sensor, calls } = recorder();
  let seen = 0;
  app.agent(app.topic("t"), async (stream) => {
    for await (const _ of stream) seen++;
  }, { name: "plain" });
  await app.start();
  try {
    await app.send("t", { value: 1 });
    await waitFor(() => seen === 1, 5000, "delivered");
    app.sensors.add(sensor);
    await app.send("t", { value: 2 });
    await waitFor(() => seen === 2, 5000, "delivered");
    assert.ok(calls.includes("in t[0]@1 plain"), calls.join("\n"));
    assert.ok(!calls.some((c) => c.includes("@0")), "none before adding");
  } finally {
    await app.stop();
  }
});
