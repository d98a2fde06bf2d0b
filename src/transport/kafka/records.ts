/**
 * Conversions between our records and kafkajs messages.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IHeaders, KafkaMessage, Message } from "kafkajs";
import type { RawHeaders } from "../../util/types.ts";
import type { ProduceRecord, TransportRecord } from "../transport.ts";
import { FetchedRecord } from "./fetched_record.ts";
import { recordsTakeBytes } from "./record_patch.ts";

/** A view of bytes as a Buffer, without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array view of a Buffer (or the UTF-8 bytes of a string), without copying. */
export function toBytes(value: Buffer | string): Uint8Array {
  const b = typeof value === "string" ? Buffer.from(value) : value;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Headers of a record sent without any (shared: never written to). */
const NO_SEND_HEADERS: IHeaders = Object.freeze({});

/**
 * The kafkajs message for a record; `timestamp` is the one to send. Key,
 * value and header values stay the record's own bytes when the record
 * encoder takes them (a Buffer view of each was about a fifth of what a
 * keyed count with the record cache off left for the old generation), else
 * they become Buffer views.
 */
export function toMessage(record: ProduceRecord, timestamp: number): Message {
  if (recordsTakeBytes()) {
    return {
      partition: record.partition,
      key: record.key,
      value: record.value,
      headers: record.headers ?? NO_SEND_HEADERS,
      timestamp: String(timestamp),
    } as unknown as Message;
  }
  const headers: IHeaders = {};
  if (record.headers !== undefined) {
    for (const [name, value] of Object.entries(record.headers)) {
      headers[name] = toBuffer(value);
    }
  }
  return {
    partition: record.partition,
    key: record.key === null ? null : toBuffer(record.key),
    value: record.value === null ? null : toBuffer(record.value),
    headers,
    timestamp: String(timestamp),
  };
}

/** The headers of every fetched message that has none (shared: never written to). */
const NO_HEADERS: RawHeaders = Object.freeze({});

/** Headers of a fetched message; for a repeated name the last value wins. */
export function fromHeaders(headers: IHeaders | undefined): RawHeaders {
  if (headers === undefined) return NO_HEADERS;
  let any = false;
  for (const _ in headers) {
    any = true;
    break;
  }
  if (!any) return NO_HEADERS;
  const out: RawHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined && last !== null) out[name] = toBytes(last);
  }
  return out;
}

/** A fetched kafkajs message as a transport record. */
export function fromMessage(
  topic: string,
  partition: number,
  m: KafkaMessage,
): TransportRecord {
  if (m instanceof FetchedRecord) return m.toTransportRecord(topic, partition);
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key === null || m.key === undefined ? null : toBytes(m.key),
    value: m.value === null ? null : toBytes(m.value),
    headers: fromHeaders(m.headers),
    timestamp: Number(m.timestamp),
  };
}
