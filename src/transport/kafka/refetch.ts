/**
 * Per partition, the offset after the last record the consumer buffered in
 * the current assignment (since its last seek). kafkajs fetches a batch
 * again when the batch handler threw (ours throws when a heartbeat fails
 * while it waits for room in a full buffer, e.g. the broker away), although
 * that batch's records went into the buffer: what lies below is skipped, so
 * no offset is handed out twice.
 *
 * @module
 */

/** A fetched message: only its offset matters here. */
interface WithOffset {
  readonly offset: string;
}

/** What {@linkcode BufferedPositions.admit} lets through. */
export interface Admitted<M> {
  /** The messages at or above the last buffered position. */
  readonly messages: readonly M[];
  /** How many were below it (fetched again). */
  readonly skipped: number;
  /** The position they were below (when some were skipped). */
  readonly below: number | undefined;
}

/** Buffered positions by partition key. */
export class BufferedPositions {
  readonly #next = new Map<string, number>();

  /**
   * Keep the messages of `key` not buffered yet, and note the new position.
   *
   * @param key Partition key.
   * @param messages A fetched batch, in offset order.
   * @returns The messages to buffer and what was skipped.
   */
  admit<M extends WithOffset>(
    key: string,
    messages: readonly M[],
  ): Admitted<M> {
    const below = this.#next.get(key);
    let kept = messages;
    if (below !== undefined && Number(messages[0]?.offset) < below) {
      kept = messages.filter((m) => Number(m.offset) >= below);
    }
    if (kept.length > 0) {
      this.#next.set(key, Number(kept[kept.length - 1]!.offset) + 1);
    }
    const skipped = messages.length - kept.length;
    return { messages: kept, skipped, below: skipped > 0 ? below : undefined };
  }

  /** A seek moved the partition: any offset may come next. */
  forget(key: string): void {
    this.#next.delete(key);
  }

  /** The assignment ended (revocation, close). */
  clear(): void {
    this.#next.clear();
  }
}
