/**
 * Models: zod-backed Records and type specs for keys and values; the
 * {@linkcode Serde} that turns them into bytes and back is made in
 * `serde.ts` (re-exported here).
 *
 * @module
 */
import { z } from "zod";
import { ConfigError, DecodeError } from "./errors.ts";
import { formatIssues } from "./models/serde.ts";
import { registerModel } from "./models/registry.ts";
import type {
  FieldDescriptor,
  RecordOptions,
  RecordType,
} from "./models/types.ts";

export {
  describeModel,
  listModels,
  type ModelDescription,
} from "./models/registry.ts";

export { isRecordType, makeSerde } from "./models/serde.ts";

export type {
  AnyRecordType,
  FieldDescriptor,
  Infer,
  RecordOptions,
  RecordType,
  Serde,
  TypeSpec,
} from "./models/types.ts";

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
