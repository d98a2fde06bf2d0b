import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { CompressionTypes, type Message } from "kafkajs";
import { sendRecords } from "../../src/transport/kafka/producer.ts";
import { patchKafkajsVarints } from "../../src/transport/kafka/varint_patch.ts";
import type { ProduceRecord } from "../../src/transport/transport.ts";

const require = createRequire(import.meta.url);
const kafkajsFile = (path: string) =>
  require(require.resolve("kafkajs").replace(/index\.js$/, path));

/** kafkajs' own grouping of a topic's messages per partition. */
const groupMessagesPerPartition = kafkajsFile(
  "src/producer/groupMessagesPerPartition.js",
) as (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: Message[];
  partitioner: (args: { message: Message }) => number;
}) => Record<string, Message[]>;

/** The messages `sendRecords` hands to kafkajs for `records`, per topic. */
async function handedOver(
  records: ProduceRecord[],
): Promise<Map<string, Message[]>> {
  const out = new Map<string, Message[]>();
  await sendRecords(
    {
      sendBatch: (batch) => {
        for (const t of batch.topicMessages ?? []) out.set(t.topic, t.messages);
        return Promise.resolve([]);
      },
    },
    records,
    { acks: -1, compression: CompressionTypes.None },
  );
  return out;
}

function records(n: number, partitions: number): ProduceRecord[] {
  const enc = new TextEncoder();
  return Array.from({ length: n }, (_, i) => ({
    topic: i % 7 === 0 ? "other" : "t",
    partition: (i * 13) % partitions,
    key: enc.encode(`k${i}`),
    value: enc.encode(`v${i}`),
  }));
}

Deno.test("sendRecords() messages group per partition in kafkajs as its own grouping does, in order, without a copy per message", async () => {
  const topics = await handedOver(records(20_000, 4));
  for (const [topic, messages] of topics) {
    const expected: Record<string, Message[]> = {};
    for (const m of [...messages]) (expected[m.partition!] ??= []).push(m);
    let calls = 0;
    const grouped = groupMessagesPerPartition({
      topic,
      partitionMetadata: [0, 1, 2, 3].map((p) => ({ partitionId: p })),
      messages,
      partitioner: ({ message }) => {
        calls++;
        return message.partition!;
      },
    });
    assert.deepEqual(grouped, expected);
    // kafkajs' reducer copies the partition's list once per message
    // (quadratic): it runs on the first message only (to recognise it).
    assert.equal(calls, 1, `${topic}: kafkajs' reducer ran ${calls} times`);
  }
});

Deno.test("sendRecords() messages keep the ordinary reduce for any other call", async () => {
  const messages = (await handedOver(records(10, 2))).get("t")!;
  assert.equal(messages.reduce((n) => n + 1, 0), messages.length);
  assert.deepEqual(
    messages.reduce((acc: string[], m) => [...acc, String(m.partition)], []),
    messages.map((m) => String(m.partition)),
  );
  const keyed = messages.reduce(
    (acc: Record<string, number>, m) => ({ ...acc, [String(m.key)]: 1 }),
    {},
  );
  assert.equal(Object.keys(keyed).length, messages.length);
});

/** Zigzag + LEB128 as the Kafka protocol defines them (64-bit). */
function varlong(v: bigint): string {
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out).toString("hex");
}

const VALUES = [
  0,
  1,
  -1,
  63,
  64,
  -64,
  -65,
  127,
  128,
  300,
  8191,
  8192,
  -8193,
  2 ** 20,
  -(2 ** 20),
  2 ** 31 - 1,
  -(2 ** 31),
];

Deno.test("patchKafkajsVarints(): kafkajs' encoder writes the protocol's varint and varlong bytes, and sizes, without a Buffer per varint", () => {
  const warnings: string[] = [];
  patchKafkajsVarints((m) => warnings.push(m));
  assert.deepEqual(warnings, []);
  // deno-lint-ignore no-explicit-any
  const Encoder = kafkajsFile("src/protocol/encoder.js") as any;
  for (const v of VALUES) {
    assert.equal(
      new Encoder().writeVarInt(v).buffer.toString("hex"),
      varlong(BigInt(v)),
      `varint ${v}`,
    );
    assert.equal(
      new Encoder().writeVarLong(v).buffer.toString("hex"),
      varlong(BigInt(v)),
      `varlong ${v}`,
    );
    assert.equal(
      Encoder.sizeOfVarLong(v),
      varlong(BigInt(v)).length / 2,
      `size ${v}`,
    );
  }
  // Beyond 32 bits: kafkajs' own Long path.
  for (const v of [2 ** 40, -(2 ** 40), 1_700_000_000_000]) {
    assert.equal(
      new Encoder().writeVarLong(v).buffer.toString("hex"),
      varlong(BigInt(v)),
      `varlong ${v}`,
    );
    assert.equal(Encoder.sizeOfVarLong(v), varlong(BigInt(v)).length / 2);
  }
  // Many varints in a row grow the buffer and stay in order.
  const e = new Encoder(1);
  for (const v of VALUES) e.writeVarInt(v);
  assert.equal(
    e.buffer.toString("hex"),
    VALUES.map((v) => varlong(BigInt(v))).join(""),
  );
  // No Buffer is made per varint (that was the cost).
  const from = Buffer.from;
  let made = 0;
  Buffer.from = ((...args: Parameters<typeof from>) => {
    made++;
    return from(...args);
  }) as typeof from;
  try {
    const big = new Encoder(4096);
    for (let i = 0; i < 100; i++) big.writeVarInt(i * 1000).writeVarLong(i);
  } finally {
    Buffer.from = from;
  }
  assert.equal(made, 0);
});

Deno.test("sendRecords() splits a call into produce requests of at most 10,000 records and 512 KiB, in order, with metadata in input order", async () => {
  const requests: number[] = [];
  const bytesOf: number[] = [];
  const records: ProduceRecord[] = [];
  for (let i = 0; i < 25_000; i++) {
    records.push({
      topic: "t",
      partition: i % 2,
      key: null,
      value: new Uint8Array(i >= 20_000 ? 200 : 10),
    });
  }
  const offsets = new Map<number, number>();
  const metas = await sendRecords(
    {
      sendBatch: (batch) => {
        const msgs = batch.topicMessages![0]!.messages;
        requests.push(msgs.length);
        bytesOf.push(
          msgs.reduce((n, m) => n + (m.value as Buffer).byteLength + 16, 0),
        );
        // One base offset per partition, as the broker answers.
        const result = [0, 1].map((partition) => {
          const base = offsets.get(partition) ?? 0;
          const n = msgs.filter((m) => m.partition === partition).length;
          offsets.set(partition, base + n);
          return {
            topicName: "t",
            partition,
            errorCode: 0,
            baseOffset: String(base),
          };
        });
        return Promise.resolve(result);
      },
    },
    records,
    { acks: -1, compression: CompressionTypes.None },
  );
  assert.ok(requests.length > 1, `${requests}`);
  assert.ok(requests.every((n) => n <= 10_000), `${requests}`);
  assert.ok(bytesOf.every((n) => n <= 512 * 1024), `${bytesOf}`);
  assert.equal(requests.reduce((a, b) => a + b, 0), 25_000);
  // Record i of partition p got offset floor(i / 2): input order kept.
  assert.deepEqual(
    metas.map((m) => m.offset),
    records.map((_, i) => Math.floor(i / 2)),
  );
});
