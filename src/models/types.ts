/**
 * The shapes of models: Record types, field descriptors, type specs, the
 * TypeScript type a spec describes, and {@linkcode Serde}. Types only, so
 * the model registry and the codecs can name them without importing the
 * code that builds Records.
 *
 * @module
 */
import type { z } from "zod";

/**
 * Options of {@linkcode Record}.
 *
 * @example A model with a namespace and help
 * ```ts
 * import { Record, type RecordOptions } from "@faust/faust";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * const options: RecordOptions = { namespace: "shop", help: "An order line" };
 * const Line = Record("Line", { sku: z.string(), qty: z.number() }, options);
 * assert.equal(Line.namespace, "shop");
 * ```
 */
export interface RecordOptions {
  /** Codec for this model, e.g. `"json"`; default: the topic's or app's. */
  serializer?: string;
  /** Namespace shown in listings; the registry key is `namespace.name`. */
  namespace?: string;
  /** One line of help for the `models` command. */
  help?: string;
}

/**
 * A field of a Record: names the field and reads it from a value.
 *
 * @example Reading a field by its descriptor
 * ```ts
 * import { type FieldDescriptor, Record } from "@faust/faust";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * const Transfer = Record("Transfer", { account: z.string(), amount: z.number() });
 * const account: FieldDescriptor<string> = Transfer.fields.account;
 * assert.equal(account.qualifiedName, "Transfer.account");
 * assert.equal(account.get({ account: "a-1", amount: 5 }), "a-1");
 * ```
 */
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

/**
 * What every Record type has, whatever its shape.
 *
 * @example Accepting any Record
 * ```ts
 * import { type AnyRecordType, Record } from "@faust/faust";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * function fieldNames(model: AnyRecordType): string[] {
 *   return Object.keys(model.fields);
 * }
 * const Point = Record("Point", { x: z.number(), y: z.number() });
 * assert.deepEqual(fieldNames(Point), ["x", "y"]);
 * ```
 */
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

/**
 * A Record type made by {@linkcode Record}.
 *
 * @example A Record type with its shape
 * ```ts
 * import { Record, type RecordType } from "@faust/faust";
 * import { z } from "zod";
 * import assert from "node:assert/strict";
 *
 * const shape = { name: z.string(), age: z.number().default(0) };
 * const Person: RecordType<typeof shape> = Record("Person", shape);
 * assert.deepEqual(Person.parse({ name: "Ada" }), { name: "Ada", age: 0 });
 * assert.equal(Person.validate({ name: 1 }), false);
 * ```
 */
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

/**
 * Types of keys and values: a Record, any zod schema, or a name.
 *
 * @example Keys and values typed three ways
 * ```ts
 * import { Record, type TypeSpec } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import { z } from "zod";
 *
 * const Order = Record("Order", { id: z.string() });
 * const app = testApp("type-spec");
 * const orderKey: TypeSpec = "string";
 * const orders = app.topic("orders", { keyType: orderKey, valueType: Order });
 * const totals = app.channel({ valueType: z.array(z.number()) });
 * console.log(orders.name, totals.label);
 * ```
 */
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
 *
 * @example The TypeScript type of a spec
 * ```ts
 * import { type Infer, Record } from "@faust/faust";
 * import { z } from "zod";
 *
 * const Order = Record("Order", { id: z.string(), total: z.number() });
 * type Order = Infer<typeof Order>; // { id: string; total: number }
 * const order: Order = { id: "o-1", total: 12.5 };
 * type Ids = Infer<"string">; // string
 * const id: Ids = order.id;
 * console.log(id);
 * ```
 */
export type Infer<T> = T extends
  { readonly kind: "faust.record"; readonly schema: infer Z extends z.ZodType }
  ? z.output<Z>
  : T extends z.ZodType ? z.output<T>
  : T extends "string" ? string
  : T extends "number" ? number
  : T extends "bytes" ? Uint8Array
  : unknown;

/**
 * Bytes to a typed value and back.
 *
 * @example A topic's value serde
 * ```ts
 * import type { Serde } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("serde");
 * const numbers = app.topic("numbers", { valueType: "number" });
 * const serde: Serde<number> = numbers.valueSerde;
 * assert.equal(serde.decode(serde.encode(42)), 42);
 * ```
 */
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
