/**
 * `decodeErrorPolicy`: what happens to a record that does not decode.
 * `"skip"` acks it, `"dead-letter"` acks it once it is written to the
 * dead-letter topic, `"fail"` stops the app with the record unacked (so
 * its offset is never committed). Every one is counted and logged with its
 * topic, partition and offset.
 *
 * @module
 */
import { Delivery, type Releaser } from "../delivery/event.ts";
import type { TransportRecord } from "../transport/transport.ts";
import { tpString } from "../util/types.ts";
import type { ConsumerState } from "./state.ts";

/** Applies `decodeErrorPolicy` to records that did not decode. */
export class DecodeErrors {
  readonly #s: ConsumerState;

  /** Decode-error handling over the shared consumer state `s`. */
  constructor(s: ConsumerState) {
    this.#s = s;
  }

  /** Count and log an undecodable record; the error to act on. */
  report(record: TransportRecord, error: unknown): Error {
    const { host } = this.#s;
    const err = error instanceof Error ? error : new Error(String(error));
    const policy = host.conf.decodeErrorPolicy;
    host.monitor.count("decodeErrors");
    host.log.error(
      "Cannot decode {tp}@{offset} ({policy}): {error}",
      {
        tp: tpString(record),
        offset: record.offset,
        policy,
        error: err.message,
      },
    );
    return err;
  }

  /**
   * The one stream's record did not decode: apply the policy (`acks`
   * takes the record's ack); false when the app must stop.
   */
  single(record: TransportRecord, error: unknown, acks: Releaser): boolean {
    const err = this.report(record, error);
    const policy = this.#s.host.conf.decodeErrorPolicy;
    if (policy === "fail") {
      this.fail(record, err);
      return false;
    }
    if (policy === "dead-letter") {
      this.deadLetter(
        record,
        err,
        new Delivery(1, () => acks.release(record.offset)),
      );
    } else acks.release(record.offset);
    return true;
  }

  /** Write `record` to the dead-letter topic, then release `delivery`. */
  deadLetter(record: TransportRecord, error: Error, delivery: Delivery): void {
    const { host } = this.#s;
    host.deadLetter(record, error).then(
      () => delivery.release(),
      (error) =>
        host.crash(
          new Error(`Cannot write to the dead-letter topic: ${error}`, {
            cause: error,
          }),
        ),
    );
  }

  /**
   * `decodeErrorPolicy: "fail"`: stop the app at `record`. It stays
   * delivered and never acked, so no commit passes it and the next start
   * reads it (and fails on it) again; nothing after it is delivered.
   */
  fail(record: TransportRecord, error: Error): void {
    const s = this.#s;
    s.failed = true;
    s.consumer?.pause(s.consumer.assignment());
    s.host.crash(
      new Error(
        `Cannot decode ${
          tpString(record)
        }@${record.offset} (decodeErrorPolicy "fail"; its offset is not committed): ${error.message}`,
        { cause: error },
      ),
    );
  }
}
