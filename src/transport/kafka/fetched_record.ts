/**
 * A fetched Kafka record that reads its fields from the response bytes
 * when they are asked for. kafkajs 2.2.4 makes, for every record of a
 * fetch response, a message object, a `Buffer` each for key and value,
 * an object of headers, offset and timestamp strings (through its BigInt
 * `Long`) and a `Decoder` with a `Buffer` of the record: made for the whole
 * response at once, all of it outlives V8's young-generation collections
 * and is moved to the old generation, which grows to several times the live
 * data before it is collected. A `FetchedRecord` is one object holding the
 * response buffer, the record's position, and its offset and timestamp as
 * numbers; `key`, `value`, `headers`, `offset` and `timestamp` read as
 * kafkajs' own fields do (same types, same values), made on access, and the
 * transport turns it into its own record without any of them
 * ({@linkcode FetchedRecord.toTransportRecord}).
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { RawHeaders } from "../../util/types.ts";
import type { TransportRecord } from "../records.ts";

/** The batch fields kafkajs gives every record of a batch (`batchContext`). */
export interface BatchContext {
  readonly firstOffset: string;
  readonly firstTimestamp: string;
  readonly partitionLeaderEpoch: number;
  readonly inTransaction: boolean;
  readonly isControlBatch: boolean;
  readonly lastOffsetDelta: number;
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly maxTimestamp: string;
  readonly timestampType: number;
  readonly magicByte: number;
}

/** A header value as kafkajs gives it: bytes, null, or the values of a repeated name. */
type HeaderValue = Buffer | null | (Buffer | null)[];

/** The headers of every record that has none (shared: never written to). */
const NO_HEADERS: RawHeaders = Object.freeze({});

/**
 * A zigzag varint at `at` as kafkajs' `Decoder.readVarInt` reads it, and
 * the position after it (in `cursor.at`).
 */
export function readVarInt(buf: Uint8Array, cursor: { at: number }): number {
  let at = cursor.at;
  let result = 0;
  let i = 0;
  let b: number;
  do {
    b = buf[at++]!;
    result += (b & 0x7f) << i;
    i += 7;
  } while (b >= 0x80);
  cursor.at = at;
  return (result >>> 1) ^ -(result & 1);
}

/** The read position of the accessors, reused (they are synchronous and never nest). */
const CURSOR = { at: 0 };

/** A fetched record: kafkajs' message fields, read from the bytes on access. */
export class FetchedRecord {
  /** kafkajs' record attributes (unused by Kafka today). */
  readonly attributes: number;
  /** Whether the record is a control record (kafkajs drops these; a filter may set it). */
  isControlRecord: boolean;
  /** The fields of the record's batch, shared by its records. */
  readonly batchContext: BatchContext;
  readonly #buf: Buffer;
  /** Position of the key's length in `#buf`. */
  readonly #at: number;
  readonly #offset: number;
  readonly #timestamp: number;
  #headers: Record<string, HeaderValue> | undefined = undefined;

  constructor(
    buf: Buffer,
    at: number,
    attributes: number,
    offset: number,
    timestamp: number,
    batchContext: BatchContext,
  ) {
    this.#buf = buf;
    this.#at = at;
    this.attributes = attributes;
    this.#offset = offset;
    this.#timestamp = timestamp;
    this.batchContext = batchContext;
    this.isControlRecord = batchContext.isControlBatch;
  }

  /** The batch's magic byte (2). */
  get magicByte(): number {
    return this.batchContext.magicByte;
  }

  /** The offset, as kafkajs gives it (a decimal string). */
  get offset(): string {
    return String(this.#offset);
  }

  /** The timestamp in ms, as kafkajs gives it (a decimal string). */
  get timestamp(): string {
    return String(this.#timestamp);
  }

  /** The key, a view of the response bytes (null for none). */
  get key(): Buffer | null {
    return this.#slice(0);
  }

  /** The value, a view of the response bytes (null for none). */
  get value(): Buffer | null {
    return this.#slice(1);
  }

  /** The headers as kafkajs gives them (a repeated name: an array of its values). */
  get headers(): Record<string, HeaderValue> {
    if (this.#headers === undefined) this.#headers = this.#readHeaders();
    return this.#headers;
  }

  /** This record as a transport record (plain views of the bytes, last header value wins). */
  toTransportRecord(topic: string, partition: number): TransportRecord {
    const buf = this.#buf;
    const cursor = CURSOR;
    cursor.at = this.#at;
    const key = this.#view(cursor);
    const value = this.#view(cursor);
    let headers = NO_HEADERS;
    if (this.#headers !== undefined) {
      headers = lastValues(this.#headers);
    } else {
      const n = readVarInt(buf, cursor);
      if (n > 0) {
        const out: RawHeaders = {};
        for (let i = 0; i < n; i++) {
          const name = this.#string(cursor);
          const v = this.#view(cursor);
          if (v === null) delete out[name];
          else defineOwn(out, name, v);
        }
        headers = out;
      }
    }
    return {
      topic,
      partition,
      offset: this.#offset,
      key,
      value,
      headers,
      timestamp: this.#timestamp,
    };
  }

  /** The `n`th length-prefixed field from the key on (0: key, 1: value), as kafkajs slices it. */
  #slice(n: number): Buffer | null {
    const cursor = CURSOR;
    cursor.at = this.#at;
    let length = 0;
    for (let i = 0; i <= n; i++) {
      if (length > 0) cursor.at += length;
      length = readVarInt(this.#buf, cursor);
    }
    return length === -1
      ? null
      : this.#buf.slice(cursor.at, cursor.at + length);
  }

  /** The next field as a plain view (null for none), moving the cursor past it. */
  #view(cursor: { at: number }): Uint8Array | null {
    const length = readVarInt(this.#buf, cursor);
    if (length === -1) return null;
    const b = this.#buf;
    const view = new Uint8Array(b.buffer, b.byteOffset + cursor.at, length);
    cursor.at += length;
    return view;
  }

  /** The next field as UTF-8 text ("null" for none, as kafkajs' object key). */
  #string(cursor: { at: number }): string {
    const length = readVarInt(this.#buf, cursor);
    if (length === -1) return "null";
    const s = this.#buf.toString("utf8", cursor.at, cursor.at + length);
    cursor.at += length;
    return s;
  }

  #readHeaders(): Record<string, HeaderValue> {
    const cursor = CURSOR;
    cursor.at = this.#at;
    for (let i = 0; i < 2; i++) {
      const length = readVarInt(this.#buf, cursor);
      if (length > 0) cursor.at += length;
    }
    const out: Record<string, HeaderValue> = {};
    const n = readVarInt(this.#buf, cursor);
    for (let i = 0; i < n; i++) {
      const name = this.#string(cursor);
      const length = readVarInt(this.#buf, cursor);
      const v = length === -1
        ? null
        : this.#buf.slice(cursor.at, cursor.at + length);
      if (length > 0) cursor.at += length;
      const had = Object.hasOwn(out, name) ? out[name] : undefined;
      defineOwn(
        out,
        name,
        had === undefined ? v : Array.isArray(had) ? had.concat([v]) : [had, v],
      );
    }
    return out;
  }
}

/** Set an own property, even one named `__proto__`. */
function defineOwn<T>(obj: Record<string, T>, name: string, value: T): void {
  if (name === "__proto__") {
    Object.defineProperty(obj, name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else obj[name] = value;
}

/** kafkajs-shaped headers as transport headers: the last value of a name wins. */
function lastValues(headers: Record<string, HeaderValue>): RawHeaders {
  const out: RawHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === null || last === undefined) continue;
    defineOwn(
      out,
      name,
      new Uint8Array(last.buffer, last.byteOffset, last.byteLength),
    );
  }
  return Object.keys(out).length === 0 ? NO_HEADERS : out;
}
