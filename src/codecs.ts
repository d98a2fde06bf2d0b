/**
 * Codecs turn values into bytes and back: `raw`, `json` and `binary`
 * (base64) are built in, more can be registered, and names compose with
 * `|` as in Faust.
 *
 * @module
 */
import { ConfigError, DecodeError } from "./errors.ts";
import { SHORT_LIVED, type Slab } from "./util/slab.ts";

/**
 * Turns values into bytes (`dumps`) and bytes into values (`loads`).
 *
 * @example A codec of your own, registered by name
 * ```ts
 * import { type Codec, codecs } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const upper: Codec = {
 *   dumps: (value) => new TextEncoder().encode(String(value).toUpperCase()),
 *   loads: (bytes) => new TextDecoder().decode(bytes),
 * };
 * if (!codecs.has("upper")) codecs.register("upper", upper);
 * assert.equal(codecs.get("upper").loads(codecs.get("upper").dumps("hi")), "HI");
 * ```
 */
export interface Codec {
  /**
   * Encode a value.
   *
   * @param value The value to encode.
   * @returns The encoded bytes.
   */
  dumps(value: unknown): Uint8Array;
  /**
   * Decode bytes.
   *
   * @param bytes The bytes to decode.
   * @returns The decoded value.
   */
  loads(bytes: Uint8Array): unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Bytes pass through; strings are encoded as UTF-8; `loads` returns the bytes. */
const raw: Codec = {
  dumps(value: unknown): Uint8Array {
    if (value instanceof Uint8Array) return value;
    if (typeof value === "string") return encoder.encode(value);
    throw new TypeError(
      `Codec "raw" cannot encode ${
        describe(value)
      }; expected a Uint8Array or a string`,
    );
  },
  loads(bytes: Uint8Array): unknown {
    return bytes;
  },
};

/** JSON text as UTF-8. A Uint8Array value is written as the UTF-8 string it holds. */
const json: Codec = {
  dumps(value: unknown): Uint8Array {
    const v = value instanceof Uint8Array ? decoder.decode(value) : value;
    const text = JSON.stringify(v);
    if (text === undefined) {
      throw new TypeError(`Codec "json" cannot encode ${describe(value)}`);
    }
    return encoder.encode(text);
  },
  loads(bytes: Uint8Array): unknown {
    const text = decoder.decode(bytes);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new DecodeError(
        `Codec "json" cannot decode ${bytes.length} bytes: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  },
};

/**
 * @internal `codec.dumps(value)` for bytes that are dropped soon after (a
 * record sent to the broker): the built-in `json` and `raw` codecs encode
 * text into a shared slab (see util/slab.ts) instead of a buffer per value.
 *
 * @param slab The slab (by default the one of records on their way to the broker).
 */
export function dumpsShortLived(
  codec: Codec,
  value: unknown,
  slab: Slab = SHORT_LIVED,
): Uint8Array {
  if (codec === json) {
    if (value instanceof Uint8Array) return json.dumps(value);
    const text = JSON.stringify(value);
    if (text === undefined) return json.dumps(value);
    return slab.encode(text);
  }
  if (codec === raw && typeof value === "string") {
    return slab.encode(value);
  }
  return codec.dumps(value);
}

/** Base64 of bytes, or of a string's UTF-8; `loads` returns the decoded bytes. */
const binary: Codec = {
  dumps(value: unknown): Uint8Array {
    const bytes = typeof value === "string" ? encoder.encode(value) : value;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `Codec "binary" cannot encode ${
          describe(value)
        }; expected a Uint8Array or a string`,
      );
    }
    return encoder.encode(bytes.toBase64());
  },
  loads(bytes: Uint8Array): unknown {
    const text = decoder.decode(bytes).trim();
    try {
      return Uint8Array.fromBase64(text);
    } catch (error) {
      throw new DecodeError(
        `Codec "binary" cannot decode ${bytes.length} bytes: not valid base64`,
        { cause: error },
      );
    }
  },
};

function toBytes(value: unknown, codec: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return encoder.encode(value);
  throw new DecodeError(
    `Codec "${codec}" cannot decode ${
      describe(value)
    }; the codec after it in the chain must yield bytes or a string`,
  );
}

/**
 * Chain codecs: `dumps` runs them left to right, `loads` right to left.
 * Between steps of `loads`, a string result is UTF-8 encoded for the next codec.
 */
function compose(names: readonly string[], parts: readonly Codec[]): Codec {
  return {
    dumps(value: unknown): Uint8Array {
      let out: unknown = value;
      for (const c of parts) out = c.dumps(out);
      return out as Uint8Array;
    },
    loads(bytes: Uint8Array): unknown {
      let out: unknown = bytes;
      for (let i = parts.length - 1; i >= 0; i--) {
        out = parts[i]!.loads(toBytes(out, names[i]!));
      }
      return out;
    },
  };
}

const registry = new Map<string, Codec>([
  ["raw", raw],
  ["json", json],
  ["binary", binary],
]);

function lookup(name: string): Codec {
  const codec = registry.get(name);
  if (codec === undefined) {
    throw new ConfigError(
      `Unknown codec ${JSON.stringify(name)}; registered codecs: ${
        [...registry.keys()].sort().join(", ")
      } (combine them with "|", e.g. "binary|json")`,
    );
  }
  return codec;
}

/**
 * The codec registry: look codecs up by name and register new ones.
 *
 * @example Listing the codecs
 * ```ts
 * import { type CodecRegistry, codecs } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const registry: CodecRegistry = codecs;
 * assert.ok(registry.names().includes("json"));
 * ```
 */
export interface CodecRegistry {
  /**
   * Find a codec by name, or return a codec object as is.
   *
   * Names separated by `|` compose: `dumps` applies them left to right and
   * `loads` in reverse order, as in Faust.
   *
   * @example Composing codecs
   * ```ts
   * import { codecs } from "./codecs.ts";
   * // dumps: base64 the bytes, then write that text as a JSON string.
   * const codec = codecs.get("binary|json");
   * const bytes = codec.dumps(new TextEncoder().encode("hi")); // '"aGk="'
   * const back = codec.loads(bytes) as Uint8Array; // the bytes of "hi"
   * ```
   *
   * @param nameOrCodec A codec name such as `"json"` or `"binary|json"`, or a codec.
   * @returns The codec.
   * @throws {ConfigError} When a name is not registered.
   */
  get(nameOrCodec: string | Codec): Codec;
  /**
   * Register a codec under a new name.
   *
   * @param name Name to register, without `|`.
   * @param codec The codec.
   * @throws {ConfigError} When the name is taken or not allowed.
   */
  register(name: string, codec: Codec): void;
  /**
   * Whether a name (or `|` chain of names) resolves to registered codecs.
   *
   * @param name A codec name.
   * @returns `true` when {@linkcode CodecRegistry.get} would succeed.
   */
  has(name: string): boolean;
  /**
   * The registered names, sorted.
   *
   * @returns Codec names.
   */
  names(): string[];
}

/**
 * The codec registry shared by every app in the process.
 *
 * @example Encoding and decoding JSON
 * ```ts
 * import { codecs } from "@faust/faust";
 * import assert from "node:assert/strict";
 *
 * const json = codecs.get("json");
 * const bytes = json.dumps({ a: 1 });
 * assert.deepEqual(json.loads(bytes), { a: 1 });
 * ```
 */
export const codecs: CodecRegistry = {
  get(nameOrCodec: string | Codec): Codec {
    if (typeof nameOrCodec !== "string") return nameOrCodec;
    const names = nameOrCodec.split("|").map((n) => n.trim());
    if (names.length === 1) return lookup(names[0]!);
    return compose(names, names.map(lookup));
  },
  register(name: string, codec: Codec): void {
    if (name.trim() === "" || name.includes("|") || name !== name.trim()) {
      throw new ConfigError(
        `Invalid codec name ${
          JSON.stringify(name)
        }; expected a non-empty name without "|" or surrounding spaces`,
      );
    }
    if (registry.has(name)) {
      throw new ConfigError(
        `Codec ${JSON.stringify(name)} is already registered`,
      );
    }
    if (
      typeof codec?.dumps !== "function" || typeof codec?.loads !== "function"
    ) {
      throw new ConfigError(
        `Invalid codec ${
          JSON.stringify(name)
        }; expected an object with dumps() and loads()`,
      );
    }
    registry.set(name, codec);
  },
  has(name: string): boolean {
    return name.split("|").every((n) => registry.has(n.trim()));
  },
  names(): string[] {
    return [...registry.keys()].sort();
  },
};
