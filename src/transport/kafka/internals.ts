/**
 * Reaching a kafkajs internal class, for the patches beside this file that
 * mend kafkajs behaviour it offers no option for.
 *
 * @module
 */
import { createRequire } from "node:module";

/** A kafkajs internal prototype and the original of the method to wrap. */
export interface InternalMethod {
  /** The prototype to put the wrapper on. */
  readonly proto: Record<string, unknown>;
  /** The method as kafkajs wrote it. */
  readonly original: (...args: unknown[]) => unknown;
}

/**
 * The prototype exported by `module` (a path inside the kafkajs package,
 * e.g. `src/broker/index.js`) and its `method`; `undefined` when the module
 * or the method is not there (another kafkajs version): the caller warns.
 *
 * @param module Path of the module inside the kafkajs package.
 * @param method Name of the method to wrap.
 */
export function kafkajsMethod(
  module: string,
  method: string,
): InternalMethod | undefined {
  let proto: Record<string, unknown> | undefined;
  try {
    const require = createRequire(import.meta.url);
    const kafkajsMain = require.resolve("kafkajs");
    const exported = require(
      kafkajsMain.replace(/index\.js$/, module),
    ) as { prototype?: Record<string, unknown> };
    proto = exported.prototype;
  } catch {
    return undefined;
  }
  const original = proto?.[method];
  if (proto === undefined || typeof original !== "function") return undefined;
  return { proto, original: original as (...args: unknown[]) => unknown };
}
