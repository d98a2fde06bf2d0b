/**
 * Loads the app named by `-A/--app module[:export]`.
 *
 * @module
 */
import type { App } from "../app.ts";
import { ConfigError } from "../errors.ts";

/**
 * Split `module[:export]` into its parts. A Windows drive letter (`C:\x`)
 * and URL schemes (`file:///x`, `https://x`) are not taken as the export.
 *
 * @param spec What was given to `--app`.
 * @returns The module and the export name, if one was given.
 */
export function parseAppSpec(
  spec: string,
): { module: string; exportName: string | undefined } {
  const i = spec.lastIndexOf(":");
  if (i <= 1) return { module: spec, exportName: undefined };
  const tail = spec.slice(i + 1);
  if (!/^[A-Za-z_$][\w$]*$/.test(tail)) {
    return { module: spec, exportName: undefined };
  }
  return { module: spec.slice(0, i), exportName: tail };
}

/**
 * Resolve a module given on the command line against the working directory.
 *
 * @param module A path (`./app.ts`, `app.ts`, `/abs/app.ts`) or URL/specifier.
 * @param cwd The working directory (default `Deno.cwd()`).
 * @returns An absolute URL to import.
 */
export function resolveModule(
  module: string,
  cwd: string = Deno.cwd(),
): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[A-Za-z]:[\\/]/.test(module)) {
    return module;
  }
  const base = new URL(`file://${cwd.endsWith("/") ? cwd : `${cwd}/`}`);
  return new URL(module.replace(/\\/g, "/"), base).href;
}

/**
 * Import the module named by `--app` and return its app: the export given
 * after `:`, else the export named `app`, else the default export.
 *
 * @param spec `module[:export]`, e.g. `./examples/agent.ts` or `./proj/app.ts:faustApp`.
 * @param cwd Directory relative paths are resolved against.
 * @returns The app.
 * @throws {ConfigError} When the module cannot be imported or has no App there.
 */
export async function loadApp(
  spec: string,
  cwd: string = Deno.cwd(),
): Promise<App> {
  const { module, exportName } = parseAppSpec(spec);
  const url = resolveModule(module, cwd);
  checkNotDirectory(spec, url);
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (error) {
    throw new ConfigError(
      `Cannot import --app module ${JSON.stringify(module)} (${url}): ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  const names = exportName !== undefined ? [exportName] : ["app", "default"];
  for (const name of names) {
    const value = mod[name];
    if (isApp(value)) return value;
    if (exportName !== undefined) {
      throw new ConfigError(
        `--app ${JSON.stringify(spec)}: export "${name}" of ${url} is ${
          value === undefined ? "missing" : "not an App"
        }; exports: ${Object.keys(mod).join(", ") || "none"}`,
      );
    }
  }
  throw new ConfigError(
    `--app ${
      JSON.stringify(spec)
    }: ${url} exports no App as "app" or as its default export; ` +
      `name one with --app ${module}:EXPORT (exports: ${
        Object.keys(mod).join(", ") || "none"
      })`,
  );
}

/**
 * A directory is not a module: say so, with the modules in it, instead of
 * the runtime's `ERR_UNSUPPORTED_DIR_IMPORT`.
 */
function checkNotDirectory(spec: string, url: string): void {
  if (!url.startsWith("file:")) return;
  const path = new URL(url).pathname;
  let isDir = false;
  try {
    isDir = Deno.statSync(path).isDirectory;
  } catch {
    return; // Missing or not readable: the import names the problem.
  }
  if (!isDir) return;
  let modules: string[] = [];
  try {
    modules = [...Deno.readDirSync(path)]
      .filter((e) => e.isFile && /\.(ts|js|mts|mjs|tsx|jsx)$/.test(e.name))
      .map((e) => e.name).sort();
  } catch {
    // Not listable: the message goes without the list.
  }
  const base = spec.replace(/\/+$/, "");
  const hint = ["app.ts", "main.ts", "mod.ts"].find((m) => modules.includes(m));
  throw new ConfigError(
    `--app ${JSON.stringify(spec)} is a directory; name the module file${
      hint !== undefined ? `, e.g. --app ${base}/${hint}` : ""
    }${modules.length > 0 ? ` (modules there: ${modules.join(", ")})` : ""}`,
  );
}

/**
 * An App, also one loaded through another URL of this package (duck-typed,
 * so the command line does not import the app module it is loaded from).
 */
function isApp(value: unknown): value is App {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.agents instanceof Map && v.commands instanceof Map &&
    typeof v.main === "function" &&
    typeof v.start === "function";
}
