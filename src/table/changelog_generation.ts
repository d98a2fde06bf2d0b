/**
 * Changelog records stamped with the group generation of their writer, and
 * the fence that replays use to leave out a late writer's stale records.
 *
 * At-least-once has no producer fencing: a worker that lost its partitions
 * without knowing yet (expelled from the group while the broker was away, or
 * revoking after the group moved on) may append its older values to a
 * changelog partition after its next owner appended newer ones. Replaying
 * "last record per key wins" would then restore those older values, and the
 * counts built on them end below the truth. Every at-least-once append
 * therefore carries the group generation its writer's assignment belongs to
 * (generations only grow, and a partition's next owner got it in a later
 * generation than any earlier owner). A replay keeps, per partition, the
 * highest generation seen so far and leaves out records stamped with a lower
 * one: they were appended by a writer that was no longer the owner. Records
 * without the stamp (exactly-once, `local://`, older data) are always applied.
 *
 * @module
 */
import type { RawHeaders } from "../util/types.ts";

/** Header of a changelog record: the writer's group generation, in decimal. */
export const GENERATION_HEADER = "faust-generation";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The headers {@linkcode generationHeaders} made last, and their generation. */
let lastHeaders: { generation: number; headers: RawHeaders } | undefined;

/**
 * The headers that stamp an append with `generation`: one frozen object per
 * generation, shared by its appends (with the record cache off every update
 * appends alone; a headers object and its bytes per change waited with it
 * for the ack and the store, and kept V8's old generation larger).
 *
 * @param generation Group generation of the writer's assignment.
 * @returns Headers for the record (never written to).
 */
export function generationHeaders(generation: number): RawHeaders {
  if (lastHeaders?.generation !== generation) {
    const headers = Object.freeze({
      [GENERATION_HEADER]: encoder.encode(String(generation)),
    });
    lastHeaders = { generation, headers };
  }
  return lastHeaders.headers;
}

/**
 * The generation a record was stamped with.
 *
 * @param headers The record's headers.
 * @returns The generation, or `undefined` when unstamped or unreadable.
 */
export function generationOf(
  headers: RawHeaders | undefined,
): number | undefined {
  const raw = headers?.[GENERATION_HEADER];
  if (raw === undefined) return undefined;
  const n = Number(decoder.decode(raw));
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Per changelog partition, the highest writer generation seen in its records. */
export class GenerationFence {
  readonly #max = new Map<number, number>();
  /** Partitions whose records this process read or wrote (their max is as known as it gets). */
  readonly #known = new Set<number>();

  /**
   * Whether `partition`'s records were seen in this process (else its
   * highest generation so far may have to be read from the changelog).
   *
   * @param partition Changelog partition.
   */
  knows(partition: number): boolean {
    return this.#known.has(partition);
  }

  /**
   * The highest generation seen in `partition`.
   *
   * @param partition Changelog partition.
   * @returns The generation, or `undefined` when none was seen.
   */
  max(partition: number): number | undefined {
    return this.#max.get(partition);
  }

  /**
   * A record of `partition` stamped `generation` was written or read in
   * order: raise the partition's highest generation.
   *
   * @param partition Changelog partition.
   * @param generation Its generation (`undefined`: unstamped, no change).
   */
  saw(partition: number, generation: number | undefined): void {
    this.#known.add(partition);
    if (generation === undefined) return;
    const max = this.#max.get(partition);
    if (max === undefined || generation > max) {
      this.#max.set(partition, generation);
    }
  }

  /**
   * Whether a record read in offset order is stale (stamped with a lower
   * generation than one seen before it in its partition); a record that is
   * not raises the partition's highest generation.
   *
   * @param partition Changelog partition.
   * @param headers The record's headers.
   * @returns `true` when the record must be left out.
   */
  stale(partition: number, headers: RawHeaders | undefined): boolean {
    this.#known.add(partition);
    const generation = generationOf(headers);
    if (generation === undefined) return false;
    const max = this.#max.get(partition);
    if (max !== undefined && generation < max) return true;
    this.#max.set(partition, generation);
    return false;
  }

  /**
   * Forget `partition` (its data was dropped).
   *
   * @param partition Changelog partition.
   */
  forget(partition: number): void {
    this.#max.delete(partition);
    this.#known.delete(partition);
  }

  /**
   * The generation a writer of group generation `generation` stamps on
   * `partition`: never below one it saw there. Generations start again
   * from 1 when the group is deleted; without this floor an owner's new
   * records would all rank below the old ones and be left out.
   *
   * @param partition Changelog partition.
   * @param generation The writer's group generation.
   * @returns The stamp.
   */
  stamp(partition: number, generation: number): number {
    const max = this.#max.get(partition);
    return max === undefined || generation > max ? generation : max;
  }
}
