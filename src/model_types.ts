/**
 * The shapes of models: Record types, field descriptors, type specs, the
 * TypeScript type a spec describes, and {@linkcode Serde}. Types only, so
 * the model registry and the codecs can name them without importing the
 * code that builds Records.
 *
 * @module
 */
import type { z } from "zod";

/** Options of {@linkcode Record}. */
export interface RecordOptions {
  /** Codec for this model, e.g. `"json"`; default: the topic's or app's. */
  serializer?: string;
  /** Namespace shown in listings; the registry key is `namespace.name`. */
  namespace?: string;
  /** One line of help for the `models` command. */
  help?: string;
}

/** A field of a Record: names the field and reads it from a value. */
export interface FieldDescriptor<T = unknown> {
  /** The Record the field belongs to. */
  readonly model: AnyRecordType;
  /** Field name, e.g. `"account"`. */
  readonly name: string;
  /** `Model.field`, e.g. `"Transfer.account"` (used in repartition topic names). */
  readonly qualifiedName: string;
  /**
   * Read the field from a value of the model.
   *
   * @param value A value of the model.
   * @returns The field's value.
   * @throws {TypeError} When `value` is not an object.
   */
  get(value: unknown): T;
}

/** What every Record type has, whatever its shape. */
export interface AnyRecordType {
  /** Marks Record types (see {@linkcode isRecordType}). */
  readonly kind: "faust.record";
  /** Model name. */
  readonly name: string;
  /** Namespace, if given. */
  readonly namespace: string | undefined;
  /** Codec name for this model, if given. */
  readonly serializer: string | undefined;
  /** One line of help, if given. */
  readonly help: string | undefined;
  /** The zod object schema. */
  readonly schema: z.ZodObject;
  /** Field descriptors by field name. */
  readonly fields: { readonly [name: string]: FieldDescriptor };
  /**
   * Validate and return a value of the model.
   *
   * @param input Anything.
   * @returns The parsed value (zod defaults applied).
   * @throws {DecodeError} Naming the model and the zod issues.
   */
  parse(input: unknown): unknown;
  /**
   * Whether a value matches the model.
   *
   * @param value Anything.
   * @returns `true` when it parses.
   */
  validate(value: unknown): boolean;
}

/** A Record type made by {@linkcode Record}. */
export interface RecordType<S extends z.ZodRawShape> extends AnyRecordType {
  /** The zod object schema. */
  readonly schema: z.ZodObject<S>;
  /** Field descriptors, e.g. `Transfer.fields.account` for `groupBy`. */
  readonly fields: {
    readonly [K in keyof S & string]: FieldDescriptor<z.output<S[K]>>;
  };
  /**
   * Validate and return a value of the model.
   *
   * @param input Anything.
   * @returns The parsed value (zod defaults applied).
   * @throws {DecodeError} Naming the model and the zod issues.
   */
  parse(input: unknown): z.output<z.ZodObject<S>>;
  /**
   * Whether a value matches the model.
   *
   * @param value Anything.
   * @returns `true` when it parses.
   */
  validate(value: unknown): value is z.output<z.ZodObject<S>>;
}

/** Types of keys and values: a Record, any zod schema, or a name. */
export type TypeSpec =
  | AnyRecordType
  | z.ZodType
  | "string"
  | "number"
  | "bytes"
  | "json";

/**
 * The TypeScript type a {@linkcode TypeSpec} describes: a Record's plain
 * object type, a zod schema's output, `string`, `number`, `Uint8Array`, or
 * `unknown` for `"json"`.
 */
export type Infer<T> = T extends
  { readonly kind: "faust.record"; readonly schema: infer Z extends z.ZodType }
  ? z.output<Z>
  : T extends z.ZodType ? z.output<T>
  : T extends "string" ? string
  : T extends "number" ? number
  : T extends "bytes" ? Uint8Array
  : unknown;

/** Bytes to a typed value and back. */
export interface Serde<T> {
  /**
   * Encode a value.
   *
   * @param value The value.
   * @returns Its bytes.
   */
  encode(value: T): Uint8Array;
  /**
   * Decode bytes.
   *
   * @param bytes The bytes.
   * @returns The value.
   * @throws {DecodeError} When the bytes do not decode or do not match the type.
   */
  decode(bytes: Uint8Array): T;
}
