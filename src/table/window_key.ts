/**
 * Window keys: how a `(key, window)` pair of a windowed table is laid out
 * as one store key. The encoded table key comes first (behind its length),
 * then the window's start and end as order-preserving floats, so the
 * windows of one key sort together, by start, and a key's windows are one
 * prefix scan.
 *
 * @module
 */
import type { WindowRange } from "./window.ts";

/** Bytes of the key-length prefix of a window key. */
const LENGTH_BYTES = 4;
/** Bytes of one encoded time. */
const TIME_BYTES = 8;
/** Bytes a window key adds to the encoded table key. */
export const WINDOW_KEY_OVERHEAD: number = LENGTH_BYTES + 2 * TIME_BYTES;

/**
 * Write `value` as 8 bytes whose unsigned byte order is the numeric order:
 * IEEE-754 big-endian with the sign bit flipped for positives and every bit
 * flipped for negatives (so negative times sort first too).
 */
function writeSortableFloat(view: DataView, at: number, value: number): void {
  view.setFloat64(at, value === 0 ? 0 : value); // -0 sorts as 0
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  if (hi & 0x80000000) {
    view.setUint32(at, ~hi >>> 0);
    view.setUint32(at + 4, ~lo >>> 0);
  } else {
    view.setUint32(at, (hi | 0x80000000) >>> 0);
  }
}

function readSortableFloat(view: DataView, at: number): number {
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  const out = new DataView(new ArrayBuffer(TIME_BYTES));
  if (hi & 0x80000000) {
    out.setUint32(0, (hi & 0x7fffffff) >>> 0);
    out.setUint32(4, lo);
  } else {
    out.setUint32(0, ~hi >>> 0);
    out.setUint32(4, ~lo >>> 0);
  }
  return out.getFloat64(0);
}

/**
 * The prefix shared by every window key of `key`: a 4-byte big-endian length
 * followed by the key bytes. Scan from it to find all windows of one key.
 *
 * @param key Encoded table key.
 * @returns `length(key) ++ key`.
 */
export function windowKeyPrefix(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_BYTES + key.length);
  new DataView(out.buffer).setUint32(0, key.length);
  out.set(key, LENGTH_BYTES);
  return out;
}

/**
 * Store key of one window of `key`: `length(key) ++ key ++ start ++ end`,
 * times as order-preserving 8-byte floats. In byte order, the windows of one
 * key sit together, sorted by start (then end).
 *
 * @param key Encoded table key.
 * @param range The window.
 * @returns The store key.
 */
export function windowKey(key: Uint8Array, range: WindowRange): Uint8Array {
  const out = new Uint8Array(LENGTH_BYTES + key.length + 2 * TIME_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, key.length);
  out.set(key, LENGTH_BYTES);
  writeSortableFloat(view, LENGTH_BYTES + key.length, range.start);
  writeSortableFloat(view, LENGTH_BYTES + key.length + TIME_BYTES, range.end);
  return out;
}

/**
 * Split a store key made by {@linkcode windowKey}.
 *
 * @param bytes A window store key.
 * @returns The table key (a copy) and the window.
 * @throws {RangeError} When `bytes` is not a window key.
 */
export function parseWindowKey(
  bytes: Uint8Array,
): { key: Uint8Array; range: WindowRange } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.length >= LENGTH_BYTES ? view.getUint32(0) : -1;
  if (length < 0 || bytes.length !== LENGTH_BYTES + length + 2 * TIME_BYTES) {
    throw new RangeError(
      `Not a window key: ${bytes.length} bytes; expected 4-byte length + key + 16 bytes of window times`,
    );
  }
  const at = LENGTH_BYTES + length;
  return {
    key: bytes.slice(LENGTH_BYTES, at),
    range: {
      start: readSortableFloat(view, at),
      end: readSortableFloat(view, at + TIME_BYTES),
    },
  };
}
