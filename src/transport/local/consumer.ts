/**
 * The group consumer of the `local://` broker. A group has one consumer
 * process (see claim.ts), so the single member is assigned every partition
 * of its subscribed topics; topics that appear later (auto-created by a
 * producer in any process) are assigned when `poll` notices them.
 *
 * `onPartitionsAssigned` receives the partitions newly assigned by that
 * change (all of them on the first `subscribe`); `onPartitionsRevoked` the
 * partitions of topics removed by a later `subscribe`.
 *
 * @module
 */
import { ClosedError, StateError } from "../../errors.ts";
import { type TP, tpKey, tpString } from "../../util/types.ts";
import type {
  CommitOffset,
  Consumer,
  ConsumerOptions,
  TransportRecord,
} from "../transport.ts";
import type { Claim } from "./claim.ts";
import type { BrokerEnv } from "./env.ts";
import { getTopic, highWatermark, lowWatermark, readInto } from "./log.ts";

interface Assigned {
  readonly tp: TP;
  readonly tpId: number;
  position: number;
  paused: boolean;
}

/** What a {@linkcode LocalConsumer} needs from its transport. */
export interface LocalConsumerContext {
  /** Shared environment. */
  readonly env: BrokerEnv;
  /** Broker URL, for messages. */
  readonly url: string;
  /** Slow fallback poll, in milliseconds. */
  readonly pollIntervalMs: number;
  /** The group's claim, released on close. */
  readonly claim: Claim;
  /** Called once the consumer is closed. */
  readonly onClose: (consumer: LocalConsumer) => void;
}

/** A group consumer on a `local://` broker. */
export class LocalConsumer implements Consumer {
  #ctx: LocalConsumerContext;
  #options: ConsumerOptions;
  #topics: string[] = [];
  #assigned = new Map<string, Assigned>();
  #rotation = 0;
  #closed = false;

  /**
   * Create a consumer; the transport has already taken the group's claim.
   *
   * @param ctx Environment, claim and settings from the transport.
   * @param options Group id, listener and offset reset policy.
   */
  constructor(ctx: LocalConsumerContext, options: ConsumerOptions) {
    this.#ctx = ctx;
    this.#options = options;
    ctx.env.doorbell.watch();
  }

  #check(what: string): void {
    if (this.#closed) {
      throw new ClosedError(
        `Cannot ${what}: the consumer of group "${this.#options.groupId}" on ${this.#ctx.url} is closed`,
      );
    }
  }

  /** {@inheritDoc Consumer.subscribe} */
  async subscribe(topics: readonly string[]): Promise<void> {
    this.#check("subscribe");
    const wanted = new Set(topics);
    const revoked = [...this.#assigned.values()].filter((a) =>
      !wanted.has(a.tp.topic)
    );
    if (revoked.length > 0) {
      await this.#options.listener.onPartitionsRevoked(
        revoked.map((a) => a.tp),
      );
      for (const a of revoked) this.#assigned.delete(tpKey(a.tp));
    }
    this.#topics = [...wanted];
    await this.#assignNew(true);
  }

  /** Assign partitions of subscribed topics that exist now and are not assigned yet. */
  async #assignNew(always: boolean): Promise<void> {
    const { env } = this.#ctx;
    const fresh: Assigned[] = [];
    for (const topic of this.#topics) {
      const meta = getTopic(env, topic);
      if (meta === undefined) continue;
      for (let partition = 0; partition < meta.partitions; partition++) {
        const tp = { topic, partition };
        if (this.#assigned.has(tpKey(tp))) continue;
        const tpId = meta.base + partition;
        const committed = env.groups.get([
          this.#options.groupId,
          topic,
          partition,
        ]);
        const position = committed ??
          (this.#options.autoOffsetReset === "latest"
            ? highWatermark(env, tpId)
            : lowWatermark(env, tpId));
        fresh.push({ tp, tpId, position, paused: false });
      }
    }
    for (const a of fresh) this.#assigned.set(tpKey(a.tp), a);
    if (fresh.length > 0 || always) {
      await this.#options.listener.onPartitionsAssigned(
        fresh.map((a) => a.tp),
        [],
      );
    }
  }

  #missingTopics(): boolean {
    const seen = new Set<string>();
    for (const a of this.#assigned.values()) seen.add(a.tp.topic);
    return this.#topics.some((t) => !seen.has(t));
  }

  #fetch(max: number): TransportRecord[] {
    const out: TransportRecord[] = [];
    const active = [...this.#assigned.values()].filter((a) => !a.paused);
    if (active.length === 0) return out;
    // Another process may have committed since our read snapshot was taken.
    this.#ctx.env.root.resetReadTxn();
    const start = this.#rotation++ % active.length;
    for (let i = 0; i < active.length && out.length < max; i++) {
      const a = active[(start + i) % active.length]!;
      // Nothing new (the usual case for all but one partition of a wake-up):
      // one read of the high-water mark instead of a range scan and its keys.
      if (a.position >= highWatermark(this.#ctx.env, a.tpId)) continue;
      const last = readInto(
        this.#ctx.env,
        a.tpId,
        a.tp.topic,
        a.tp.partition,
        a.position,
        max,
        out,
      );
      if (last >= 0) a.position = last + 1;
    }
    return out;
  }

  /** {@inheritDoc Consumer.poll} */
  async poll(
    maxRecords: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TransportRecord[]> {
    this.#check("poll");
    const { doorbell } = this.#ctx.env;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const generation = doorbell.generation;
      if (this.#missingTopics()) {
        this.#ctx.env.root.resetReadTxn();
        await this.#assignNew(false);
      }
      if (this.#closed || signal?.aborted) return [];
      const records = this.#fetch(Math.max(1, maxRecords));
      if (records.length > 0) return records;
      const left = deadline - performance.now();
      if (left <= 0) return [];
      await doorbell.wait(
        generation,
        Math.min(left, this.#ctx.pollIntervalMs),
        signal,
      );
    }
  }

  #get(tp: TP, what: string): Assigned {
    const a = this.#assigned.get(tpKey(tp));
    if (a === undefined) {
      throw new StateError(
        `Cannot ${what} ${
          tpString(tp)
        }: the partition is not assigned to the consumer of group ` +
          `"${this.#options.groupId}" (assigned: ${
            this.assignment().map(tpString).join(", ") || "none"
          })`,
      );
    }
    return a;
  }

  /** {@inheritDoc Consumer.commit} */
  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    this.#check("commit");
    for (const o of offsets) {
      this.#get(o, "commit");
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new RangeError(
          `Cannot commit offset ${o.offset} for ${
            tpString(o)
          }: expected an integer >= 0`,
        );
      }
    }
    if (offsets.length === 0) return;
    const { env } = this.#ctx;
    const group = this.#options.groupId;
    await env.root.transaction(() => {
      for (const o of offsets) {
        env.groups.putSync([group, o.topic, o.partition], o.offset);
      }
    });
  }

  /** {@inheritDoc Consumer.committed} */
  committed(tps: readonly TP[]): Promise<Map<string, number>> {
    this.#check("read committed offsets");
    const { env } = this.#ctx;
    env.root.resetReadTxn();
    const out = new Map<string, number>();
    for (const tp of tps) {
      const offset = env.groups.get([
        this.#options.groupId,
        tp.topic,
        tp.partition,
      ]);
      if (offset !== undefined) out.set(tpKey(tp), offset);
    }
    return Promise.resolve(out);
  }

  /** {@inheritDoc Consumer.seek} */
  seek(tp: TP, offset: number): void {
    this.#check("seek");
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(
        `Cannot seek ${tpString(tp)} to ${offset}: expected an integer >= 0`,
      );
    }
    this.#get(tp, "seek").position = offset;
    this.#ctx.env.doorbell.notifyLocal();
  }

  /** {@inheritDoc Consumer.pause} */
  pause(tps: readonly TP[]): void {
    for (const tp of tps) {
      const a = this.#assigned.get(tpKey(tp));
      if (a !== undefined) a.paused = true;
    }
  }

  /** {@inheritDoc Consumer.resume} */
  resume(tps: readonly TP[]): void {
    for (const tp of tps) {
      const a = this.#assigned.get(tpKey(tp));
      if (a !== undefined) a.paused = false;
    }
    this.#ctx.env.doorbell.notifyLocal();
  }

  /** {@inheritDoc Consumer.assignment} */
  assignment(): TP[] {
    return [...this.#assigned.values()].map((a) => a.tp);
  }

  /** {@inheritDoc Consumer.close} */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#assigned.clear();
    this.#ctx.claim.release();
    this.#ctx.env.doorbell.notifyLocal();
    await this.#ctx.env.doorbell.unwatch();
    this.#ctx.onClose(this);
  }
}
