import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  patchKafkajsPausedFetch,
  wakePausedFetches,
} from "../../src/transport/kafka/paused_fetch_patch.ts";

const require = createRequire(import.meta.url);
const dir = require.resolve("kafkajs").replace(/index\.js$/, "");
const ConsumerGroup = require(`${dir}src/consumer/consumerGroup.js`) as {
  prototype: Record<string, unknown>;
};
const SubscriptionState = require(
  `${dir}src/consumer/subscriptionState.js`,
) as new () => {
  assign(tps: { topic: string; partitions: number[] }[]): void;
  pause(tps: { topic: string; partitions?: number[] }[]): void;
  resume(tps: { topic: string; partitions?: number[] }[]): void;
};

/**
 * A kafkajs ConsumerGroup (its own prototype: the patched fetch and the
 * real getActiveTopicPartitions) over a real SubscriptionState with two
 * partitions of topic "t", both on the one broker, committed offsets
 * known: kafkajs' own fetch, unpatched, finds nothing to fetch and sleeps.
 */
function group(maxWaitTime: number) {
  const subscriptionState = new SubscriptionState();
  subscriptionState.assign([{ topic: "t", partitions: [0, 1] }]);
  const g = Object.create(ConsumerGroup.prototype) as Record<string, unknown>;
  Object.assign(g, {
    maxWaitTime,
    subscriptionState,
    cluster: { refreshMetadataIfNecessary: () => Promise.resolve() },
    checkForStaleAssignment: () => {},
    filterPartitionsByNode: (_: unknown, tps: unknown) => tps,
    // What kafkajs' own fetch reads on its way to the sleep.
    seekOffsets: () => Promise.resolve(),
    offsetManager: { committedOffsets: () => ({ t: { 0: "0", 1: "0" } }) },
  });
  return {
    fetch: () => (g.fetch as (nodeId: number) => Promise<unknown[]>).call(g, 1),
    subscriptionState,
  };
}

patchKafkajsPausedFetch((message) => {
  throw new Error(message);
});

Deno.test("kafkajs ConsumerGroup.fetch() over only paused partitions sleeps until a resume wakes it", async () => {
  const g = group(10_000);
  g.subscriptionState.pause([{ topic: "t", partitions: [0, 1] }]);
  const t0 = performance.now();
  const fetched = g.fetch();
  await new Promise((r) => setTimeout(r, 20));
  g.subscriptionState.resume([{ topic: "t", partitions: [1] }]);
  wakePausedFetches();
  assert.deepEqual(await fetched, []);
  const ms = performance.now() - t0;
  // kafkajs as published sleeps maxWaitTime (10 s here) whatever happens.
  assert.ok(ms < 2_000, `fetch returned after ${ms} ms`);
});

Deno.test("kafkajs ConsumerGroup.fetch() over only paused partitions still returns after maxWaitTime with no resume", async () => {
  const g = group(50);
  g.subscriptionState.pause([{ topic: "t" }]);
  const t0 = performance.now();
  assert.deepEqual(await g.fetch(), []);
  const ms = performance.now() - t0;
  assert.ok(ms >= 45 && ms < 2_000, `fetch returned after ${ms} ms`);
});
