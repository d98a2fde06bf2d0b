/**
 * The version of this package.
 *
 * @module
 */

/** The package version, as in `deno.json`. */
export const VERSION = "0.1.0";
