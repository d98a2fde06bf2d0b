/**
 * Checks of a table's name and options at creation, and of where a
 * table write may happen.
 *
 * @module
 */
import { actorContext } from "../delivery/actor_context.ts";
import { ConfigError, StateError, TableKeyError } from "../errors.ts";
import type { TableOptions } from "./api.ts";
import { MAX_STORE_KEY_BYTES } from "./memory_store.ts";

const NAME = /^[a-zA-Z0-9._-]+$/;

function positiveInt(table: string, name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
    throw new ConfigError(
      `Invalid option "${name}" of table "${table}": ${v}; expected an integer >= 1`,
    );
  }
}

/**
 * Throw for an invalid table name or option.
 *
 * @param name Table name (letters, digits, `.`, `_`, `-`).
 * @param options Its options.
 * @throws {ConfigError} Naming the table, the option and what is accepted.
 */
export function checkTableOptions<K, V>(
  name: string,
  options: TableOptions<K, V>,
): void {
  if (!NAME.test(name)) {
    throw new ConfigError(
      `Invalid table name ${
        JSON.stringify(name)
      }: use letters, digits, ".", "_" and "-"`,
    );
  }
  positiveInt(name, "partitions", options.partitions);
  positiveInt(name, "recoveryBufferSize", options.recoveryBufferSize);
  positiveInt(name, "standbyBufferSize", options.standbyBufferSize);
  if (
    options.changelogCache !== undefined &&
    typeof options.changelogCache !== "boolean"
  ) {
    throw new ConfigError(
      `Invalid option "changelogCache" of table "${name}": ${
        JSON.stringify(options.changelogCache)
      }; expected true or false`,
    );
  }
}

/**
 * The partition of the current event, checking that a write is allowed:
 * inside an agent of concurrency 1 processing an event whose partition the
 * changelog has, with the table open.
 *
 * @param table Table name.
 * @param what The operation (for the error).
 * @param partitions The changelog's partition count.
 * @param changelog The changelog topic.
 * @param open Whether the table is open.
 * @returns The changelog partition to write.
 * @throws {StateError} Saying why the write is not allowed.
 */
export function writePartitionOf(
  table: string,
  what: string,
  partitions: number,
  changelog: string,
  open: boolean,
): number {
  const ctx = actorContext();
  if (ctx?.event === undefined) {
    throw new StateError(
      `Cannot ${what} table "${table}" outside of stream processing: tables change only while an agent processes an event (its partition is the changelog partition)`,
    );
  }
  if (ctx.concurrency > 1) {
    throw new StateError(
      `Cannot ${what} table "${table}" from agent "${ctx.agent}" with concurrency ${ctx.concurrency}: only agents with concurrency 1 may change tables`,
    );
  }
  const p = ctx.event.partition;
  if (p >= partitions) {
    throw new StateError(
      `Cannot ${what} table "${table}" from ${ctx.event.topic}[${p}]: the changelog "${changelog}" has ${partitions} partitions; give the table (option "partitions") as many partitions as its source topics`,
    );
  }
  if (!open) {
    throw new StateError(
      `Cannot ${what} table "${table}": the table is not open (start the app first)`,
    );
  }
  return p;
}

/**
 * Throw {@linkcode TableKeyError} when a store key of `size` bytes cannot be
 * stored (checked before the changelog is written: a record the store
 * rejects must never reach the changelog).
 *
 * @param table Table name.
 * @param size Bytes of the store key.
 * @param what What the key is (for the error).
 * @throws {TableKeyError} When empty or over the store's limit.
 */
export function checkStoreKey(table: string, size: number, what: string): void {
  if (size === 0 || size > MAX_STORE_KEY_BYTES) {
    throw new TableKeyError(table, size, MAX_STORE_KEY_BYTES, what);
  }
}
