/**
 * Models: zod-backed Records, type specs for keys and values, and the
 * {@linkcode Serde} that turns them into bytes and back.
 *
 * @module
 */
import { z } from "zod";
import { type Codec, codecs } from "./codecs.ts";
import { ConfigError, DecodeError } from "./errors.ts";
import { registerModel } from "./model_registry.ts";
import type {
  AnyRecordType,
  FieldDescriptor,
  RecordOptions,
  RecordType,
  Serde,
  TypeSpec,
} from "./model_types.ts";

export {
  describeModel,
  listModels,
  type ModelDescription,
} from "./model_registry.ts";

export type {
  AnyRecordType,
  FieldDescriptor,
  Infer,
  RecordOptions,
  RecordType,
  Serde,
  TypeSpec,
} from "./model_types.ts";

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) =>
    `${i.path.length === 0 ? "(value)" : i.path.join(".")}: ${i.message}`
  ).join("; ");
}

/**
 * Define a model: a named zod object schema with field descriptors.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { type Infer, Record } from "./models.ts";
 * const Transfer = Record("Transfer", { account: z.string(), amount: z.number() });
 * type Transfer = Infer<typeof Transfer>; // { account: string; amount: number }
 * const t: Transfer = Transfer.parse({ account: "a1", amount: 5 });
 * ```
 *
 * @typeParam S The zod shape.
 * @param name Model name, used in errors, listings and `Model.field` names.
 * @param shape Field schemas, as for `z.object(shape)`.
 * @param options Serializer, namespace and help.
 * @returns The Record type.
 * @throws {ConfigError} When the name is empty.
 */
export function Record<S extends z.ZodRawShape>(
  name: string,
  shape: S,
  options: RecordOptions = {},
): RecordType<S> {
  if (typeof name !== "string" || name.trim() === "") {
    throw new ConfigError(
      `Invalid model name ${JSON.stringify(name)}; expected a non-empty string`,
    );
  }
  const schema = z.object(shape);
  const fields: Record<string, FieldDescriptor> = {};
  const model: RecordType<S> = {
    kind: "faust.record",
    name,
    namespace: options.namespace,
    serializer: options.serializer,
    help: options.help,
    schema,
    fields: fields as RecordType<S>["fields"],
    parse(input: unknown): z.output<z.ZodObject<S>> {
      const result = schema.safeParse(input);
      if (!result.success) {
        throw new DecodeError(
          `Invalid ${name}: ${formatIssues(result.error)}`,
          { cause: result.error },
        );
      }
      return result.data;
    },
    validate(value: unknown): value is z.output<z.ZodObject<S>> {
      return schema.safeParse(value).success;
    },
  };
  for (const key of Object.keys(shape)) {
    fields[key] = {
      model,
      name: key,
      qualifiedName: `${name}.${key}`,
      get(value: unknown): unknown {
        if (typeof value !== "object" || value === null) {
          throw new TypeError(
            `Cannot read field "${name}.${key}" of ${
              value === null ? "null" : typeof value
            }; expected a ${name} object`,
          );
        }
        return (value as Record<string, unknown>)[key];
      },
    };
  }
  Object.freeze(fields);
  const qualified = options.namespace ? `${options.namespace}.${name}` : name;
  registerModel(qualified, Object.freeze(model));
  return model;
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

function checked(
  codec: Codec,
  label: string,
  check: (value: unknown) => unknown,
  encodeCheck: (value: unknown) => string | undefined,
): Serde<unknown> {
  return {
    encode(value: unknown): Uint8Array {
      const problem = encodeCheck(value);
      if (problem !== undefined) {
        throw new TypeError(
          `Cannot encode ${kindOf(value)} as ${label}: ${problem}`,
        );
      }
      return codec.dumps(value);
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
): Serde<unknown> {
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
): Serde<T> {
  const label = specName(spec);
  let serde: Serde<unknown>;
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
  return serde as Serde<T>;
}
