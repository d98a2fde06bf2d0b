/**
 * What a changelog writer needs from the app, and how it batches.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { InFlight } from "../producer/inflight.ts";
import type {
  BatchListener,
  SendBinding,
  SendCounter,
} from "../producer/producer.ts";
import type {
  ProduceRecord,
  RecordMetadata,
  Transport,
} from "../transport/transport.ts";
import type { GenerationFence } from "./changelog_generation.ts";

/**
 * What the writer needs from the app.
 */
export interface ChangelogHost {
  /** Logger. */
  readonly log: Logger;
  /**
   * Append through the app's batching producer; `binding` (from
   * {@linkcode ChangelogHost.bindSend}) says where the record goes.
   */
  produce(
    record: ProduceRecord,
    binding?: SendBinding,
    counter?: SendCounter,
  ): Promise<RecordMetadata>;
  /**
   * Append records of one topic as one producer item with one outcome
   * (a commit's changes of one partition); without it, one `produce` each.
   */
  produceBatch?(
    records: readonly ProduceRecord[],
    binding: SendBinding | undefined,
    counter: SendCounter | undefined,
    listener: BatchListener,
  ): void;
  /**
   * Sends in progress (the app's): changelog appends count in it, so the
   * consumer holds delivery while too many wait for the broker, as for
   * topic sends. Without it appends are not counted.
   */
  readonly sends?: InFlight;
  /**
   * Where a record sent now would go (exactly-once: the transaction of the
   * current event's partition). The cache asks when a change is made and
   * appends to that target later.
   */
  bindSend?(): SendBinding;
  /** Stop the app: a change could not be made durable. */
  crash(error: Error): void;
  /** Reads records another worker appended (at-least-once repair); without it no repair is made. */
  readonly transport?: Pick<Transport, "read">;
  /**
   * The group generation of this worker's assignment (at-least-once
   * appends carry it, see `changelog_generation.ts`); `undefined` or absent:
   * appends are not stamped.
   */
  generation?(): number | undefined;
}

/** How a {@linkcode ChangelogWriter} batches and applies. */
export interface ChangelogWriterOptions {
  /** Apply acked changes only up to the last `ChangelogWriter.release` (exactly-once). */
  readonly held?: boolean;
  /** Keep the last change per key until `ChangelogWriter.stage` (the record cache). */
  readonly cache?: boolean;
  /** Bytes of cached keys and values above which the cache is appended early. @default 10 MiB */
  readonly cacheMaxBytes?: number;
  /** Told the generation of every stamped append (the table's replays share it). */
  readonly fence?: GenerationFence;
}
