/**
 * A table change on its way to the changelog and the store, and the key
 * identity the overlay and the record cache index changes by.
 *
 * @module
 */
import type { RawHeaders } from "../util/types.ts";

/** A change not yet applied to the store. */
export interface OverlayEntry {
  /** Changelog partition the change was written to. */
  readonly partition: number;
  /** Encoded key. */
  readonly key: Uint8Array;
  /** Encoded value, or `null` for a delete. */
  readonly value: Uint8Array | null;
  /** Write sequence number (to tell a newer write of the same key). */
  readonly seq: number;
}

/** Where an append landed (its offset is -1 until known). */
export interface Landed {
  /** Changelog offset. */
  readonly offset: number;
}

/** Encodes the value of a deferred write (`ChangelogWriter.writeDeferred`). */
export type Encoder = (value: unknown) => Uint8Array;

/** Size assumed for a value not encoded yet (deferred writes hold primitives). */
const DEFERRED_VALUE_BYTES = 16;

/** Bytes counted per cached change on top of its key and value (the objects holding it). */
const ENTRY_OVERHEAD = 64;

/**
 * A change; its value may be encoded only when first needed (a change the
 * record cache replaces before the commit is never encoded). It goes to the
 * producer as its own changelog record (`topic`, `partition`, `key`,
 * `value`, `headers`: no record object per change), then waits for its ack
 * and the store as it is (`aseq`, `meta`).
 */
export class Change implements OverlayEntry, Landed {
  /** Changelog topic. */
  readonly topic: string;
  readonly partition: number;
  readonly key: Uint8Array;
  /** {@linkcode keyId} of `key`. */
  readonly id: string;
  /** Write sequence number; a rewrite ({@linkcode Change.rewrite}) takes a new one. */
  seq: number;
  /** Append sequence number, once handed to the producer. */
  aseq = 0;
  /**
   * Where the append landed, once acked: the producer's metadata
   * (exactly-once: a `local://` transaction sets its offset at the commit),
   * or this change itself ({@linkcode Change.landedAt}).
   */
  meta: Landed | undefined = undefined;
  /** The offset of the append, once {@linkcode Change.landedAt}; else -1. */
  offset = -1;
  /** Headers of the changelog record (the writer's generation), set when appended. */
  headers: RawHeaders | undefined = undefined;
  /** The record cache's window holding this change, while it waits there. */
  cachedIn: object | undefined = undefined;
  /** Index of this change in that window. */
  slot = -1;
  #bytes: Uint8Array | null | undefined;
  #decoded: unknown;
  #encode: Encoder | undefined;

  constructor(
    topic: string,
    partition: number,
    key: Uint8Array,
    id: string,
    seq: number,
    bytes: Uint8Array | null | undefined,
    decoded: unknown,
    encode: Encoder | undefined,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.key = key;
    this.id = id;
    this.seq = seq;
    this.#bytes = bytes;
    this.#decoded = decoded;
    this.#encode = encode;
  }

  /**
   * A later write of the key while this change still waits, unstaged, in
   * the record cache (which would replace it there anyway): the change
   * takes the write's value and sequence number itself, instead of a new
   * change object per write that lives until the cache or the store lets
   * go of it (most of what a keyed count leaves for the garbage collector
   * to copy). Only the writer's overlay and the cache hold it then.
   */
  rewrite(
    seq: number,
    bytes: Uint8Array | null | undefined,
    decoded: unknown,
    encode: Encoder | undefined,
  ): void {
    this.seq = seq;
    this.#bytes = bytes;
    this.#decoded = decoded;
    this.#encode = encode;
  }

  get value(): Uint8Array | null {
    if (this.#bytes === undefined) this.#bytes = this.#encode!(this.#decoded);
    return this.#bytes;
  }

  /**
   * The append was acknowledged at `offset` (at-least-once: final). The
   * change keeps the offset itself instead of the producer's metadata, and
   * a deferred value drops its bytes (encoded again if read): both would
   * otherwise live until the store's group commit, one object each more
   * for the garbage collector to copy and keep per change.
   */
  landedAt(offset: number): void {
    this.offset = offset;
    this.meta = this;
    if (this.#encode !== undefined) this.#bytes = undefined;
  }

  /** Bytes counted against the cache bound (an estimate while not encoded). */
  get size(): number {
    return this.key.length +
      (this.#bytes === undefined
        ? DEFERRED_VALUE_BYTES
        : (this.#bytes?.length ?? 0)) +
      ENTRY_OVERHEAD;
  }
}

/**
 * A string identity for key bytes (one char per byte), usable as a Map key.
 *
 * @param bytes Encoded key.
 * @returns A string equal for equal bytes.
 */
export function keyId(bytes: Uint8Array): string {
  if (bytes.length <= 4096) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, i + 4096) as unknown as number[],
    );
  }
  return s;
}
