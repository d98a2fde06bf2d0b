import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import {
  decodeBatch,
  type FetchDecoder,
  patchKafkajsDecoder,
} from "../../src/transport/kafka/decode_patch.ts";
import { encodeRecord } from "../../src/transport/kafka/record_patch.ts";
import { FetchedRecord } from "../../src/transport/kafka/fetched_record.ts";
import { fromMessage } from "../../src/transport/kafka/records.ts";
import type { KafkaMessage } from "kafkajs";

const require = createRequire(import.meta.url);
const dir = require.resolve("kafkajs").replace(/index\.js$/, "");
const batchPath = require.resolve(
  `${dir}src/protocol/recordBatch/v0/decoder.js`,
);
const Decoder = require(`${dir}src/protocol/decoder.js`);
const { RecordBatch } = require(`${dir}src/protocol/recordBatch/v0/index.js`);
const Record = require(`${dir}src/protocol/recordBatch/record/v0/index.js`);
const Long = require(`${dir}src/utils/long.js`);
const Encoder = require(`${dir}src/protocol/encoder.js`);

/** A record kafkajs' encoder refuses (a null header value), in its bytes. */
function rawRecord(args: Record<string, unknown>): unknown {
  const r = encodeRecord(args)!;
  return new Encoder().writeBuffer(Buffer.from(r.buf.subarray(0, r.offset)));
}

type Original = (d: FetchDecoder) => Promise<Record<string, unknown>>;

const b = (s: string) => Buffer.from(s);

/** Records of the first batch: nulls, empties, text, large, headers of every kind. */
const RECORDS: Record<string, unknown>[] = [
  { key: null, value: b("x") },
  { key: b("k1"), value: b('{"n":1}'), offsetDelta: 1, timestampDelta: 3 },
  { key: b(""), value: b(""), offsetDelta: 2, timestampDelta: -5 },
  { key: b("tomb"), value: null, offsetDelta: 3, timestampDelta: 2 ** 40 },
  { key: b("k"), value: Buffer.alloc(70_000, 1), offsetDelta: 300 },
  {
    key: b("ü €"),
    value: b("v"),
    offsetDelta: 301,
    headers: { "faust-generation": b("12") },
  },
  {
    key: b("h"),
    value: b("v"),
    offsetDelta: 302,
    headers: {
      a: b("1"),
      rep: [b("one"), b("two"), b("three")],
      "ü": b(""),
      "__proto__": b("p"),
      "7": b("seven"),
    },
  },
  {
    raw: true,
    key: b("n"),
    value: b("v"),
    offsetDelta: 303,
    headers: { nul: null, x: [b("1"), null], y: [null, b("2")] },
  },
];

async function batch(
  opts: Record<string, unknown>,
  records: Record<string, unknown>[],
): Promise<Buffer> {
  return (await RecordBatch({
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_900,
    lastOffsetDelta: records.length - 1,
    ...opts,
    records: records.map((r) => r.raw === true ? rawRecord(r) : Record(r)),
  })).buffer;
}

/** Set attribute bits of a batch (kafkajs' encoder writes no control or log-append flag). */
function flag(buf: Buffer, bits: number): Buffer {
  buf[12 + 10] = buf[12 + 10]! | bits;
  return buf;
}

/** Comparable form of a message: types and bytes of every field kafkajs gives. */
function shape(m: Record<string, unknown>): unknown {
  const bytes = (v: unknown): unknown =>
    v === null ? null : Array.isArray(v) ? v.map(bytes) : {
      buffer: Buffer.isBuffer(v),
      hex: (v as Buffer).toString("hex"),
    };
  const headers = m.headers as Record<string, unknown>;
  return {
    magicByte: m.magicByte,
    attributes: m.attributes,
    timestamp: m.timestamp,
    offset: m.offset,
    key: bytes(m.key),
    value: bytes(m.value),
    headers: Object.keys(headers).map((k) => [k, bytes(headers[k])]),
    headersProto: Object.getPrototypeOf(headers),
    isControlRecord: m.isControlRecord,
    batchContext: { ...(m.batchContext as object) },
  };
}

function hexRecord(r: ReturnType<typeof fromMessage>): unknown {
  const hex = (v: Uint8Array | null) =>
    v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.length).toString(
      "hex",
    );
  return {
    ...r,
    key: hex(r.key),
    value: hex(r.value),
    headers: Object.entries(r.headers).map(([k, v]) => [k, hex(v)]),
  };
}

Deno.test("patchKafkajsDecoder(): fetched record batches decode to kafkajs' own messages, one object per record", async () => {
  const original = require(batchPath) as Original;
  const set = Buffer.concat([
    await batch({ firstOffset: Long.fromInt(0) }, RECORDS),
    await batch({
      firstOffset: Long.fromInt(403),
      transactional: true,
      producerId: Long.fromInt(7),
      producerEpoch: 2,
      firstSequence: 5,
    }, [{ key: b("t"), value: b("in txn") }]),
    // An abort marker: a control batch of the same producer.
    flag(
      await batch({
        firstOffset: Long.fromInt(404),
        transactional: true,
        producerId: Long.fromInt(7),
      }, [{
        key: Buffer.from([0, 0, 0, 0]),
        value: Buffer.from([0, 0, 0, 1]),
      }]),
      0x20,
    ),
    flag(
      await batch({ firstOffset: Long.fromInt(405) }, [{ key: b("la") }]),
      0x08,
    ),
    // kafkajs' own path: compressed, and an offset beyond 2^53.
    await batch({ firstOffset: Long.fromInt(406), compression: 1 }, [
      { key: b("gz"), value: b("zipped") },
      { key: b("gz2"), value: null, offsetDelta: 1 },
    ]),
    await batch({ firstOffset: Long.fromValue(2n ** 60n) }, [{
      key: b("big"),
    }]),
  ]);
  // A batch cut short by the fetch size ends the set.
  const cut = await batch({ firstOffset: Long.fromInt(9) }, [{
    value: b("c"),
  }]);
  const data = Buffer.concat([set, cut.subarray(0, cut.length - 3)]);

  const decodeAll = async (
    one: (d: FetchDecoder) => unknown,
  ): Promise<{ batches: unknown[]; records: Record<string, unknown>[] }> => {
    const decoder = new Decoder(data);
    const batches: unknown[] = [];
    const records: Record<string, unknown>[] = [];
    while (decoder.canReadBytes(49)) {
      try {
        const r = await one(decoder) as { records: Record<string, unknown>[] };
        batches.push({ ...r, records: r.records.length, at: decoder.offset });
        records.push(...r.records);
      } catch (e) {
        if ((e as Error).name === "KafkaJSPartialMessageError") break;
        throw e;
      }
    }
    return { batches, records };
  };
  const expected = await decodeAll(original);
  const ours = await decodeAll((d) => decodeBatch(d) ?? original(d));
  assert.equal(expected.records.length, RECORDS.length + 6);
  // Each record as the transport takes it, from ours (headers not read
  // yet) and from kafkajs'.
  assert.deepEqual(
    ours.records.map((m) =>
      hexRecord(fromMessage("t", 3, m as unknown as KafkaMessage))
    ),
    expected.records.map((m) =>
      hexRecord(fromMessage("t", 3, m as unknown as KafkaMessage))
    ),
  );
  assert.deepEqual(ours.batches, expected.batches);
  assert.deepEqual(ours.records.map(shape), expected.records.map(shape));
  // The same once the headers were read as kafkajs' object.
  assert.deepEqual(
    ours.records.map((m) =>
      hexRecord(fromMessage("t", 3, m as unknown as KafkaMessage))
    ),
    expected.records.map((m) =>
      hexRecord(fromMessage("t", 3, m as unknown as KafkaMessage))
    ),
  );
  const fetched = ours.records.filter((m) => m instanceof FetchedRecord);
  assert.equal(fetched.length, RECORDS.length + 3, "kafkajs decodes the rest");
  // A filter may mark a record as control (read_committed).
  fetched[0]!.isControlRecord = true;
  assert.equal(fetched[0]!.isControlRecord, true);

  // Installed: the fetch response kafkajs loads from now on decodes with it.
  const warnings: string[] = [];
  patchKafkajsDecoder((m) => warnings.push(m));
  assert.deepEqual(warnings, []);
  const decodeMessages = require(
    `${dir}src/protocol/requests/fetch/v4/decodeMessages.js`,
  );
  const size = Buffer.alloc(4);
  size.writeInt32BE(data.length);
  const messages = await decodeMessages(
    new Decoder(Buffer.concat([size, data])),
  ) as Record<string, unknown>[];
  assert.deepEqual(messages.map(shape), expected.records.map(shape));
  assert.ok(messages[0] instanceof FetchedRecord);
});

Deno.test("decodeBatch() leaves a malformed batch to kafkajs, untouched", async () => {
  const good = await batch({ firstOffset: Long.fromInt(0) }, [
    { key: b("k"), value: b("v") },
  ]);
  // The key's length says 60 bytes: past the record's end.
  const bad = Buffer.from(good);
  const keyLength = 12 + 49 + 1 + 1 + 1 + 1;
  assert.equal(bad[keyLength], 2, "zigzag 1: the key's length");
  bad[keyLength] = 120;
  const decoder = new Decoder(bad);
  assert.equal(decodeBatch(decoder), undefined);
  assert.equal(decoder.offset, 0);
  const ok = new Decoder(good);
  assert.equal(decodeBatch(ok)?.records.length, 1);
  assert.equal(ok.offset, good.length);
});
