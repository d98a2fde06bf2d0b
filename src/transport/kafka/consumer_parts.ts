/**
 * Small parts of the `kafka://` group consumer (`consumer.ts`): rejoin
 * bound, rebalance errors, kafkajs calls skipped while it restarts, the
 * kafkajs configuration, the wait for the first assignment, the committed
 * offsets.
 *
 * @module
 */
import type { Admin, ConsumerConfig, Kafka } from "kafkajs";
import { errorLine, FaustError } from "../../errors.ts";
import { type TP, tpKey } from "../../util/types.ts";
import type { ConsumerOptions } from "../transport.ts";
import { partitionAssigners, standbyReplicasOf } from "./assigner.ts";
import type { KafkaSettings } from "./options.ts";
import { BEFORE_REJOIN, type GroupLike } from "./rejoin_patch.ts";

/**
 * Joins again in a row (without an assignment in between) after kafkajs gave
 * up on the group because no coordinator could be reached; about 8 minutes
 * of backoff in all.
 */
export const MAX_REJOINS = 20;

/** A caller of `subscribe()` waiting for the group to assign. */
export interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** Errors that mean the group is rebalancing (the member is still in the old generation). */
export const REBALANCING = new Set([
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR_FOR_GROUP",
  "NOT_COORDINATOR",
  "ILLEGAL_GENERATION",
]);

/**
 * Run a kafkajs consumer call that has no effect while kafkajs restarts the
 * consumer after a crash (the broker unreachable): kafkajs then refuses it
 * ("Consumer group was not initialized"). Nothing is lost by skipping it:
 * the crash revokes the partitions (queued behind the caller), and the
 * assignment after the restart seeks and pauses again.
 */
export function unlessRestarting(call: () => void): void {
  try {
    call();
  } catch (e) {
    if (!/Consumer group was not initialized/.test(String(e))) throw e;
  }
}

/** TPs as kafkajs takes them: partitions per topic. */
export function groupByTopic(
  tps: readonly TP[],
): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const tp of tps) {
    let list = m.get(tp.topic);
    if (list === undefined) m.set(tp.topic, list = []);
    list.push(tp.partition);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}

/**
 * Wait for `joined` (the first assignment) at most `limitMs`.
 *
 * @param joined Resolves with the assignment.
 * @param limitMs Bound.
 * @param who The consumer, for the error message.
 * @param topics Its topics, for the error message.
 * @throws {FaustError} When no assignment came within the bound.
 */
export async function joinedWithin(
  joined: Promise<void>,
  limitMs: number,
  who: string,
  topics: readonly string[],
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      joined,
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new FaustError(
                `${who} got no assignment within ${limitMs} ms (topics ${
                  topics.join(", ")
                })`,
              ),
            ),
          limitMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The kafkajs consumer's configuration: the Faust assignor (told the
 * previous assignment), with `beforeRejoin` run before every JoinGroup.
 *
 * @param settings Connection and group settings.
 * @param options The consumer's options.
 * @param previous The member's last assignment (active, standby).
 * @param beforeRejoin Runs before kafkajs sends a JoinGroup.
 */
export function consumerConfig(
  settings: KafkaSettings,
  options: ConsumerOptions,
  previous: () => { active: readonly TP[]; standby: readonly TP[] },
  beforeRejoin: (group: GroupLike) => Promise<void>,
): ConsumerConfig {
  return {
    groupId: options.groupId,
    partitionAssigners: partitionAssigners({
      memberMetadata: options.memberMetadata ?? {},
      standbyReplicas: standbyReplicasOf(options.memberMetadata),
      previous,
      ...(options.onGroupAssignment === undefined
        ? {}
        : { onAssignment: options.onGroupAssignment }),
    }).map((make) => (args) =>
      Object.assign(make(args), { [BEFORE_REJOIN]: beforeRejoin })
    ),
    sessionTimeout: settings.sessionTimeoutMs,
    rebalanceTimeout: settings.rebalanceTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    maxBytesPerPartition: settings.maxFetchBytes,
    // kafkajs decodes a whole response at once (its default allows 10 MiB):
    // every record of it stays alive until polled, long enough for V8 to
    // move them all to the old generation, which then grows to several
    // times what is live before it is collected.
    maxBytes: settings.fetchMaxBytes,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
    readUncommitted: !settings.readCommitted,
  };
}

/**
 * The group's committed offsets of `tps` (by `tpKey`); partitions without
 * one are absent.
 */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  tps: readonly TP[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const topics = [...new Set(tps.map((tp) => tp.topic))];
  const res = await admin.fetchOffsets({ groupId, topics });
  const wanted = new Set(tps.map(tpKey));
  for (const t of res) {
    for (const p of t.partitions) {
      const key = tpKey({ topic: t.topic, partition: p.partition });
      const offset = Number(p.offset);
      if (wanted.has(key) && offset >= 0) out.set(key, offset);
    }
  }
  return out;
}

/** The partitions of a kafkajs member assignment (partitions per topic). */
export function tpsOf(assignment: Record<string, number[]>): TP[] {
  const tps: TP[] = [];
  for (const [topic, partitions] of Object.entries(assignment)) {
    for (const partition of partitions) tps.push({ topic, partition });
  }
  return tps;
}

/**
 * Log an error line for the consumer of `groupId` through kafkajs' logger
 * (the default sink prints errors only).
 *
 * @param kafka The kafkajs client.
 * @param groupId The group.
 * @param message What happened.
 */
export function logConsumerError(
  kafka: Kafka,
  groupId: string,
  message: string,
): void {
  kafka.logger().namespace("Consumer").error(message, { groupId });
}

/**
 * After kafkajs gave a consumer up (`attempt` in a row): log, wait (1 s
 * doubling up to 30 s), then `join` (which replaces the kafkajs consumer
 * and subscribes again, or returns `undefined` when that is moot). A join
 * that fails is logged; the new consumer's own crash rejoins again.
 *
 * @param kafka The kafkajs client (its logger).
 * @param groupId The group.
 * @param attempt Joins again in a row without an assignment, this one included.
 * @param cause Why kafkajs gave up.
 * @param join Join again.
 */
export function rejoinLater(
  kafka: Kafka,
  groupId: string,
  attempt: number,
  cause: unknown,
  join: () => Promise<void> | undefined,
): void {
  const wait = Math.min(30_000, 1000 * 2 ** (attempt - 1));
  logConsumerError(
    kafka,
    groupId,
    `Consumer of group "${groupId}" gave up on the group (${
      errorLine(cause)
    }); joining again in ${wait} ms (attempt ${attempt} of ${MAX_REJOINS})`,
  );
  setTimeout(() => {
    join()?.catch((e) =>
      logConsumerError(
        kafka,
        groupId,
        `Consumer of group "${groupId}" could not join again: ${errorLine(e)}`,
      )
    );
  }, wait);
}
