/**
 * The version of this package.
 *
 * @module
 */

/**
 * The package version, as in `deno.json`.
 *
 * @example The library's version
 * ```ts
 * import { VERSION } from "@faust/faust";
 *
 * console.log(`faust ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
