import assert from "node:assert/strict";
import { murmur2, partitionForKey } from "../../src/producer/partitioner.ts";

// Kafka's own vectors for Utils.murmur2 (clients UtilsTest.testMurmur2).
const KAFKA_VECTORS: Array<[Uint8Array, number]> = [
  [new TextEncoder().encode("21"), -973932308],
  [new TextEncoder().encode("foobar"), -790332482],
  [new TextEncoder().encode("a-little-bit-long-string"), -985981536],
  [new TextEncoder().encode("a-little-bit-longer-string"), -1486304829],
  [
    new TextEncoder().encode(
      "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
    ),
    -58897971,
  ],
  [new Uint8Array([0x61, 0x62, 0x63]), 479470107],
];

Deno.test("murmur2() matches Kafka's UtilsTest vectors (seed, tail bytes, signed result)", () => {
  for (const [key, expected] of KAFKA_VECTORS) {
    assert.equal(murmur2(key), expected, new TextDecoder().decode(key));
  }
});

Deno.test("partitionForKey() is Kafka's toPositive(murmur2(key)) % partitions", () => {
  for (const [key, hash] of KAFKA_VECTORS) {
    for (const n of [1, 3, 8, 12]) {
      assert.equal(partitionForKey(key, n), (hash & 0x7fffffff) % n);
    }
  }
  // Fixed points, written out: "foobar" is partition 6 of 8, "21" 0 of 12.
  assert.equal(partitionForKey(new TextEncoder().encode("foobar"), 8), 6);
  assert.equal(partitionForKey(new TextEncoder().encode("21"), 12), 0);
});
