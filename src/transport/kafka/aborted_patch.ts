/**
 * A fix for kafkajs 2.2.4's `read_committed` filter, which lets records of
 * aborted transactions through. A Fetch response lists the partition's
 * aborted transactions (producer id, first offset) in the order their
 * aborts were written, not in the order they began; kafkajs'
 * `filterAbortedMessages` only ever looks at the head of that list and
 * takes one entry per record. When producer B's transaction began after
 * producer A's but was aborted first (two workers' transactions open on
 * one output partition when both were fenced), A's records before B's
 * first offset pass as committed; so do records of a transaction that
 * began before the fetch offset when another entry comes first. A
 * downstream consumer then processes an aborted record: with exactly-once
 * upstream, the same output appears twice (once aborted, once committed).
 *
 * The patch wraps `Broker.prototype.fetch`: in every `read_committed`
 * response it finds the aborted records as Kafka's Java consumer does
 * ({@linkcode abortedRecords}), flags them as control records (which
 * kafkajs' `Batch` drops from `messages` while still counting their offsets
 * for the next fetch position) and empties the list, so kafkajs' own filter
 * has nothing left to get wrong. It touches kafkajs internals (the version
 * is pinned in deno.json); a changed class makes the patch a loud no-op at
 * start.
 *
 * @module
 */
import { kafkajsMethod } from "./internals.ts";

/** The parts of a fetched record this filter reads. */
export interface FetchedMessage {
  readonly offset: string;
  readonly key?: Uint8Array | null;
  isControlRecord?: boolean;
  readonly batchContext?: {
    readonly producerId: string;
    readonly inTransaction: boolean;
  };
}

/** An aborted transaction as a Fetch response lists it. */
export interface AbortedTransaction {
  readonly producerId: string;
  readonly firstOffset: string;
}

const ABORT_MARKER_KEY = [0, 0, 0, 0];

/** Whether `m` is the marker that ends an aborted transaction. */
export function isAbortMarker(m: FetchedMessage): boolean {
  const k = m.key;
  return m.isControlRecord === true && k !== null && k !== undefined &&
    k.length === 4 && ABORT_MARKER_KEY.every((b, i) => k[i] === b);
}

/**
 * The data records of aborted transactions among `messages` (offset order),
 * as Kafka's Java consumer finds them: a producer's transaction is aborted
 * from the first offset listed for it until that producer's abort marker;
 * every listed transaction whose first offset was reached counts, whatever
 * the order of the list.
 *
 * @param messages Fetched records of one partition, markers included.
 * @param aborted The response's aborted transactions of that partition.
 * @returns The records to leave out.
 */
export function abortedRecords<M extends FetchedMessage>(
  messages: readonly M[],
  aborted: readonly AbortedTransaction[] | null | undefined,
): Set<M> {
  const out = new Set<M>();
  if (aborted == null || aborted.length === 0) return out;
  const pending = [...aborted].sort((a, b) =>
    Number(a.firstOffset) - Number(b.firstOffset)
  );
  const open = new Set<string>();
  for (const m of messages) {
    while (
      pending.length > 0 && Number(m.offset) >= Number(pending[0]!.firstOffset)
    ) open.add(pending.shift()!.producerId);
    const ctx = m.batchContext;
    if (ctx === undefined) continue;
    if (isAbortMarker(m)) open.delete(ctx.producerId);
    else if (
      m.isControlRecord !== true && ctx.inTransaction &&
      open.has(ctx.producerId)
    ) out.add(m);
  }
  return out;
}

interface FetchResponse {
  responses?: {
    partitions?: {
      abortedTransactions?: AbortedTransaction[] | null;
      messages?: FetchedMessage[];
    }[];
  }[];
}

let applied = false;

/**
 * Patch kafkajs' broker fetch once per process.
 *
 * @param warn Called with a message when the internals changed and nothing was patched.
 */
export function patchKafkajsReadCommitted(
  warn: (message: string) => void,
): void {
  if (applied) return;
  applied = true;
  const found = kafkajsMethod("src/broker/index.js", "fetch");
  if (found === undefined) {
    warn(
      "kafkajs internals changed: Broker.fetch not found; read_committed consumers may see records of aborted transactions",
    );
    return;
  }
  const { proto, original } = found;
  proto.fetch = async function (this: unknown, ...args: unknown[]) {
    const res = await (original as (...a: unknown[]) => Promise<unknown>)
      .apply(this, args) as FetchResponse;
    for (const topic of res?.responses ?? []) {
      for (const p of topic.partitions ?? []) {
        const list = p.abortedTransactions;
        if (list == null || list.length === 0) continue;
        for (const m of abortedRecords(p.messages ?? [], list)) {
          m.isControlRecord = true;
        }
        p.abortedTransactions = [];
      }
    }
    return res;
  };
}
