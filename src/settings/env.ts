/**
 * Reading environment variables without asking for permission.
 *
 * @module
 */

/**
 * Read an environment variable only if access is already granted.
 *
 * Never prompts and never throws: without `--allow-env` (or with a
 * permission that does not cover `name`) the variable counts as not set.
 *
 * @param name Name of the environment variable, e.g. `"FAUST_BROKER"`.
 * @returns The value, or `undefined` when unset or not permitted.
 */
export function readEnv(name: string): string | undefined {
  try {
    const status = Deno.permissions.querySync({ name: "env", variable: name });
    if (status.state !== "granted") return undefined;
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
