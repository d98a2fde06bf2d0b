/**
 * The changelog half of the table write path: changes handed to the
 * producer, a commit's changes of one partition as batches with one outcome
 * each (no promise, handle or closure per change), acked changes passed on
 * to the store applier.
 *
 * @module
 */
import { PartitionRevokedError } from "../errors.ts";
import type { BatchListener, SendBinding } from "../producer/producer.ts";
import type { ProduceRecord, RecordMetadata } from "../transport/transport.ts";
import type { PendingWrite } from "./changelog_apply.ts";
import type { Change } from "./changelog_change.ts";
import { generationHeaders } from "./changelog_generation.ts";
import type { ChangelogHost } from "./changelog_host.ts";
import { logAppend } from "./changelog_repair.ts";

/** Records per producer item of a commit's appends. */
export const APPEND_BATCH = 1000;

/** What the append path reads and calls of its writer. */
export interface AppendContext {
  /** Table name (for messages). */
  readonly table: string;
  /** Changelog topic. */
  readonly topic: string;
  /** Exactly-once: changes wait for their release, records are not stamped. */
  readonly held: boolean;
  /** Whether every append is logged (debug level). */
  readonly debug: boolean;
  /** Producer, logger and counters. */
  readonly host: ChangelogHost;
  /** Number `changes` in append order and queue them for the store. */
  push(partition: number, changes: readonly Change[]): void;
  /** The generation this worker stamps on `partition` now, if any. */
  stamp(partition: number): number | undefined;
  /** Records stamped with `generation` were appended to `partition`. */
  saw(partition: number, generation: number): void;
  /** An own append landed at `offset` (repairs what others appended in between). */
  landed(partition: number, offset: number): void;
  /** `count` appends were acked (their `meta` set). */
  acked(count: number): void;
  /** Drop the waiting changes of `partition` that `match`. */
  forget(partition: number, match: (w: PendingWrite) => boolean): void;
  /** An append failed: the table's changes are not durable. */
  fail(error: unknown): void;
}

/**
 * Hand `changes` (of one partition) to the producer: in items of up to
 * {@linkcode APPEND_BATCH} records with one outcome each when the host can
 * (a commit appends one record per changed key), else one by one.
 *
 * @param ctx The writer.
 * @param partition Changelog partition.
 * @param changes The changes, in order.
 * @param binding Where they go (exactly-once: the transaction chosen when
 *   they were made).
 */
export function appendChanges(
  ctx: AppendContext,
  partition: number,
  changes: Change[],
  binding: SendBinding | undefined,
): void {
  // At-least-once: stamped with this worker's generation, so replays can
  // tell its records from those of a worker that lost the partition.
  const generation = ctx.held ? undefined : ctx.stamp(partition);
  let headers;
  if (generation !== undefined) {
    headers = generationHeaders(generation);
    ctx.saw(partition, generation);
  }
  ctx.push(partition, changes);
  if (headers !== undefined) {
    for (let i = 0; i < changes.length; i++) changes[i]!.headers = headers;
  }
  // Each change is its own record (topic, partition, key, value, headers;
  // `headers` is undefined, not absent, when there are none: every reader
  // of a record tests `headers !== undefined`).
  const records = changes as unknown as readonly ProduceRecord[];
  // Counted until acked: without that, a table written faster than the
  // broker acknowledges (record cache off) queued every pending append
  // in memory (766 MB peak for 200k updates on kafka://).
  const host = ctx.host;
  const sends = host.sends;
  if (sends !== undefined) {
    for (let i = 0; i < records.length; i++) sends.begin();
  }
  if (host.produceBatch === undefined) {
    for (let i = 0; i < changes.length; i++) {
      const listener = new AppendOutcome(
        ctx,
        partition,
        [changes[i]!],
        generation,
      );
      host.produce(records[i]!, binding, sends).then(
        (meta) => listener.sent([meta], 0),
        (error) => listener.failed(error),
      );
    }
    return;
  }
  if (changes.length <= APPEND_BATCH) {
    const listener = new AppendOutcome(ctx, partition, changes, generation);
    host.produceBatch(records, binding, sends, listener);
    return;
  }
  for (let from = 0; from < changes.length; from += APPEND_BATCH) {
    const to = Math.min(changes.length, from + APPEND_BATCH);
    host.produceBatch(
      changes.slice(from, to) as unknown as readonly ProduceRecord[],
      binding,
      sends,
      new AppendOutcome(ctx, partition, changes.slice(from, to), generation),
    );
  }
}

/**
 * What the outcome of appending `changes` does: one object per producer
 * item (with the record cache off, one per change, alive until its ack:
 * an object literal with two closures was four).
 */
class AppendOutcome implements BatchListener {
  constructor(
    readonly ctx: AppendContext,
    readonly partition: number,
    readonly changes: Change[],
    readonly generation: number | undefined,
  ) {}

  sent(metas: readonly RecordMetadata[], from: number): void {
    const { ctx, partition, changes } = this;
    for (let i = 0; i < changes.length; i++) {
      const e = changes[i]!;
      const meta = metas[from + i]!;
      if (ctx.debug) {
        logAppend(
          { table: ctx.table, topic: ctx.topic, log: ctx.host.log },
          partition,
          meta.offset,
          e.key,
          e.value,
          this.generation,
        );
      }
      if (ctx.held) e.meta = meta;
      else {
        e.landedAt(meta.offset);
        ctx.landed(partition, meta.offset);
      }
    }
    ctx.acked(changes.length);
  }

  failed(error: unknown): void {
    const { ctx, partition, changes } = this;
    // Exactly-once, partition gone while its event was in hand, or its
    // transaction failed (e.g. the broker unreachable too long): the
    // changes belong to a transaction that never commits here (the new
    // owner, or this worker after the restart, redoes them). Forget them
    // instead of failing the table.
    if (ctx.held && error instanceof PartitionRevokedError) {
      const gone = new Set<PendingWrite>(changes);
      ctx.forget(partition, (x) => gone.has(x));
    } else ctx.fail(error);
  }
}
