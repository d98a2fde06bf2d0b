/**
 * A faster varint writer for kafkajs 2.2.4's protocol `Encoder`. kafkajs
 * writes every varint (about six per record: the record's length, its
 * timestamp and offset deltas, the key's and value's lengths, the header
 * count) by collecting the bytes in an array, making a `Buffer` of it and
 * copying that into the encoder's buffer; varlongs also go through its
 * `Long` class. Under Deno's Node Buffer each of those small Buffers costs
 * about a microsecond: with them, encoding produce requests was about a
 * fifth of a forwarding agent's CPU (profile of `bench/peers.ts --workloads
 * forward`). The patch writes the same bytes straight into the encoder's
 * buffer, and takes varlongs that fit in 32 bits (timestamp deltas within
 * a batch) through the same path; larger varlongs use kafkajs' code. It
 * touches kafkajs internals: the version is pinned in deno.json, and a
 * changed class makes the patch a loud no-op at start.
 *
 * @module
 */
import { kafkajsMethod } from "./internals.ts";

interface EncoderLike {
  buf: Uint8Array;
  offset: number;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): EncoderLike;
}

interface EncoderClass {
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
}

const MIN_INT32 = -2147483648;
const MAX_INT32 = 2147483647;

function isInt32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) &&
    value >= MIN_INT32 && value <= MAX_INT32;
}

let applied = false;

/**
 * Patch kafkajs' encoder once per process.
 *
 * @param warn Called with a message when the internals changed and nothing was patched.
 */
export function patchKafkajsVarints(warn: (message: string) => void): void {
  if (applied) return;
  applied = true;
  const uvarint = kafkajsMethod("src/protocol/encoder.js", "writeUVarInt");
  const varlong = kafkajsMethod("src/protocol/encoder.js", "writeVarLong");
  const cls = uvarint?.proto.constructor as Partial<EncoderClass> | undefined;
  if (
    uvarint === undefined || varlong === undefined ||
    typeof uvarint.proto.ensureAvailable !== "function" ||
    typeof cls?.sizeOfVarInt !== "function" ||
    typeof cls.sizeOfVarLong !== "function"
  ) {
    warn(
      "kafkajs internals changed: Encoder.writeUVarInt/writeVarLong not found; produce requests are encoded at kafkajs' speed",
    );
    return;
  }
  const Encoder = cls as EncoderClass;
  const writeVarLong = varlong.original as (
    this: EncoderLike,
    value: unknown,
  ) => EncoderLike;
  const sizeOfVarLong = Encoder.sizeOfVarLong;
  // The same bytes as kafkajs: 7 bits at a time, low group first, the high
  // bit set on every byte but the last; `>>>` reads the value as unsigned.
  uvarint.proto.writeUVarInt = function (this: EncoderLike, value: number) {
    this.ensureAvailable(5);
    const buf = this.buf;
    let at = this.offset;
    while ((value & 0xffffff80) !== 0) {
      buf[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[at++] = value & 0x7f;
    this.offset = at;
    return this;
  };
  // A 32-bit value's 64-bit zigzag equals its 32-bit zigzag read unsigned.
  varlong.proto.writeVarLong = function (this: EncoderLike, value: unknown) {
    if (isInt32(value)) return this.writeUVarInt((value << 1) ^ (value >> 31));
    return writeVarLong.call(this, value);
  };
  Encoder.sizeOfVarLong = function (value: unknown): number {
    if (isInt32(value)) return Encoder.sizeOfVarInt(value);
    return sizeOfVarLong.call(Encoder, value);
  };
}
