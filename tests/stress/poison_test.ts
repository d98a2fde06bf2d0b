/**
 * Poison pills under `decodeErrorPolicy: "skip"`: invalid JSON, a wrong
 * schema, an empty value and a 900 KB payload between valid events. Every
 * valid event is processed once, each bad record is logged with its
 * topic/partition/offset, and the offsets move past them.
 */
import assert from "node:assert/strict";
import { NAMES, PARTITIONS, ready, StressDir, verify } from "./_harness.ts";
import type { ProduceRecord } from "../../src/transport/transport.ts";

const KEYS = 8;
const EVENTS = 2000;

Deno.test("Poison pills (1% invalid JSON, wrong schema, empty value, 900 KB) are skipped and logged under skip; every valid event is processed", async () => {
  const s = await StressDir.create();
  try {
    const enc = new TextEncoder();
    const records: ProduceRecord[] = [];
    const poison: string[] = [];
    const bad = (kind: string, value: Uint8Array, i: number) => {
      poison.push(kind);
      records.push({
        topic: NAMES.input,
        partition: i % PARTITIONS,
        key: enc.encode(`k${i % KEYS}`),
        value,
      });
    };
    for (let i = 0; i < EVENTS; i++) {
      const k = `k${i % KEYS}`;
      // A valid event with a 900 KB field the schema does not know (dropped).
      const pad = i === 500 ? { pad: "x".repeat(900 * 1024) } : {};
      records.push({
        topic: NAMES.input,
        partition: i % PARTITIONS,
        key: enc.encode(k),
        value: enc.encode(JSON.stringify({ i, k, ...pad })),
      });
      if (i % 100 === 7) bad("invalid JSON", enc.encode(`{"i": ${i}, "k":`), i);
      if (i % 400 === 13) {
        bad("wrong schema", enc.encode(JSON.stringify({ i: "x", k: 1 })), i);
      }
      if (i % 400 === 29) bad("empty value", new Uint8Array(0), i);
      if (i === 1000) {
        bad("900 KB garbage", enc.encode("#".repeat(900 * 1024)), i);
      }
    }
    await s.broker.createTopic({ name: NAMES.input, partitions: PARTITIONS });
    for (let at = 0; at < records.length; at += 200) {
      await s.broker.send(records.slice(at, at + 200));
    }
    const worker = s.worker({ decode: "skip" });
    await ready(worker);
    await s.waitDrained();
    worker.kill("SIGTERM");
    assert.equal((await worker.exit()).code, 0, worker.output);

    const logged = worker.stderr.match(
      /Cannot decode "stress-in\[\d\]"@\d+ \("skip"\)/g,
    ) ?? [];
    assert.equal(logged.length, poison.length, worker.stderr.slice(-3000));
    const report = await verify(s, (i) => `k${i % KEYS}`);
    console.log(
      `${poison.length} poison pills (${
        [...new Set(poison)].join(", ")
      }) among ${EVENTS} events: ${
        JSON.stringify({
          ...report,
          lost: report.lost.length,
        })
      }`,
    );
    assert.equal(report.inputs, EVENTS);
    assert.equal(report.exact, true);
  } finally {
    await s.remove();
  }
});
