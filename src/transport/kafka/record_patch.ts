/**
 * A cheaper record encoder for kafkajs 2.2.4's produce requests. kafkajs
 * encodes each record into its own `Encoder`, which starts with a zeroed
 * 512-byte `Buffer`, plus one more `Encoder` per header; a record batch
 * then copies each through a `Buffer` view made by `slice`. Under Deno's
 * Node `Buffer` (a `Uint8Array` subclass) every one of those objects is
 * slow to make: with a header per record (changelog appends carry the
 * writer's generation), `Buffer` construction and copies were about an
 * eighth of a keyed count's CPU with the record cache off (profile of
 * `bench/peers.ts --systems ours-nocache --workloads count`).
 *
 * The patch writes each record, headers included, into one plain
 * `Uint8Array` of its exact size, and the batch copies the records' bytes
 * straight into its own buffer. The bytes are kafkajs' own (a test
 * compares them); a timestamp delta beyond 32 bits goes through kafkajs'
 * encoder. Like the varint patch beside it, it touches kafkajs internals
 * (the version is pinned in deno.json): the record module is replaced in
 * the module cache before kafkajs loads its produce request, and a changed
 * layout makes the patch a loud no-op at start.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { kafkajsMethod } from "./internals.ts";

/** The record fields kafkajs' produce request hands the record encoder. */
interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: unknown;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

/** What a batch takes from an encoded record: `offset` bytes of `buf`. */
interface Encoded {
  buf: Uint8Array;
  offset: number;
}

const MIN_INT32 = -2147483648;
const MAX_INT32 = 2147483647;
const utf8 = new TextEncoder();

let applied = false;
let installed = false;

/**
 * Whether produce requests take records' key, value and header values as
 * plain `Uint8Array`s (the patch is installed); otherwise kafkajs needs
 * Buffers.
 */
export function recordsTakeBytes(): boolean {
  return installed;
}

function zigzag(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

function sizeOfUVarInt(value: number): number {
  let bytes = 1;
  while ((value & 0xffffff80) !== 0) {
    bytes++;
    value >>>= 7;
  }
  return bytes;
}

/**
 * Bytes of a field as kafkajs writes it: a Buffer raw, anything else as
 * UTF-8 text; unlike kafkajs, any `Uint8Array` is raw bytes too (the
 * transport hands its records' bytes without a Buffer view each).
 */
function bytesOf(value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return value;
  return utf8.encode(String(value));
}

/** A field for kafkajs' own encoder: a plain `Uint8Array` as a Buffer view. */
function asBuffer(value: unknown): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value)
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    : value;
}

/** The record's fields for kafkajs' own encoder (which reads only Buffers as bytes). */
function forKafkajs(args: RecordArgs): RecordArgs {
  const headers: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(args.headers ?? {})) {
    headers[name] = Array.isArray(v) ? v.map(asBuffer) : asBuffer(v);
  }
  return {
    ...args,
    key: asBuffer(args.key),
    value: asBuffer(args.value),
    headers,
  };
}

/** Header keys seen (few per app): their UTF-8 bytes, made once. */
const keyBytes = new Map<string, Uint8Array>();

function headerKeyBytes(key: string): Uint8Array {
  let b = keyBytes.get(key);
  if (b === undefined) {
    b = utf8.encode(key);
    if (keyBytes.size < 1024) keyBytes.set(key, b);
  }
  return b;
}

/** A field's length varint plus its bytes (-1 for null). */
function sizeOfField(b: Uint8Array | null): number {
  return b === null ? 1 : sizeOfUVarInt(zigzag(b.length)) + b.length;
}

class Writer {
  at = 0;
  constructor(readonly buf: Uint8Array) {}
  uvarint(value: number): void {
    const buf = this.buf;
    let at = this.at;
    while ((value & 0xffffff80) !== 0) {
      buf[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[at++] = value;
    this.at = at;
  }
  field(b: Uint8Array | null): void {
    if (b === null) {
      this.uvarint(zigzag(-1));
      return;
    }
    this.uvarint(zigzag(b.length));
    this.buf.set(b, this.at);
    this.at += b.length;
  }
}

/**
 * Encode one record (kafkajs' record v0 layout: length, attributes,
 * timestamp delta, offset delta, key, value, headers), or undefined when a
 * field is outside what this encoder handles (the caller falls back).
 */
export function encodeRecord(args: RecordArgs): Encoded | undefined {
  const offsetDelta = args.offsetDelta ?? 0;
  const timestampDelta = args.timestampDelta ?? 0;
  if (
    typeof timestampDelta !== "number" || !Number.isInteger(timestampDelta) ||
    timestampDelta < MIN_INT32 || timestampDelta > MAX_INT32 ||
    !Number.isInteger(offsetDelta)
  ) {
    return undefined;
  }
  const key = bytesOf(args.key);
  const value = bytesOf(args.value);
  const headerFields: (Uint8Array | null)[] = [];
  const headers = args.headers ?? {};
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    for (const one of Array.isArray(v) ? v : [v]) {
      headerFields.push(headerKeyBytes(name), bytesOf(one));
    }
  }
  let body = 1 + sizeOfUVarInt(zigzag(timestampDelta)) +
    sizeOfUVarInt(zigzag(offsetDelta)) + sizeOfField(key) + sizeOfField(value) +
    sizeOfUVarInt(zigzag(headerFields.length / 2));
  for (const f of headerFields) body += sizeOfField(f);
  const total = sizeOfUVarInt(zigzag(body)) + body;
  const w = new Writer(new Uint8Array(total));
  w.uvarint(zigzag(body));
  w.buf[w.at++] = 0; // attributes: none
  w.uvarint(zigzag(timestampDelta));
  w.uvarint(zigzag(offsetDelta));
  w.field(key);
  w.field(value);
  w.uvarint(zigzag(headerFields.length / 2));
  for (const f of headerFields) w.field(f);
  return { buf: w.buf, offset: w.at };
}

interface EncoderLike {
  buf: Uint8Array;
  offset: number;
  ensureAvailable(length: number): void;
}

/**
 * Patch kafkajs' record encoding once per process. Call before the first
 * produce request (the transport does so when it is made).
 *
 * @param warn Called with a message when the internals changed or the
 *   produce request was loaded already, and nothing was patched.
 */
export function patchKafkajsRecords(warn: (message: string) => void): void {
  if (applied) return;
  applied = true;
  const arrays = kafkajsMethod("src/protocol/encoder.js", "writeEncoderArray");
  let recordPath: string | undefined;
  let requestLoaded = false;
  let original: ((args: RecordArgs) => Encoded) | undefined;
  const require = createRequire(import.meta.url);
  try {
    const dir = require.resolve("kafkajs").replace(/index\.js$/, "");
    recordPath = require.resolve(
      `${dir}src/protocol/recordBatch/record/v0/index.js`,
    );
    const requestPath = require.resolve(
      `${dir}src/protocol/requests/produce/v3/request.js`,
    );
    requestLoaded = require.cache[requestPath] !== undefined;
    original = require(recordPath);
  } catch {
    recordPath = undefined;
  }
  const cached = recordPath === undefined
    ? undefined
    : require.cache[recordPath];
  if (
    arrays === undefined || typeof original !== "function" ||
    cached === undefined || requestLoaded
  ) {
    warn(
      requestLoaded
        ? "kafkajs' produce request was loaded before the record encoder could be replaced; records are encoded at kafkajs' speed"
        : "kafkajs internals changed: record/v0 encoder or Encoder.writeEncoderArray not found; records are encoded at kafkajs' speed",
    );
    return;
  }
  const fallback = original;
  cached.exports = (args: RecordArgs) =>
    encodeRecord(args) ?? fallback(forKafkajs(args));
  // The batch copies each record's bytes: kafkajs' own encoders and the
  // records above alike (both keep their bytes in `buf[0, offset)`).
  arrays.proto.writeEncoderArray = function (
    this: EncoderLike,
    value: unknown,
  ) {
    if (
      !Array.isArray(value) ||
      value.some((v) => v == null || !(v.buf instanceof Uint8Array))
    ) {
      throw new Error("all values should be an instance of Encoder[]");
    }
    let total = 0;
    for (const v of value as Encoded[]) total += v.offset;
    this.ensureAvailable(total);
    const dst = this.buf;
    let at = this.offset;
    for (const v of value as Encoded[]) {
      const src = v.offset === v.buf.length
        ? v.buf
        : new Uint8Array(v.buf.buffer, v.buf.byteOffset, v.offset);
      dst.set(src, at);
      at += v.offset;
    }
    this.offset = at;
    return this;
  };
  installed = true;
}
