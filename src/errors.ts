/**
 * Error classes. Each carries a `name` so callers can match on it without
 * `instanceof` across module copies.
 *
 * @module
 */

/** Base class of every error this library throws on purpose. */
export class FaustError extends Error {
  /** Create an error with an optional cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FaustError";
  }
}

/** A setting, option or URL has a value that is not allowed. */
export class ConfigError extends FaustError {
  /** Create a configuration error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** A table has no value for a key and no default. */
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

/** A message could not be decoded or did not match its schema. */
export class DecodeError extends FaustError {
  /** Create a decode error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DecodeError";
  }
}

/** An operation was attempted on something already closed or stopped. */
export class ClosedError extends FaustError {
  /** Create a closed error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClosedError";
  }
}

/** An operation is not allowed in the current state (e.g. a table write outside an event). */
export class StateError extends FaustError {
  /** Create a state error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StateError";
  }
}

/** Another process already holds a resource (e.g. the consumer claim of a group). */
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
