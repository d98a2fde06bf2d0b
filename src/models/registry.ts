/**
 * The registry of Records defined in the process, for the CLI's `models`
 * and `model NAME` commands.
 *
 * @module
 */
import type { z } from "zod";
import { ConfigError } from "../errors.ts";
import type { AnyRecordType } from "./types.ts";

/** A model as listed by the CLI's `models` and `model NAME` commands. */
export interface ModelDescription {
  /** Model name (with `namespace.` when the model has one). */
  name: string;
  /** Help text, if given. */
  help?: string;
  /** Fields in declaration order. */
  fields: {
    /** Field name. */
    name: string;
    /** zod type name, e.g. `"string"`, `"array<number>"`, or a Record's name. */
    type: string;
    /** Whether the field may be left out. */
    optional: boolean;
    /** The default value, when the field has one. */
    default?: unknown;
  }[];
}

const registry = new Map<string, AnyRecordType>();
const modelOfSchema = new WeakMap<z.ZodType, string>();

/**
 * Add a Record to the registry (called by `Record()`); a model defined again
 * under the same name replaces the earlier one.
 *
 * @param key The model name, with `namespace.` when it has one.
 * @param model The Record type.
 */
export function registerModel(key: string, model: AnyRecordType): void {
  registry.set(key, model);
  modelOfSchema.set(model.schema, key);
}

function typeName(schema: z.ZodType): string {
  const model = modelOfSchema.get(schema);
  if (model !== undefined) return model;
  const def = schema.def as unknown as {
    type: string;
    innerType?: z.ZodType;
    element?: z.ZodType;
    valueType?: z.ZodType;
    options?: z.ZodType[];
    values?: unknown[];
    entries?: Record<string, unknown>;
  };
  switch (def.type) {
    case "optional":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return def.innerType ? typeName(def.innerType) : def.type;
    case "nullable":
      return def.innerType ? `${typeName(def.innerType)} | null` : def.type;
    case "array":
      return def.element ? `array<${typeName(def.element)}>` : def.type;
    case "record":
      return def.valueType ? `record<${typeName(def.valueType)}>` : def.type;
    case "union":
      return (def.options ?? []).map(typeName).join(" | ");
    case "literal":
      return (def.values ?? []).map((v) => JSON.stringify(v)).join(" | ");
    case "enum":
      return Object.values(def.entries ?? {}).map((v) => JSON.stringify(v))
        .join(" | ");
    default:
      return def.type;
  }
}

function describe(key: string, model: AnyRecordType): ModelDescription {
  const desc: ModelDescription = { name: key, fields: [] };
  if (model.help !== undefined) desc.help = model.help;
  for (const [name, field] of Object.entries(model.schema.shape)) {
    const schema = field as z.ZodType;
    const entry: ModelDescription["fields"][number] = {
      name,
      type: typeName(schema),
      optional: schema.safeParse(undefined).success,
    };
    let s: z.ZodType = schema;
    while (true) {
      const def = s.def as unknown as {
        type: string;
        innerType?: z.ZodType;
        defaultValue?: unknown;
      };
      if (def.type === "default") {
        entry.default = def.defaultValue;
        break;
      }
      if (def.innerType === undefined || def.type === "nullable") break;
      s = def.innerType;
    }
    desc.fields.push(entry);
  }
  return desc;
}

/**
 * Every Record defined in this process, in definition order (a model
 * defined again under the same name replaces the earlier one).
 *
 * @returns Descriptions with fields, types and defaults.
 */
export function listModels(): ModelDescription[] {
  return [...registry].map(([key, model]) => describe(key, model));
}

/**
 * Describe one Record by name (`namespace.name` when it has a namespace).
 *
 * @param name The model name.
 * @returns Its fields, types, optionality and defaults.
 * @throws {ConfigError} When no model has that name.
 */
export function describeModel(name: string): ModelDescription {
  const model = registry.get(name);
  if (model === undefined) {
    const known = [...registry.keys()].sort();
    throw new ConfigError(
      `Unknown model ${JSON.stringify(name)}; ${
        known.length === 0
          ? "no models are defined"
          : `defined models: ${known.join(", ")}`
      }`,
    );
  }
  return describe(name, model);
}
