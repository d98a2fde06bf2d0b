/**
 * UTF-8 encoding of strings into shared slabs: each result is a view of a
 * 16 KiB buffer that later results share, instead of a Uint8Array with its
 * own ArrayBuffer. Allocating a buffer per record costs more than encoding
 * it (measured in Deno 2.9: `TextEncoder.encode` of a 40-byte JSON text
 * about 1 µs, of a 3-byte number about 0.5 µs; `encodeInto` a slab about
 * 0.05-0.7 µs).
 *
 * Only for bytes dropped together soon after: a view keeps its whole slab
 * alive, so bytes kept for long (a table's cached values) must not come from
 * here. The short-lived slab holds records on their way to the broker
 * (which copies them); a table's changelog writer has its own for the
 * values it encodes at a commit (kept until the store applied them).
 *
 * @module
 */

const SLAB_BYTES = 16 * 1024;
/** Longer strings get a buffer of their own (a slab would hold few of them). */
const MAX_CHARS = 1024;

const encoder = new TextEncoder();

/** A sequence of shared buffers that strings are encoded into. */
export class Slab {
  #slab = new Uint8Array(SLAB_BYTES);
  #used = 0;

  /**
   * `text` as UTF-8, possibly a view of a shared buffer: never write to it,
   * never hand its `.buffer` on.
   *
   * @param text The string.
   * @returns Its UTF-8 bytes.
   */
  encode(text: string): Uint8Array {
    const n = text.length;
    if (n > MAX_CHARS) return encoder.encode(text);
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (this.#used + 3 * n > SLAB_BYTES) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#used = 0;
    }
    const start = this.#used;
    const slab = this.#slab;
    // ASCII by hand: encodeInto's call costs more than a short text.
    let i = 0;
    if (n <= 32) {
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) break;
        slab[start + i] = c;
      }
    }
    if (i === n) {
      this.#used = start + n;
      return slab.subarray(start, start + n);
    }
    const written = encoder.encodeInto(text, slab.subarray(start)).written;
    this.#used = start + written;
    return slab.subarray(start, start + written);
  }
}

/** The slab of records on their way to the broker. */
export const SHORT_LIVED: Slab = new Slab();

/**
 * `text` as UTF-8 in the short-lived slab: never write to it, never hand
 * its `.buffer` on, do not keep it for long.
 *
 * @param text The string.
 * @returns Its UTF-8 bytes.
 */
export function encodeShortLived(text: string): Uint8Array {
  return SHORT_LIVED.encode(text);
}
