/**
 * A fix for a kafkajs 2.2.4 stall: a consumer's fetch loop for a broker
 * whose assigned partitions are all paused sleeps `maxWaitTimeInMs` (500 ms
 * here) before it looks again, and `resume()` does not cut that sleep
 * short. Back-pressure pauses a partition for moments (its stream buffer
 * full, or its sends waiting for the broker): each such moment that caught
 * every partition paused cost the whole sleep, and the backlog it built
 * brought on the next pause. Measured on kafka:// with a forwarding agent
 * at 45,000 events/s (about a third of its own forward rate): end-to-end
 * p50 410-460 ms in most runs, 9-16 ms in the others, against 14 ms for a
 * bare kafkajs consumer. The patch puts a sleep of the same length in its
 * place that {@linkcode wakePausedFetches} ends (the consumer calls it on
 * `resume()`); a fetch with something to fetch runs as kafkajs wrote it.
 * It touches kafkajs internals: the version is pinned in deno.json, and a
 * changed class makes the patch a loud no-op at start.
 *
 * @module
 */
import { kafkajsMethod } from "./internals.ts";

interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

interface GroupLike {
  maxWaitTime: number;
  cluster: { refreshMetadataIfNecessary(): Promise<unknown> };
  subscriptionState: { assigned(): TopicPartitions[] };
  checkForStaleAssignment(): void;
  filterPartitionsByNode(
    nodeId: unknown,
    tps: TopicPartitions[],
  ): TopicPartitions[];
  getActiveTopicPartitions(): Record<string, Set<number> | undefined>;
}

let applied = false;
const sleepers = new Set<() => void>();

/** End every fetch loop's sleep over paused partitions: they look again now. */
export function wakePausedFetches(): void {
  for (const wake of [...sleepers]) wake();
}

/** Whether no partition of `nodeId` assigned to `g` can be fetched (all paused, or none). */
function nothingToFetch(g: GroupLike, nodeId: unknown): boolean {
  const active = g.getActiveTopicPartitions();
  const assigned = g.filterPartitionsByNode(
    nodeId,
    g.subscriptionState.assigned(),
  );
  for (const { topic, partitions } of assigned) {
    const set = active[topic];
    if (set !== undefined && partitions.some((p) => set.has(p))) return false;
  }
  return true;
}

/**
 * Patch kafkajs' consumer group fetch once per process.
 *
 * @param warn Called with a message when the internals changed and nothing was patched.
 */
export function patchKafkajsPausedFetch(warn: (message: string) => void): void {
  if (applied) return;
  applied = true;
  const found = kafkajsMethod("src/consumer/consumerGroup.js", "fetch");
  const proto = found?.proto;
  if (
    found === undefined ||
    typeof proto?.getActiveTopicPartitions !== "function" ||
    typeof proto?.filterPartitionsByNode !== "function" ||
    typeof proto?.checkForStaleAssignment !== "function"
  ) {
    warn(
      "kafkajs internals changed: ConsumerGroup.fetch not patched; a partition resumed while every partition was paused waits up to 500 ms for its next fetch",
    );
    return;
  }
  const original = found.original as (
    this: GroupLike,
    nodeId: unknown,
  ) => Promise<unknown[]>;
  found.proto.fetch = async function (this: GroupLike, nodeId: unknown) {
    let idle: boolean;
    try {
      idle = nothingToFetch(this, nodeId);
    } catch {
      idle = false;
    }
    if (!idle) return await original.call(this, nodeId);
    try {
      // What kafkajs does before it finds nothing to fetch.
      await this.cluster.refreshMetadataIfNecessary();
      this.checkForStaleAssignment();
    } catch {
      // kafkajs handles its errors (a rebalance, stale metadata) its way.
      return await original.call(this, nodeId);
    }
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, this.maxWaitTime);
      sleepers.add(wake);
    });
    return [];
  };
}
