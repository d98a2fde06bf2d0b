import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import {
  encodeRecord,
  patchKafkajsRecords,
  recordsTakeBytes,
} from "../../src/transport/kafka/record_patch.ts";

const require = createRequire(import.meta.url);
const dir = require.resolve("kafkajs").replace(/index\.js$/, "");
const recordPath = require.resolve(
  `${dir}src/protocol/recordBatch/record/v0/index.js`,
);

type RecordFn = (args: Record<string, unknown>) => {
  buf: Uint8Array;
  offset: number;
};

/** Records as kafkajs' produce request hands them to the record encoder. */
const CASES: Record<string, unknown>[] = [
  { key: null, value: Buffer.from("x") },
  { key: Buffer.from("k1"), value: Buffer.from('{"n":1}'), offsetDelta: 1 },
  { key: "text key", value: "text value ü €", offsetDelta: 2 },
  { key: Buffer.alloc(0), value: Buffer.alloc(0), offsetDelta: 63 },
  { key: null, value: null, offsetDelta: 64, timestampDelta: 5 },
  { value: Buffer.alloc(300, 7), offsetDelta: 8191, timestampDelta: 1000 },
  { key: Buffer.from("k"), value: Buffer.alloc(70_000, 1), offsetDelta: 8192 },
  {
    key: Buffer.from("k"),
    value: Buffer.from("v"),
    headers: { "faust-generation": Buffer.from("12") },
    offsetDelta: 20_000,
    timestampDelta: 2 ** 31 - 1,
  },
  {
    key: Buffer.from("k"),
    value: Buffer.from("v"),
    headers: { a: "text", b: [Buffer.from("1"), "two"], "ü": Buffer.alloc(0) },
    timestampDelta: -3,
  },
  // Beyond 32 bits: kafkajs' own encoder.
  { key: Buffer.from("k"), value: Buffer.from("v"), timestampDelta: 2 ** 40 },
];

function hex(e: { buf: Uint8Array; offset: number }): string {
  return Buffer.from(e.buf.buffer, e.buf.byteOffset, e.offset).toString("hex");
}

Deno.test("patchKafkajsRecords(): records and record batches are encoded with kafkajs' bytes, in one plain array per record", async () => {
  const original = require(recordPath) as RecordFn;
  const { RecordBatch } = require(`${dir}src/protocol/recordBatch/v0/index.js`);
  const batchOf = async (records: unknown[]) =>
    (await RecordBatch({
      records,
      firstTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_100,
      lastOffsetDelta: records.length - 1,
    })).buffer.toString("hex");
  const expected = CASES.map((c) => hex(original(c)));
  const expectedBatch = await batchOf(CASES.map(original));

  const warnings: string[] = [];
  patchKafkajsRecords((m) => warnings.push(m));
  assert.deepEqual(warnings, []);
  const patched = require(recordPath) as RecordFn;
  assert.notEqual(patched, original, "the module cache holds the new encoder");

  for (const [i, c] of CASES.entries()) {
    assert.equal(hex(patched(c)), expected[i], `record ${i}`);
  }
  // Records of 32-bit deltas are plain arrays (no Buffer, no Encoder).
  const plain = encodeRecord(CASES[7]!)!;
  assert.equal(Object.getPrototypeOf(plain.buf), Uint8Array.prototype);
  assert.equal(plain.offset, plain.buf.length);
  assert.equal(encodeRecord(CASES[9]!), undefined, "beyond 32 bits");
  // A batch of them (and of kafkajs' own encoders) holds the same bytes.
  assert.equal(await batchOf(CASES.map(patched)), expectedBatch);
  assert.equal(await batchOf(CASES.map(original)), expectedBatch);
  // The produce request kafkajs loads from now on takes its records from
  // the module cache (counted through a wrapper around the new encoder).
  let calls = 0;
  const cached = require.cache[recordPath]!;
  cached.exports = (args: Record<string, unknown>) => {
    calls++;
    return patched(args);
  };
  try {
    const produce = require(`${dir}src/protocol/requests/produce/index.js`);
    const { request } = produce.protocol({ version: 3 })({
      acks: -1,
      timeout: 1000,
      compression: 0,
      topicData: [{
        topic: "t",
        partitions: [{ partition: 0, messages: [CASES[1], CASES[8]] }],
      }],
    });
    await request.encode();
  } finally {
    cached.exports = patched;
  }
  assert.equal(calls, 2);
});

Deno.test("patchKafkajsRecords(): plain Uint8Array keys, values and headers encode as the same bytes as Buffers, through kafkajs' own encoder too", () => {
  const original = require(recordPath) as RecordFn;
  patchKafkajsRecords(() => {});
  assert.equal(recordsTakeBytes(), true);
  const patched = require(recordPath) as RecordFn;
  const plain = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.length);
  for (const timestampDelta of [7, 2 ** 40]) {
    const buffers = {
      key: Buffer.from("key"),
      value: Buffer.from("value ü"),
      headers: { g: Buffer.from("12"), r: [Buffer.from("1"), Buffer.from("")] },
      offsetDelta: 3,
      timestampDelta,
    };
    const bytes = {
      ...buffers,
      key: plain(buffers.key),
      value: plain(buffers.value),
      headers: {
        g: plain(buffers.headers.g),
        r: buffers.headers.r.map(plain),
      },
    };
    assert.equal(
      hex(patched(bytes)),
      hex(original(buffers)),
      `timestamp delta ${timestampDelta}`,
    );
  }
});
