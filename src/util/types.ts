/**
 * Shared vocabulary: topic-partitions and message headers.
 *
 * @module
 */

/**
 * A topic-partition.
 *
 * @example A topic partition
 * ```ts
 * import type { TP } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("tp");
 * app.onPartitionsAssigned.connect((_app, assigned: readonly TP[]) => {
 *   for (const tp of assigned) console.log(`${tp.topic}[${tp.partition}]`);
 * });
 * ```
 */
export interface TP {
  /** Topic name. */
  readonly topic: string;
  /** Partition number, from 0. */
  readonly partition: number;
}

/**
 * Headers as they travel on the wire: names to bytes.
 *
 * @example Reading a header of an event
 * ```ts
 * import type { RawHeaders } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const headers: RawHeaders = { trace: new TextEncoder().encode("abc") };
 * assert.equal(new TextDecoder().decode(headers.trace), "abc");
 * ```
 */
export type RawHeaders = Record<string, Uint8Array>;

/**
 * Headers as users give them: strings are UTF-8 encoded.
 *
 * @example Sending headers as text or bytes
 * ```ts
 * import type { HeadersInput } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("headers");
 * const orders = app.topic("orders", { valueType: "string" });
 * const headers: HeadersInput = { trace: "abc", raw: new Uint8Array([1, 2]) };
 * await app.start();
 * try {
 *   await orders.send({ value: "order-1", headers });
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export type HeadersInput = Record<string, string | Uint8Array>;

/** A stable string for a topic-partition, usable as a Map key. */
export function tpKey(tp: TP): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

/** The topic-partition a {@linkcode tpKey} string was made from. */
export function parseTpKey(key: string): TP {
  const i = key.lastIndexOf("\u0000");
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

/** Human form of a topic-partition: `topic[3]`. */
export function tpString(tp: TP): string {
  return `${tp.topic}[${tp.partition}]`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encode user headers to bytes. */
export function toRawHeaders(headers: HeadersInput | undefined): RawHeaders {
  const out: RawHeaders = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    out[name] = typeof value === "string" ? encoder.encode(value) : value;
  }
  return out;
}

/** Read one header as UTF-8 text, or `undefined` when absent. */
export function headerText(
  headers: RawHeaders,
  name: string,
): string | undefined {
  const v = headers[name];
  return v === undefined ? undefined : decoder.decode(v);
}

/**
 * Partitions grouped by topic, each list sorted: `{ topic: [0, 2] }` (the
 * JSON form of an assignment).
 *
 * @param tps Topic-partitions.
 * @returns Topic -> sorted partition numbers.
 */
export function partitionsByTopic(
  tps: readonly TP[],
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const tp of tps) (out[tp.topic] ??= []).push(tp.partition);
  for (const list of Object.values(out)) list.sort((a, b) => a - b);
  return out;
}

/**
 * Read {@linkcode partitionsByTopic}'s form back, skipping anything that is
 * not a non-negative integer partition (the data comes from other processes).
 *
 * @param value Parsed JSON.
 * @returns Topic-partitions.
 */
export function partitionsFromTopics(value: unknown): TP[] {
  const out: TP[] = [];
  if (typeof value !== "object" || value === null) return out;
  for (const [topic, ps] of Object.entries(value)) {
    if (!Array.isArray(ps)) continue;
    for (const p of ps) {
      if (Number.isInteger(p) && p >= 0) out.push({ topic, partition: p });
    }
  }
  return out;
}
