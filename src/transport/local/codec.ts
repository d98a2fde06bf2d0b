/**
 * Binary layout of the `local://` broker's record chunks and keys.
 *
 * A chunk holds consecutive records of one partition (one `send` call's
 * records for that partition, split at {@linkcode MAX_CHUNK_RECORDS}); its
 * LMDB key is the partition id (u32) and the offset of the chunk's LAST
 * record (u64), both big-endian, so a forward range from `(tp, offset)` starts
 * at the chunk holding `offset` or the first one after it.
 *
 * ```
 * chunk  = u32 version(1) | u32 count | f64 baseOffset | record*
 * record = u32 offsetDelta | f64 timestamp | i32 keyLen(-1 null) | key
 *        | i32 valueLen(-1 null) | value | u16 headerCount
 *        | (u16 nameLen | name utf8 | u32 valueLen | value)*
 * ```
 *
 * Compaction rewrites a chunk without some records; offsets are explicit
 * (base + delta), so the survivors keep their offsets and gaps appear.
 *
 * @module
 */
import type { RawHeaders } from "../../util/types.ts";
import type { ProduceRecord, TransportRecord } from "../transport.ts";

/** Most records one chunk holds. */
export const MAX_CHUNK_RECORDS = 1024;
/** Chunks are closed once they pass this many bytes. */
export const MAX_CHUNK_BYTES = 1 << 20;

const VERSION = 1;
const HEADER = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** The headers of every record that has none (shared: never written to). */
const NO_HEADERS: RawHeaders = Object.freeze({});

/** Records encoded into one chunk, waiting for their base offset. */
export interface EncodedChunk {
  /** Chunk bytes; the base offset is patched in by {@linkcode setChunkBase}. */
  readonly bytes: Uint8Array;
  /** Number of records. */
  readonly count: number;
  /** Offset delta of the last record (count - 1 for a fresh chunk). */
  readonly lastDelta: number;
}

/**
 * The LMDB key of a chunk: partition id and the offset of its last record.
 *
 * @param tpId Partition id inside the environment.
 * @param offset Offset of the chunk's last record (or a position to search from).
 * @returns A 12-byte big-endian key.
 */
export function chunkKey(tpId: number, offset: number): Uint8Array {
  const key = new Uint8Array(12);
  const view = new DataView(key.buffer);
  view.setUint32(0, tpId);
  view.setUint32(4, Math.floor(offset / 0x100000000));
  view.setUint32(8, offset >>> 0);
  return key;
}

/**
 * The offset part of a chunk key.
 *
 * @param key A key made by {@linkcode chunkKey}.
 * @returns The offset it holds.
 */
export function chunkKeyOffset(key: Uint8Array): number {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return view.getUint32(4) * 0x100000000 + view.getUint32(8);
}

function recordSize(r: ProduceRecord, headerNames: Uint8Array[]): number {
  let size = 4 + 8 + 4 + (r.key?.byteLength ?? 0) + 4 +
    (r.value?.byteLength ?? 0) + 2;
  if (r.headers !== undefined) {
    for (const [name, value] of Object.entries(r.headers)) {
      const bytes = encoder.encode(name);
      headerNames.push(bytes);
      size += 2 + bytes.byteLength + 4 + value.byteLength;
    }
  }
  return size;
}

/**
 * Encode the records of one partition into chunks (base offset still 0).
 *
 * @param records Records of a single partition, in send order.
 * @param timestamps Timestamp to store for each record.
 * @returns Chunks covering the records in order.
 */
export function encodeChunks(
  records: readonly ProduceRecord[],
  timestamps: readonly number[],
): EncodedChunk[] {
  const chunks: EncodedChunk[] = [];
  let start = 0;
  while (start < records.length) {
    let end = start;
    let size = HEADER;
    const names: Uint8Array[] = [];
    while (
      end < records.length && end - start < MAX_CHUNK_RECORDS &&
      size < MAX_CHUNK_BYTES
    ) {
      size += recordSize(records[end]!, names);
      end++;
    }
    chunks.push(writeChunk(records, timestamps, start, end, size, names));
    start = end;
  }
  return chunks;
}

function writeBytes(
  out: Uint8Array,
  view: DataView,
  pos: number,
  bytes: Uint8Array | null,
): number {
  if (bytes === null) {
    view.setInt32(pos, -1);
    return pos + 4;
  }
  const n = bytes.byteLength;
  view.setInt32(pos, n);
  // Short keys and values by hand: `set` costs more than copying a few bytes.
  if (n <= 32) {
    const at = pos + 4;
    for (let i = 0; i < n; i++) out[at + i] = bytes[i]!;
  } else out.set(bytes, pos + 4);
  return pos + 4 + n;
}

function writeChunk(
  records: readonly ProduceRecord[],
  timestamps: readonly number[],
  start: number,
  end: number,
  size: number,
  names: Uint8Array[],
): EncodedChunk {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, VERSION);
  view.setUint32(4, end - start);
  let pos = HEADER;
  let nameIndex = 0;
  for (let i = start; i < end; i++) {
    const r = records[i]!;
    view.setUint32(pos, i - start);
    view.setFloat64(pos + 4, timestamps[i]!);
    pos = writeBytes(out, view, pos + 12, r.key);
    pos = writeBytes(out, view, pos, r.value);
    if (r.headers === undefined) {
      // No empty array per record without headers.
      view.setUint16(pos, 0);
      pos += 2;
      continue;
    }
    const headers = Object.values(r.headers);
    view.setUint16(pos, headers.length);
    pos += 2;
    for (const value of headers) {
      const name = names[nameIndex++]!;
      view.setUint16(pos, name.byteLength);
      out.set(name, pos + 2);
      pos += 2 + name.byteLength;
      view.setUint32(pos, value.byteLength);
      out.set(value, pos + 4);
      pos += 4 + value.byteLength;
    }
  }
  return { bytes: out, count: end - start, lastDelta: end - start - 1 };
}

/**
 * Set the base offset of an encoded chunk (done inside the write transaction).
 *
 * @param chunk Chunk bytes.
 * @param base Offset of the chunk's first record.
 */
export function setChunkBase(chunk: Uint8Array, base: number): void {
  new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).setFloat64(
    8,
    base,
  );
}

/** One record of a chunk, with its position in the chunk bytes. */
export interface ChunkEntry {
  /** Offset of the record. */
  readonly offset: number;
  /** Timestamp in milliseconds. */
  readonly timestamp: number;
  /** Key bytes (a view into the chunk), or null. */
  readonly key: Uint8Array | null;
  /** Whether the value is null (a tombstone). */
  readonly tombstone: boolean;
  /** Start of the record in the chunk. */
  readonly start: number;
  /** End of the record in the chunk. */
  readonly end: number;
}

function readBytes(
  chunk: Uint8Array,
  view: DataView,
  pos: number,
): [Uint8Array | null, number] {
  const len = view.getInt32(pos);
  if (len < 0) return [null, pos + 4];
  return [chunk.subarray(pos + 4, pos + 4 + len), pos + 4 + len];
}

function skipHeaders(view: DataView, pos: number): number {
  const n = view.getUint16(pos);
  pos += 2;
  for (let h = 0; h < n; h++) {
    pos += 2 + view.getUint16(pos);
    pos += 4 + view.getUint32(pos);
  }
  return pos;
}

/**
 * Walk a chunk's records without building transport records (maintenance).
 *
 * @param chunk Chunk bytes as stored.
 * @returns The records' offsets, timestamps, keys and positions.
 */
export function scanChunk(chunk: Uint8Array): ChunkEntry[] {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const count = view.getUint32(4);
  const base = view.getFloat64(8);
  const out: ChunkEntry[] = [];
  let pos = HEADER;
  for (let i = 0; i < count; i++) {
    const start = pos;
    const offset = base + view.getUint32(pos);
    const timestamp = view.getFloat64(pos + 4);
    const [key, afterKey] = readBytes(chunk, view, pos + 12);
    const valueLen = view.getInt32(afterKey);
    pos = skipHeaders(view, afterKey + 4 + Math.max(valueLen, 0));
    out.push({
      offset,
      timestamp,
      key,
      tombstone: valueLen < 0,
      start,
      end: pos,
    });
  }
  return out;
}

/**
 * Offset of the first record of a chunk.
 *
 * @param chunk Chunk bytes as stored.
 * @returns The offset, or `undefined` for an empty chunk.
 */
export function firstOffset(chunk: Uint8Array): number | undefined {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (view.getUint32(4) === 0) return undefined;
  return view.getFloat64(8) + view.getUint32(HEADER);
}

/**
 * Rebuild a chunk keeping only some of its records (compaction, retention).
 *
 * @param chunk Chunk bytes as stored.
 * @param keep Records to keep, from {@linkcode scanChunk}, in order.
 * @returns The new chunk bytes (same base offset).
 */
export function rewriteChunk(
  chunk: Uint8Array,
  keep: readonly ChunkEntry[],
): Uint8Array {
  let size = HEADER;
  for (const e of keep) size += e.end - e.start;
  const out = new Uint8Array(size);
  out.set(chunk.subarray(0, HEADER));
  new DataView(out.buffer).setUint32(4, keep.length);
  let pos = HEADER;
  for (const e of keep) {
    out.set(chunk.subarray(e.start, e.end), pos);
    pos += e.end - e.start;
  }
  return out;
}

/**
 * Decode records of a chunk with offset >= `from` into `out`.
 *
 * @param chunk Chunk bytes as stored.
 * @param topic Topic name for the records.
 * @param partition Partition number for the records.
 * @param from First offset wanted.
 * @param max Stop once `out` holds this many records.
 * @param out Receives the records.
 * @returns Offset of the last record decoded, or -1 when none was.
 */
export function decodeChunk(
  chunk: Uint8Array,
  topic: string,
  partition: number,
  from: number,
  max: number,
  out: TransportRecord[],
): number {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const count = view.getUint32(4);
  const base = view.getFloat64(8);
  let last = -1;
  let pos = HEADER;
  for (let i = 0; i < count && out.length < max; i++) {
    const offset = base + view.getUint32(pos);
    if (offset < from) {
      pos = skipHeaders(view, skipValue(view, skipValue(view, pos + 12)));
      continue;
    }
    const timestamp = view.getFloat64(pos + 4);
    // No tuple per field, and one shared object for no headers: records can
    // stay buffered a while, so every object less per record is less for
    // the garbage collector to copy. (Views of the chunk as it is: a Buffer
    // from lmdb, which some apps rely on, e.g. String(key) on raw keys.)
    const keyLen = view.getInt32(pos + 12);
    const key = keyLen < 0 ? null : chunk.subarray(pos + 16, pos + 16 + keyLen);
    const afterKey = pos + 16 + Math.max(keyLen, 0);
    const valueLen = view.getInt32(afterKey);
    const value = valueLen < 0
      ? null
      : chunk.subarray(afterKey + 4, afterKey + 4 + valueLen);
    const afterValue = afterKey + 4 + Math.max(valueLen, 0);
    const n = view.getUint16(afterValue);
    pos = afterValue + 2;
    const headers: RawHeaders = n === 0 ? NO_HEADERS : {};
    for (let h = 0; h < n; h++) {
      const nameLen = view.getUint16(pos);
      const name = decoder.decode(chunk.subarray(pos + 2, pos + 2 + nameLen));
      pos += 2 + nameLen;
      const len = view.getUint32(pos);
      headers[name] = len === 0
        ? EMPTY
        : chunk.subarray(pos + 4, pos + 4 + len);
      pos += 4 + len;
    }
    out.push({ topic, partition, offset, key, value, headers, timestamp });
    last = offset;
  }
  return last;
}

function skipValue(view: DataView, pos: number): number {
  return pos + 4 + Math.max(view.getInt32(pos), 0);
}
