/**
 * The `local://[path]` transport: an embedded broker whose topics are
 * durable, partitioned, append-only logs in one LMDB environment, shared by
 * every process on the machine (`cli.ts send` in one terminal reaches the
 * worker in another; records sent while no worker runs wait for it).
 *
 * Layout of the broker directory (default `{datadir}/broker`):
 * - `broker.lmdb` (+ `broker.lmdb-lock`): the LMDB environment with the
 *   databases `records` (record chunks keyed by partition id and last
 *   offset, see local/codec.ts), `topics` (spec per topic), `marks`
 *   (high-water mark per partition), `groups` (committed offsets) and `seq`
 *   (partition id allocation). See local/env.ts.
 * - `doorbell`: truncated after each append; waiting consumers watch it
 *   (local/doorbell.ts), with a slow poll behind it.
 * - `groups/{groupId}.lock`: the consumer claim of a group, an exclusive
 *   flock that the kernel releases when its holder dies (local/claim.ts).
 *   A second consumer of the group fails fast with a `LockError`.
 * - `maintenance.lock`: held while one process runs retention/compaction
 *   (local/retention.ts).
 *
 * Each `send` call is one LMDB write transaction (LMDB has one writer at a
 * time across processes); so is each commit of an exactly-once transaction
 * (its records and consumer offsets, local/transactions.ts). Offsets are never reused; compaction and retention
 * leave gaps that reads skip. Retention and compaction run in the background
 * of the process that has a consumer, every `maintenanceInterval`
 * (local/settings.ts), or on demand with {@linkcode LocalTransport.maintain}.
 *
 * @module
 */
import { ClosedError, StateError } from "../errors.ts";
import type { TP } from "../util/types.ts";
import type {
  Consumer,
  ConsumerOptions,
  ProduceRecord,
  RecordMetadata,
  TopicSpec,
  TransactionalProducer,
  Transport,
  TransportOptions,
  TransportRecord,
} from "./transport.ts";
import { claimGroup, tryLockFile } from "./local/claim.ts";
import { LocalConsumer } from "./local/consumer.ts";
import { acquireEnv, type BrokerEnv, releaseEnv } from "./local/env.ts";
import * as log from "./local/log.ts";
import { type MaintenanceReport, runMaintenance } from "./local/retention.ts";
import { type LocalSettings, parseLocalUrl } from "./local/settings.ts";
import { LocalTransactionalProducer } from "./local/transactions.ts";

export type { MaintenanceReport } from "./local/retention.ts";
export type { LocalSettings } from "./local/settings.ts";

/** Run `fn`, turning a synchronous throw into a rejected promise. */
function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The embedded `local://` broker driver. */
export class LocalTransport implements Transport {
  /** Driver name. */
  readonly driver = "local";
  /** The URL it was created from. */
  readonly url: string;
  #options: TransportOptions;
  #settings: LocalSettings;
  #env: BrokerEnv | undefined;
  #stopped = false;
  #consumers = new Set<LocalConsumer>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #maintaining: Promise<MaintenanceReport | undefined> | undefined;

  /**
   * Create the driver; nothing is opened before {@linkcode start}.
   *
   * @param url `local://`, `local://PATH` or `local:///ABS/PATH`, with optional query settings.
   * @param options Transport options (`datadir` gives the default path).
   * @throws {ConfigError} For a bad URL or setting.
   */
  constructor(url: string, options: TransportOptions) {
    this.url = url;
    this.#options = options;
    this.#settings = parseLocalUrl(url, options);
  }

  /** Resolved settings (absolute broker directory, intervals). */
  get settings(): LocalSettings {
    return this.#settings;
  }

  /** Open (or share) the broker's environment; idempotent. */
  start(): Promise<void> {
    return attempt(() => {
      if (this.#stopped) throw this.#closedError("start");
      this.#env ??= acquireEnv(this.#settings.path, this.#settings.sync);
    });
  }

  /** Close consumers, stop maintenance and release the environment. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const c of [...this.#consumers]) await c.close();
    this.#stopTimer();
    await this.#maintaining;
    const env = this.#env;
    this.#env = undefined;
    if (env !== undefined) await releaseEnv(env);
  }

  #closedError(what: string): ClosedError {
    return new ClosedError(`Cannot ${what}: transport ${this.url} is stopped`);
  }

  #open(what: string): BrokerEnv {
    if (this.#stopped) throw this.#closedError(what);
    if (this.#env === undefined) {
      throw new StateError(
        `Cannot ${what}: transport ${this.url} is not started; call start() first`,
      );
    }
    return this.#env;
  }

  /** {@inheritDoc Transport.createTopic} */
  async createTopic(spec: TopicSpec): Promise<void> {
    return await log.createTopic(this.#open("create a topic"), spec);
  }

  /** {@inheritDoc Transport.partitionCount} */
  partitionCount(topic: string): Promise<number | undefined> {
    return attempt(() => {
      const env = this.#open("read topic metadata");
      env.root.resetReadTxn();
      return log.getTopic(env, topic)?.partitions;
    });
  }

  /** {@inheritDoc Transport.deleteTopic} */
  async deleteTopic(topic: string): Promise<void> {
    return await log.deleteTopic(this.#open("delete a topic"), topic);
  }

  /** {@inheritDoc Transport.send} */
  async send(records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    return await log.append(
      this.#open("send"),
      records,
      this.#options.defaultPartitions,
    );
  }

  #tpId(env: BrokerEnv, tp: TP): number | undefined {
    env.root.resetReadTxn();
    const meta = log.getTopic(env, tp.topic);
    if (
      meta === undefined || tp.partition < 0 || tp.partition >= meta.partitions
    ) return undefined;
    return meta.base + tp.partition;
  }

  /** {@inheritDoc Transport.highWatermark} (0 for a missing topic). */
  highWatermark(tp: TP): Promise<number> {
    return attempt(() => {
      const env = this.#open("read a high-water mark");
      const id = this.#tpId(env, tp);
      return id === undefined ? 0 : log.highWatermark(env, id);
    });
  }

  /** {@inheritDoc Transport.lowWatermark} (0 for a missing topic). */
  lowWatermark(tp: TP): Promise<number> {
    return attempt(() => {
      const env = this.#open("read a low watermark");
      const id = this.#tpId(env, tp);
      return id === undefined ? 0 : log.lowWatermark(env, id);
    });
  }

  /** {@inheritDoc Transport.read} */
  read(
    tp: TP,
    offset: number,
    maxRecords: number,
  ): Promise<TransportRecord[]> {
    return attempt(() => {
      const env = this.#open("read");
      const id = this.#tpId(env, tp);
      const out: TransportRecord[] = [];
      if (id !== undefined) {
        log.readInto(env, id, tp.topic, tp.partition, offset, maxRecords, out);
      }
      return out;
    });
  }

  /**
   * Create the group's consumer; its process then also runs retention and compaction.
   *
   * @param options Group id, listener, offset reset policy.
   * @returns The consumer.
   * @throws {LockError} When another consumer of the group holds its claim.
   */
  createConsumer(options: ConsumerOptions): Consumer {
    const env = this.#open("create a consumer");
    const claim = claimGroup(this.#settings.path, options.groupId, this.url);
    const consumer = new LocalConsumer({
      env,
      url: this.url,
      pollIntervalMs: this.#settings.pollIntervalMs,
      claim,
      onClose: (c) => {
        // A reply group is never claimed again: leave no lock file behind.
        if (options.ephemeral === true) {
          try {
            Deno.removeSync(claim.file);
          } catch {
            // Already gone.
          }
        }
        this.#consumers.delete(c);
        if (this.#consumers.size === 0) this.#stopTimer();
      },
    }, options);
    this.#consumers.add(consumer);
    this.#schedule();
    return consumer;
  }

  /**
   * A transaction for `processingGuarantee: "exactly_once"`: records and
   * consumer offsets staged in memory, written in one LMDB write
   * transaction at commit (see local/transactions.ts).
   *
   * @param transactionalId Its id (for messages; the group claim fences).
   * @returns The producer, with no open transaction.
   */
  createTransactionalProducer(
    transactionalId: string,
  ): Promise<TransactionalProducer> {
    return attempt(() =>
      new LocalTransactionalProducer({
        env: this.#open("create a transactional producer"),
        url: this.url,
        defaultPartitions: this.#options.defaultPartitions,
        check: (what) => void this.#open(what),
      }, transactionalId)
    );
  }

  /**
   * Run retention and compaction over every topic now.
   *
   * @returns What was removed, or `undefined` when another process is running maintenance.
   */
  async maintain(): Promise<MaintenanceReport | undefined> {
    const env = this.#open("run maintenance");
    this.#maintaining ??= (async () => {
      const lock = tryLockFile(`${this.#settings.path}/maintenance.lock`);
      if (lock === undefined) return undefined;
      try {
        return await runMaintenance(env, {
          tombstoneDelayMs: this.#settings.tombstoneDelayMs,
        });
      } finally {
        lock.release();
      }
    })().finally(() => this.#maintaining = undefined);
    return await this.#maintaining;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setTimeout(async () => {
      if (this.#stopped) return;
      try {
        await this.maintain();
      } catch (error) {
        // Maintenance never stops consumption; the next run retries.
        console.error(
          `local:// maintenance failed on ${this.#settings.path}:`,
          error,
        );
      }
      this.#timer = undefined;
      if (this.#consumers.size > 0) this.#schedule();
    }, this.#settings.maintenanceIntervalMs);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Create a `local://` transport (the factory the app loads lazily by scheme).
 *
 * @param url The broker URL.
 * @param options Transport options.
 * @returns The transport, not started.
 */
export function createLocalTransport(
  url: string,
  options: TransportOptions,
): LocalTransport {
  return new LocalTransport(url, options);
}
