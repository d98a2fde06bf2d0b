/**
 * The dead-letter record: a record no agent could decode, with where it
 * came from and why it failed, for `{appId}-dead-letter`.
 *
 * @module
 */
import type { ProduceRecord, TransportRecord } from "../transport/transport.ts";

/**
 * The record to append to the app's dead-letter topic for `record`: its
 * key, value, headers and timestamp, plus `faust-dead-letter-*` headers
 * naming its topic, partition, offset and the error.
 */
export function deadLetterRecord(
  appId: string,
  record: TransportRecord,
  error: Error,
): ProduceRecord {
  return {
    topic: `${appId}-dead-letter`,
    partition: 0,
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      ...Object.fromEntries(
        Object.entries({
          "faust-dead-letter-topic": record.topic,
          "faust-dead-letter-partition": String(record.partition),
          "faust-dead-letter-offset": String(record.offset),
          "faust-dead-letter-error": error.message,
        }).map(([k, v]) => [k, new TextEncoder().encode(v)]),
      ),
    },
    timestamp: record.timestamp,
  };
}
