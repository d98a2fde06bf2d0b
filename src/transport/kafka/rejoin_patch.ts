/**
 * Revocation before kafkajs rejoins its group. kafkajs 2.2.4 has no
 * "partitions revoked" callback: on a rebalance it emits its REBALANCING
 * event and at once calls `ConsumerGroup.joinAndSync()`, so work done in
 * the event's listener (committing offsets of the partitions about to be
 * revoked) races the JoinGroup request. Once the last member has joined,
 * the group is in a new generation and the broker refuses the commit with
 * ILLEGAL_GENERATION: the partitions' next owners process those events
 * again. This patch makes `joinAndSync()` first await every hook that one of
 * the group's assigners carries under {@linkcode BEFORE_REJOIN}, so the
 * revocation (and its commit, still in the old generation, which the broker
 * accepts while the group prepares the rebalance) completes before this
 * member rejoins. The hooks ride on the group's partition assigners (ours:
 * kafkajs keeps the objects our assigner factory returns), so each consumer
 * finds its own. The hook also gets the group itself, so the consumer can
 * read the generation kafkajs joined (`generationId`) when the join
 * completes. It touches kafkajs internals (the version is pinned in
 * deno.json); a changed class makes the patch a loud no-op at start.
 *
 * @module
 */
import { kafkajsMethod } from "./internals.ts";

/** Property of a partition assigner holding the hook to run before a rejoin. */
export const BEFORE_REJOIN: unique symbol = Symbol("faust.beforeRejoin");

/** kafkajs' consumer group as the hooks see it. */
export interface GroupLike {
  assigners?: unknown[];
  /** Set by kafkajs when a JoinGroup succeeds (read after the join). */
  generationId?: number | null;
}

type Hooked = { [BEFORE_REJOIN]?: (group: GroupLike) => Promise<void> };

let applied = false;

/**
 * Patch kafkajs' consumer group once per process.
 *
 * @param warn Called with a message when the internals changed and nothing was patched.
 */
export function patchKafkajsRejoin(warn: (message: string) => void): void {
  if (applied) return;
  applied = true;
  const found = kafkajsMethod("src/consumer/consumerGroup.js", "joinAndSync");
  if (found === undefined) {
    warn(
      "kafkajs internals changed: ConsumerGroup.joinAndSync not found; offsets of revoked partitions may be committed after the group moved on (their events are processed again)",
    );
    return;
  }
  const { proto, original } = found;
  proto.joinAndSync = async function (this: GroupLike) {
    for (const a of this.assigners ?? []) {
      const hook = (a as Hooked)[BEFORE_REJOIN];
      if (typeof hook === "function") await hook(this);
    }
    return await (original as (this: GroupLike) => Promise<unknown>).call(
      this,
    );
  };
}
