/**
 * Error classes. Each carries a `name` so callers can match on it without
 * `instanceof` across module copies.
 *
 * @module
 */

/**
 * Base class of every error this library throws on purpose.
 *
 * @example Telling this library's errors from others
 * ```ts
 * import { App, FaustError } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * // A bad setting throws a ConfigError, which is a FaustError.
 * assert.throws(() => new App("bad", { broker: "ftp://nowhere" }), FaustError);
 * ```
 */
export class FaustError extends Error {
  /** Create an error with an optional cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FaustError";
  }
}

/**
 * A setting, option or URL has a value that is not allowed.
 *
 * @example A setting with a value that is not allowed
 * ```ts
 * import { App, ConfigError } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => new App("bad", { broker: "ftp://nowhere" }),
 *   (error) => error instanceof ConfigError && /broker/.test(error.message),
 * );
 * ```
 */
export class ConfigError extends FaustError {
  /** Create a configuration error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/**
 * A table has no value for a key and no default.
 *
 * @example Reading a missing key of a table without a default
 * ```ts
 * import { KeyError } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("key-error");
 * const scores = app.table<string, number>("scores");
 * await app.start();
 * try {
 *   assert.throws(() => scores.get("nobody"), KeyError);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class KeyError extends FaustError {
  /** The key that was missing. */
  readonly key: unknown;
  /** Create a missing-key error for `key`. */
  constructor(key: unknown, table?: string) {
    super(
      table === undefined
        ? `Key not found: ${JSON.stringify(key)}`
        : `Key not found in table "${table}": ${JSON.stringify(key)}`,
    );
    this.name = "KeyError";
    this.key = key;
  }
}

/**
 * A message could not be decoded or did not match its schema.
 *
 * @example A value that does not match its model
 * ```ts
 * import { DecodeError, Record } from "@faust/faust";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * const Point = Record("Point", { x: z.number(), y: z.number() });
 * assert.throws(() => Point.parse({ x: "one" }), DecodeError);
 * ```
 */
export class DecodeError extends FaustError {
  /** Create a decode error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DecodeError";
  }
}

/**
 * An operation was attempted on something already closed or stopped.
 *
 * @example Matching by name, also across copies of the library
 * ```ts
 * import { ClosedError } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const error: unknown = new ClosedError("Cannot send: transport is stopped");
 * // `name` matches even when the error comes from another copy of the module.
 * assert.equal((error as Error).name, "ClosedError");
 * assert.ok(error instanceof ClosedError);
 * ```
 */
export class ClosedError extends FaustError {
  /** Create a closed error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClosedError";
  }
}

/**
 * An operation is not allowed in the current state (e.g. a table write outside an event).
 *
 * @example Writing to a table outside stream processing
 * ```ts
 * import { StateError } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("state-error");
 * const counts = app.table<string, number>("counts", { default: () => 0 });
 * await app.start();
 * try {
 *   // Tables change only while an agent processes an event.
 *   assert.throws(() => counts.set("a", 1), StateError);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class StateError extends FaustError {
  /** Create a state error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StateError";
  }
}

/**
 * Exactly-once: output of an event whose partition left this worker (revoked,
 * or its transactional id fenced by the new owner) while the event was in
 * hand. Its transaction never commits here; the new owner processes the
 * event again, so nothing is lost.
 *
 * @example Telling a lost partition from a failure
 * ```ts
 * import { PartitionRevokedError, StateError } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * function retryable(error: unknown): boolean {
 *   // The new owner of the partition processes the event again: nothing to do.
 *   return error instanceof PartitionRevokedError;
 * }
 * const error = new PartitionRevokedError("orders[3] was revoked");
 * assert.ok(retryable(error));
 * assert.ok(error instanceof StateError);
 * ```
 */
export class PartitionRevokedError extends StateError {
  /** Create the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PartitionRevokedError";
  }
}

/**
 * Another process already holds a resource (e.g. the consumer claim of a group).
 *
 * @example Matching a held resource
 * ```ts
 * import { FaustError, LockError } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const error = new LockError("Another process consumes group 'g' on this broker");
 * assert.ok(error instanceof FaustError);
 * assert.equal(error.name, "LockError");
 * ```
 */
export class LockError extends FaustError {
  /** Create a lock error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LockError";
  }
}

/**
 * A table key cannot be stored: its encoding is empty or longer than the
 * store's key limit. Thrown by `set()`/`update()`/`delete()` before
 * anything is written, so an agent can catch it and go on.
 *
 * @example An empty key is refused before anything is written
 * ```ts
 * import { TableKeyError } from "@faust/faust";
 * import { testApp, waitFor } from "@faust/faust/testing";
 *
 * const app = testApp("table-key-error");
 * const names = app.table<string, string>("names", { keyType: "string" });
 * const keys = app.topic("keys", { valueType: "string" });
 * const caught: TableKeyError[] = [];
 * app.agent(keys, async (stream) => {
 *   for await (const key of stream) {
 *     try {
 *       names.set(key, "x");
 *     } catch (error) {
 *       if (error instanceof TableKeyError) caught.push(error);
 *       else throw error;
 *     }
 *   }
 * }, { name: "namer" });
 * await app.start();
 * try {
 *   await keys.send({ value: "" });
 *   await waitFor(() => caught.length === 1, 5000, "the refused key");
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class TableKeyError extends FaustError {
  /** The table. */
  readonly table: string;
  /** Size of the encoded key, in bytes (window keys: with their window). */
  readonly size: number;
  /** Largest size accepted, in bytes. */
  readonly limit: number;
  /** Create the error for a key of `size` bytes in `table`. */
  constructor(table: string, size: number, limit: number, what = "key") {
    super(
      size === 0
        ? `Cannot store an empty ${what} in table "${table}": encoded keys must be 1 to ${limit} bytes`
        : `Cannot store a ${what} of ${size} bytes in table "${table}": encoded keys must be 1 to ${limit} bytes (the store's key limit)`,
    );
    this.name = "TableKeyError";
    this.table = table;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * An error on one line for logs of expected, transient failures (a broker
 * that is down): name and message, then each cause's, no stack.
 *
 * @param error Anything thrown.
 * @returns `"Name: message <- CauseName: cause message ..."`.
 */
export function errorLine(error: unknown): string {
  const parts: string[] = [];
  let err: unknown = error;
  for (let depth = 0; err !== undefined && err !== null && depth < 5; depth++) {
    if (err instanceof Error) {
      const message = err.message;
      // kafkajs repeats a cause's message in its wrapper: say it once.
      if (!parts.some((p) => p.includes(message))) {
        parts.push(`${err.name}: ${message}`);
      }
      err = err.cause;
    } else {
      parts.push(String(err));
      break;
    }
  }
  return parts.join(" <- ");
}
