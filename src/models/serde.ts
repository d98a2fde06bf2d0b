/**
 * Serdes: how a topic or table turns keys and values of a type spec
 * (a Record, a zod schema, a codec name) into bytes and back, checked
 * against the spec both ways.
 *
 * @module
 */
import type { z } from "zod";
import { type Codec, codecs, dumpsShortLived } from "../codecs.ts";
import type { Slab } from "../util/slab.ts";
import { DecodeError } from "../errors.ts";
import type { AnyRecordType, Serde, TypeSpec } from "./types.ts";

/** The issues of a failed zod parse, one `path: message` each. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) =>
    `${i.path.length === 0 ? "(value)" : i.path.join(".")}: ${i.message}`
  ).join("; ");
}

/**
 * Whether a value is a Record type made by {@linkcode Record}.
 *
 * @param value Anything.
 * @returns `true` for Record types.
 */
export function isRecordType(value: unknown): value is AnyRecordType {
  return typeof value === "object" && value !== null &&
    (value as { kind?: unknown }).kind === "faust.record";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (value instanceof Uint8Array) return "a Uint8Array";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function specName(spec: TypeSpec | undefined): string {
  if (spec === undefined) return "untyped";
  if (typeof spec === "string") return `"${spec}"`;
  if (isRecordType(spec)) return spec.name;
  return "zod schema";
}

function loadsWith(codec: Codec, bytes: Uint8Array, label: string): unknown {
  try {
    return codec.loads(bytes);
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw new DecodeError(
      `Cannot decode ${bytes.length} bytes as ${label}: ${
        (error as Error)?.message ?? String(error)
      }`,
      { cause: error },
    );
  }
}

/**
 * @internal A serde that can also encode bytes that are dropped soon after
 * (a record sent to the broker) without a buffer of their own.
 */
export interface SendSerde<T> extends Serde<T> {
  /**
   * As `encode`; the bytes may share a buffer (of `slab`, by default the
   * short-lived one): do not keep them.
   */
  encodeShortLived(value: T, slab?: Slab): Uint8Array;
}

function checked(
  codec: Codec,
  label: string,
  check: (value: unknown) => unknown,
  encodeCheck: (value: unknown) => string | undefined,
): SendSerde<unknown> {
  const refuse = (value: unknown): void => {
    const problem = encodeCheck(value);
    if (problem !== undefined) {
      throw new TypeError(
        `Cannot encode ${kindOf(value)} as ${label}: ${problem}`,
      );
    }
  };
  return {
    encode(value: unknown): Uint8Array {
      refuse(value);
      return codec.dumps(value);
    },
    encodeShortLived(value: unknown, slab?: Slab): Uint8Array {
      refuse(value);
      return dumpsShortLived(codec, value, slab);
    },
    decode(bytes: Uint8Array): unknown {
      return check(loadsWith(codec, bytes, label));
    },
  };
}

function schemaSerde(
  schema: z.ZodType,
  codec: Codec,
  label: string,
): SendSerde<unknown> {
  const problem = (v: unknown) => {
    const r = schema.safeParse(v);
    return r.success ? undefined : formatIssues(r.error);
  };
  return checked(codec, label, (v) => {
    const r = schema.safeParse(v);
    if (!r.success) {
      throw new DecodeError(`Invalid ${label}: ${formatIssues(r.error)}`, {
        cause: r.error,
      });
    }
    return r.data;
  }, problem);
}

/**
 * Build the encoder/decoder for a key or value type.
 *
 * - `"string"`: the `raw` codec (UTF-8) unless a serializer is given;
 *   decodes to a string (invalid UTF-8 is a {@linkcode DecodeError}).
 * - `"number"`: `json` unless given; decoding checks it is a number.
 * - `"bytes"`: `raw` unless given; decodes to a Uint8Array.
 * - `"json"`: `json` unless given; no checks.
 * - A Record or zod schema: the given serializer, else the Record's own,
 *   else `fallbackSerializer` (with `"raw"` read as `"json"`, since raw
 *   cannot hold objects); values are validated both ways.
 * - `undefined`: the serializer (else `fallbackSerializer`), no checks.
 *
 * @typeParam T The value type, usually `Infer<typeof spec>`.
 * @param spec The type, or `undefined` for untyped.
 * @param serializer Codec name or codec chosen for this topic, if any.
 * @param fallbackSerializer The app's `keySerializer` or `valueSerializer`.
 * @returns The serde.
 * @throws {ConfigError} When a codec name is not registered.
 */
export function makeSerde<T = unknown>(
  spec: TypeSpec | undefined,
  serializer: string | Codec | undefined,
  fallbackSerializer: string,
): SendSerde<T> {
  const label = specName(spec);
  let serde: SendSerde<unknown>;
  if (spec === "string") {
    serde = checked(codecs.get(serializer ?? "raw"), label, (v) => {
      if (typeof v === "string") return v;
      if (!(v instanceof Uint8Array)) {
        throw new DecodeError(`Cannot decode ${kindOf(v)} as "string"`);
      }
      try {
        return utf8.decode(v);
      } catch (error) {
        throw new DecodeError(
          `Cannot decode ${v.length} bytes as "string": not valid UTF-8`,
          { cause: error },
        );
      }
    }, (v) => typeof v === "string" ? undefined : "expected a string");
  } else if (spec === "number") {
    serde = checked(
      codecs.get(serializer ?? "json"),
      label,
      (v) => {
        if (typeof v === "number") return v;
        throw new DecodeError(`Cannot decode ${kindOf(v)} as "number"`);
      },
      (v) =>
        typeof v === "number" && Number.isFinite(v)
          ? undefined
          : "expected a finite number",
    );
  } else if (spec === "bytes") {
    serde = checked(
      codecs.get(serializer ?? "raw"),
      label,
      (v) => {
        if (v instanceof Uint8Array) return v;
        if (typeof v === "string") return utf8Encoder.encode(v);
        throw new DecodeError(`Cannot decode ${kindOf(v)} as "bytes"`);
      },
      (v) =>
        v instanceof Uint8Array || typeof v === "string"
          ? undefined
          : "expected a Uint8Array",
    );
  } else if (spec === "json") {
    serde = checked(
      codecs.get(serializer ?? "json"),
      label,
      (v) => v,
      () => undefined,
    );
  } else if (spec === undefined) {
    serde = checked(
      codecs.get(serializer ?? fallbackSerializer),
      label,
      (v) => v,
      () => undefined,
    );
  } else {
    const own = isRecordType(spec) ? spec.serializer : undefined;
    const fallback = fallbackSerializer === "raw" ? "json" : fallbackSerializer;
    const codec = codecs.get(serializer ?? own ?? fallback);
    serde = schemaSerde(isRecordType(spec) ? spec.schema : spec, codec, label);
  }
  return serde as SendSerde<T>;
}
