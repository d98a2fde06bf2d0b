/**
 * A cheaper record-batch decoder for kafkajs 2.2.4's fetch responses: it
 * makes one {@linkcode FetchedRecord} per record (fields read from the
 * response bytes on access) where kafkajs makes about eight objects, and
 * reads offsets and timestamps as numbers where kafkajs goes through its
 * BigInt `Long` twice per record. It decodes an uncompressed batch of
 * magic 2 whose 64-bit fields fit in a double; any other batch (compressed,
 * cut short by the fetch size, offsets or timestamps beyond 2^53, a
 * malformed record) goes to kafkajs' own decoder, untouched. Like the
 * encoder patches beside it, it touches kafkajs internals (the version is
 * pinned in deno.json): the batch decoder is replaced in the module cache
 * before kafkajs loads its fetch response, and a changed layout makes the
 * patch a loud no-op at start.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import {
  type BatchContext,
  FetchedRecord,
  readVarInt,
} from "./fetched_record.ts";

/** kafkajs' protocol `Decoder`, as far as a batch decoder uses it. */
export interface FetchDecoder {
  buffer: Buffer;
  offset: number;
}

/** What kafkajs' batch decoder returns: the batch fields and its records. */
export type DecodedBatch = Omit<BatchContext, "magicByte"> & {
  records: unknown[];
};

type BatchDecoder = (
  decoder: FetchDecoder,
) => DecodedBatch | Promise<DecodedBatch>;

const TIMESTAMP_TYPE_FLAG_MASK = 0x8;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;
const COMPRESSION_CODEC_MASK = 0x7;
/** Bytes of a batch header after the length, up to the record count included. */
const HEADER_AFTER_LENGTH = 49;
/** Varlong bytes read as a number (7 bits each: below 2^49). */
const MAX_VARLONG_BYTES = 7;

const TWO_32 = 4294967296;
/** Read positions reused by every call (decoding is synchronous: no garbage per record). */
const BATCH_CURSOR = { at: 0 };
const CHECK_CURSOR = { at: 0 };
const TWO_21 = 2097152;

function int32(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

function int16(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16)) >> 16;
}

/** A big-endian int64 as a number, or undefined beyond +-2^53. */
function int64(b: Uint8Array, at: number): number | undefined {
  const hi = int32(b, at);
  if (hi >= TWO_21 || hi < -TWO_21) return undefined;
  return hi * TWO_32 + (int32(b, at + 4) >>> 0);
}

/** A zigzag varlong of at most 7 bytes as a number, or undefined. */
function readVarLong(
  b: Uint8Array,
  cursor: { at: number },
): number | undefined {
  let at = cursor.at;
  let result = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARLONG_BYTES; i++) {
    const byte = b[at++]!;
    result += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) {
      cursor.at = at;
      return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    }
  }
  return undefined;
}

/**
 * Decode the record batch at the decoder's position and move past it, as
 * kafkajs' batch decoder does; undefined (the decoder untouched) for a
 * batch this decoder leaves to kafkajs.
 *
 * @param decoder kafkajs' decoder over a partition's record set.
 */
export function decodeBatch(decoder: FetchDecoder): DecodedBatch | undefined {
  const buf = decoder.buffer;
  const p = decoder.offset;
  const s = p + 12;
  if (buf.length - p < 12) return undefined;
  const length = int32(buf, p + 8);
  if (length < HEADER_AFTER_LENGTH || buf.length - s < length) return undefined;
  const end = s + length;
  const magicByte = buf[s + 4]! << 24 >> 24;
  const attributes = int16(buf, s + 9);
  if (magicByte !== 2 || (attributes & COMPRESSION_CODEC_MASK) !== 0) {
    return undefined;
  }
  const firstOffset = int64(buf, p);
  const firstTimestamp = int64(buf, s + 15);
  const maxTimestamp = int64(buf, s + 23);
  const producerId = int64(buf, s + 31);
  if (
    firstOffset === undefined || firstTimestamp === undefined ||
    maxTimestamp === undefined || producerId === undefined
  ) return undefined;
  const logAppendTime = (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0;
  const fields = {
    firstOffset: String(firstOffset),
    firstTimestamp: String(firstTimestamp),
    partitionLeaderEpoch: int32(buf, s),
    inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
    isControlBatch: (attributes & CONTROL_FLAG_MASK) > 0,
    lastOffsetDelta: int32(buf, s + 11),
    producerId: String(producerId),
    producerEpoch: int16(buf, s + 39),
    firstSequence: int32(buf, s + 41),
    maxTimestamp: String(maxTimestamp),
    timestampType: logAppendTime ? 1 : 0,
  };
  const context: BatchContext = { ...fields, magicByte };
  const count = int32(buf, s + 45);
  if (count < -1) return undefined;
  const records: FetchedRecord[] = new Array(count === -1 ? 0 : count);
  const cursor = BATCH_CURSOR;
  cursor.at = s + HEADER_AFTER_LENGTH;
  for (let i = 0; i < count; i++) {
    if (cursor.at >= end) return undefined;
    const size = readVarInt(buf, cursor);
    const start = cursor.at;
    const stop = start + size;
    if (size < 1 || stop > end) return undefined;
    const recordAttributes = buf[start]! << 24 >> 24;
    cursor.at = start + 1;
    const timestampDelta = readVarLong(buf, cursor);
    if (timestampDelta === undefined || cursor.at >= stop) return undefined;
    const offset = firstOffset + readVarInt(buf, cursor);
    const timestamp = logAppendTime ? maxTimestamp : firstTimestamp +
      timestampDelta;
    if (
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(timestamp) ||
      !wellFormed(buf, cursor.at, stop)
    ) return undefined;
    records[i] = new FetchedRecord(
      buf,
      cursor.at,
      recordAttributes,
      offset,
      timestamp,
      context,
    );
    cursor.at = stop;
  }
  decoder.offset = end;
  return { ...fields, records };
}

/**
 * Whether key, value and headers from `at` stay within `stop` (the
 * lengths are valid), so that reading them later cannot fail.
 */
function wellFormed(buf: Uint8Array, at: number, stop: number): boolean {
  const cursor = CHECK_CURSOR;
  cursor.at = at;
  if (!skipField(buf, cursor, stop) || !skipField(buf, cursor, stop)) {
    return false;
  }
  if (cursor.at >= stop) return false;
  const headers = readVarInt(buf, cursor);
  if (headers < -1) return false;
  for (let i = 0; i < headers; i++) {
    if (!skipField(buf, cursor, stop) || !skipField(buf, cursor, stop)) {
      return false;
    }
  }
  return cursor.at <= stop;
}

/** Move past a length-prefixed field; false when it does not end by `stop`. */
function skipField(
  buf: Uint8Array,
  cursor: { at: number },
  stop: number,
): boolean {
  if (cursor.at >= stop) return false;
  const n = readVarInt(buf, cursor);
  if (n < -1) return false;
  if (n > 0) cursor.at += n;
  return cursor.at <= stop;
}

let applied = false;

/**
 * Patch kafkajs' record-batch decoder once per process. Call before the
 * first fetch (the transport does so when it is made).
 *
 * @param warn Called with a message when the internals changed or the
 *   fetch response was loaded already, and nothing was patched.
 */
export function patchKafkajsDecoder(warn: (message: string) => void): void {
  if (applied) return;
  applied = true;
  const require = createRequire(import.meta.url);
  let batchPath: string | undefined;
  let responseLoaded = false;
  let original: BatchDecoder | undefined;
  try {
    const dir = require.resolve("kafkajs").replace(/index\.js$/, "");
    batchPath = require.resolve(`${dir}src/protocol/recordBatch/v0/decoder.js`);
    const messagesPath = require.resolve(
      `${dir}src/protocol/requests/fetch/v4/decodeMessages.js`,
    );
    responseLoaded = require.cache[messagesPath] !== undefined;
    original = require(batchPath);
  } catch {
    batchPath = undefined;
  }
  const cached = batchPath === undefined ? undefined : require.cache[batchPath];
  if (
    typeof original !== "function" || cached === undefined || responseLoaded
  ) {
    warn(
      responseLoaded
        ? "kafkajs' fetch response was loaded before the record-batch decoder could be replaced; records are decoded at kafkajs' cost"
        : "kafkajs internals changed: recordBatch/v0 decoder not found; records are decoded at kafkajs' cost",
    );
    return;
  }
  const fallback = original;
  cached.exports = (decoder: FetchDecoder) =>
    decodeBatch(decoder) ?? fallback(decoder);
}
