/**
 * The `memory://` transport: partitioned logs in this process's memory.
 *
 * `memory://` is private to the transport that opened it; `memory://NAME`
 * names a broker that every app of this process opening the same URL shares
 * (used to restart an app in a test with its topics and commits kept).
 * Nothing survives the process.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { type TP, tpKey } from "../util/types.ts";
import type {
  CommitOffset,
  Consumer,
  ConsumerOptions,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  Transport,
  TransportOptions,
  TransportRecord,
} from "./transport.ts";

interface MemoryTopic {
  spec: TopicSpec;
  logs: TransportRecord[][];
}

/** The shared state behind one `memory://` URL. */
class MemoryBroker {
  readonly topics = new Map<string, MemoryTopic>();
  readonly commits = new Map<string, Map<string, number>>();
  readonly #waiters = new Set<() => void>();

  topic(name: string): MemoryTopic | undefined {
    return this.topics.get(name);
  }

  create(spec: TopicSpec): MemoryTopic {
    const existing = this.topics.get(spec.name);
    if (existing !== undefined) {
      if (existing.spec.partitions !== spec.partitions) {
        throw new ConfigError(
          `Topic "${spec.name}" already exists with ${existing.spec.partitions} partitions; declared with ${spec.partitions}`,
        );
      }
      return existing;
    }
    const t: MemoryTopic = {
      spec,
      logs: Array.from({ length: spec.partitions }, () => []),
    };
    this.topics.set(spec.name, t);
    return t;
  }

  /** Resolves on the next append, or never; the caller races it with a timeout. */
  waitForAppend(): { promise: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => wake = resolve);
    this.#waiters.add(wake);
    return { promise, cancel: () => this.#waiters.delete(wake) };
  }

  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}

const named = new Map<string, MemoryBroker>();

/**
 * A `memory://` transport.
 *
 * @example Two apps on one named in-memory broker
 * ```ts
 * import { App } from "@faust/faust";
 * import { MemoryTransport } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * // Apps on the same memory:// URL share a broker within the process.
 * const transport = new MemoryTransport("memory://shared", { defaultPartitions: 1 });
 * await transport.start();
 * const app = new App("reader", { broker: "memory://shared", store: "memory://" });
 * const news = app.topic("news", { valueType: "string" });
 * await app.start();
 * try {
 *   await news.send({ value: "hello" });
 *   const end = await transport.highWatermark({ topic: "news", partition: 0 });
 *   assert.equal(end, 1);
 * } finally {
 *   await app.stop();
 *   await transport.stop();
 * }
 * ```
 */
export class MemoryTransport implements Transport {
  /** Driver name. */
  readonly driver = "memory";
  /** URL this transport was made from. */
  readonly url: string;
  readonly #broker: MemoryBroker;
  readonly #defaultPartitions: number;
  readonly #consumers = new Set<MemoryConsumer>();

  /** Open the broker named by `url` (`memory://` or `memory://NAME`). */
  constructor(
    url: string,
    options: Pick<TransportOptions, "defaultPartitions">,
  ) {
    this.url = url;
    this.#defaultPartitions = options.defaultPartitions;
    const name = url.slice("memory://".length);
    if (name === "") {
      this.#broker = new MemoryBroker();
    } else {
      let b = named.get(name);
      if (b === undefined) named.set(name, b = new MemoryBroker());
      this.#broker = b;
    }
  }

  /** Nothing to open. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Close consumers. */
  async stop(): Promise<void> {
    for (const c of [...this.#consumers]) await c.close();
  }

  /** Create a topic if missing. */
  createTopic(spec: TopicSpec): Promise<void> {
    try {
      this.#broker.create(spec);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Partition count or undefined. */
  partitionCount(topic: string): Promise<number | undefined> {
    return Promise.resolve(this.#broker.topic(topic)?.spec.partitions);
  }

  /** Remove a topic. */
  deleteTopic(topic: string): Promise<void> {
    this.#broker.topics.delete(topic);
    return Promise.resolve();
  }

  /** Append records. */
  send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    try {
      return Promise.resolve(this.#append(records));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #append(records: readonly ProduceRecord[]): RecordMetadata[] {
    const out: RecordMetadata[] = [];
    const now = Date.now();
    for (const r of records) {
      const t = this.#broker.topic(r.topic) ??
        this.#broker.create({
          name: r.topic,
          partitions: this.#defaultPartitions,
        });
      const log = t.logs[r.partition];
      if (log === undefined) {
        throw new ConfigError(
          `Cannot send to topic "${r.topic}" partition ${r.partition}: the topic has ${t.spec.partitions} partitions (0-${
            t.spec.partitions - 1
          })`,
        );
      }
      const offset = log.length;
      const timestamp = r.timestamp ?? now;
      log.push({
        topic: r.topic,
        partition: r.partition,
        offset,
        key: r.key,
        value: r.value,
        headers: r.headers ?? {},
        timestamp,
      });
      out.push({ topic: r.topic, partition: r.partition, offset, timestamp });
    }
    if (records.length > 0) this.#broker.notify();
    return out;
  }

  /** Next offset of a partition. */
  highWatermark(tp: TP): Promise<number> {
    return Promise.resolve(this.#log(tp)?.length ?? 0);
  }

  /** First offset of a partition (memory never trims). */
  lowWatermark(_tp: TP): Promise<number> {
    return Promise.resolve(0);
  }

  /** Read a partition from an offset. */
  read(tp: TP, offset: number, maxRecords: number): Promise<TransportRecord[]> {
    const log = this.#log(tp) ?? [];
    return Promise.resolve(
      log.slice(Math.max(0, offset), Math.max(0, offset) + maxRecords),
    );
  }

  /** Create the group consumer. */
  createConsumer(options: ConsumerOptions): Consumer {
    const c = new MemoryConsumer(
      this.#broker,
      options,
      this.#defaultPartitions,
      (x) => this.#consumers.delete(x),
    );
    this.#consumers.add(c);
    return c;
  }

  #log(tp: TP): TransportRecord[] | undefined {
    return this.#broker.topic(tp.topic)?.logs[tp.partition];
  }
}

class MemoryConsumer implements Consumer {
  readonly #broker: MemoryBroker;
  readonly #options: ConsumerOptions;
  readonly #onClose: (c: MemoryConsumer) => void;
  readonly #positions = new Map<string, { tp: TP; offset: number }>();
  readonly #paused = new Set<string>();
  #topics: string[] = [];
  #rr = 0;
  #closed = false;

  readonly #defaultPartitions: number;

  constructor(
    broker: MemoryBroker,
    options: ConsumerOptions,
    defaultPartitions: number,
    onClose: (c: MemoryConsumer) => void,
  ) {
    this.#broker = broker;
    this.#defaultPartitions = defaultPartitions;
    this.#options = options;
    this.#onClose = onClose;
  }

  get #commits(): Map<string, number> {
    let m = this.#broker.commits.get(this.#options.groupId);
    if (m === undefined) {
      this.#broker.commits.set(this.#options.groupId, m = new Map());
    }
    return m;
  }

  async subscribe(topics: readonly string[]): Promise<void> {
    this.#topics = [...new Set(topics)];
    await this.#rebalance();
  }

  async #rebalance(): Promise<void> {
    const wanted = new Map<string, TP>();
    for (const name of this.#topics) {
      const t = this.#broker.topic(name) ??
        this.#broker.create({ name, partitions: this.#defaultPartitions });
      for (let p = 0; p < t.spec.partitions; p++) {
        const tp = { topic: name, partition: p };
        wanted.set(tpKey(tp), tp);
      }
    }
    const revoked = [...this.#positions.entries()]
      .filter(([k]) => !wanted.has(k)).map(([, v]) => v.tp);
    if (revoked.length > 0) {
      await this.#options.listener.onPartitionsRevoked(revoked);
      for (const tp of revoked) this.#positions.delete(tpKey(tp));
    }
    const assigned: TP[] = [];
    for (const [k, tp] of wanted) {
      if (this.#positions.has(k)) continue;
      const committed = this.#commits.get(k);
      const hw = this.#broker.topic(tp.topic)?.logs[tp.partition]?.length ?? 0;
      const start = committed ??
        (this.#options.autoOffsetReset === "latest" ? hw : 0);
      this.#positions.set(k, { tp, offset: start });
      assigned.push(tp);
    }
    if (assigned.length > 0 || revoked.length > 0) {
      await this.#options.listener.onPartitionsAssigned(this.assignment(), []);
    }
  }

  async poll(
    maxRecords: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<TransportRecord[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed && !(signal?.aborted ?? false)) {
      const out = this.#take(maxRecords);
      if (out.length > 0) return out;
      const left = deadline - Date.now();
      if (left <= 0) break;
      const wait = this.#broker.waitForAppend();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onAbort: (() => void) | undefined;
      await Promise.race([
        wait.promise,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
          if (signal !== undefined) {
            onAbort = () => resolve();
            signal.addEventListener("abort", onAbort, { once: true });
          }
        }),
      ]);
      wait.cancel();
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    }
    return [];
  }

  #take(maxRecords: number): TransportRecord[] {
    const out: TransportRecord[] = [];
    const entries = [...this.#positions.entries()];
    const n = entries.length;
    if (n === 0) return out;
    // Round-robin over partitions so one busy partition cannot starve others.
    this.#rr = (this.#rr + 1) % n;
    for (let i = 0; i < n && out.length < maxRecords; i++) {
      const [k, pos] = entries[(this.#rr + i) % n]!;
      if (this.#paused.has(k)) continue;
      const log = this.#broker.topic(pos.tp.topic)?.logs[pos.tp.partition];
      if (log === undefined) continue;
      const end = Math.min(log.length, pos.offset + (maxRecords - out.length));
      for (let o = pos.offset; o < end; o++) out.push(log[o]!);
      pos.offset = Math.max(pos.offset, end);
    }
    return out;
  }

  commit(offsets: readonly CommitOffset[]): Promise<void> {
    for (const o of offsets) {
      const k = tpKey(o);
      if (!this.#positions.has(k)) {
        return Promise.reject(
          new ConfigError(
            `Cannot commit ${o.topic}[${o.partition}]: the partition is not assigned to this consumer`,
          ),
        );
      }
    }
    for (const o of offsets) this.#commits.set(tpKey(o), o.offset);
    return Promise.resolve();
  }

  committed(tps: readonly TP[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const tp of tps) {
      const v = this.#commits.get(tpKey(tp));
      if (v !== undefined) out.set(tpKey(tp), v);
    }
    return Promise.resolve(out);
  }

  seek(tp: TP, offset: number): void {
    const pos = this.#positions.get(tpKey(tp));
    if (pos === undefined) {
      throw new ConfigError(
        `Cannot seek ${tp.topic}[${tp.partition}]: the partition is not assigned to this consumer`,
      );
    }
    pos.offset = offset;
    this.#broker.notify();
  }

  pause(tps: readonly TP[]): void {
    for (const tp of tps) this.#paused.add(tpKey(tp));
  }

  resume(tps: readonly TP[]): void {
    for (const tp of tps) this.#paused.delete(tpKey(tp));
    this.#broker.notify();
  }

  assignment(): TP[] {
    return [...this.#positions.values()].map((p) => p.tp);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#onClose(this);
      this.#broker.notify();
    }
    return Promise.resolve();
  }
}
