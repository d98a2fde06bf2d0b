/**
 * Autodiscovery: import a project's modules so that the agents, timers,
 * commands and pages they declare register with the app (Faust's
 * `autodiscover` setting).
 *
 * - `autodiscover: true` imports every module under the directory of
 *   `origin` (a file URL or path of the app's module or project folder).
 * - `autodiscover: ["./users", "./orders/agents.ts"]` imports those modules,
 *   or every module under those directories, relative to `origin`'s folder.
 *
 * Skipped: tests (`*_test.ts`, `*.test.ts`), files and folders starting with
 * `_` or `.`, `node_modules`, and the program's main module.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Settings } from "../settings/settings.ts";

/** What autodiscovery needs of an app. */
export interface Discoverable {
  /** Settings with `autodiscover` and `origin`. */
  readonly conf: Settings;
}

const EXTENSIONS = /\.(ts|tsx|mts|js|mjs|jsx)$/;
const SKIP_FILE = /(_test|\.test|\.d)\.(ts|tsx|mts|js|mjs|jsx)$/;
const done = new WeakMap<Discoverable, Promise<string[]>>();

function toDirUrl(origin: string, cwd: string): URL {
  const base = new URL(`file://${cwd.endsWith("/") ? cwd : `${cwd}/`}`);
  const url =
    /^[a-z][a-z0-9+.-]*:/i.test(origin) && !/^[A-Za-z]:[\\/]/.test(origin)
      ? new URL(origin)
      : new URL(origin, base);
  if (url.protocol !== "file:") {
    throw new ConfigError(
      `Invalid setting "origin": ${
        JSON.stringify(origin)
      }; autodiscovery needs a local file or folder (file:// URL or path)`,
    );
  }
  if (EXTENSIONS.test(url.pathname)) return new URL(".", url);
  return url.pathname.endsWith("/") ? url : new URL(`${url.href}/`);
}

async function walk(dir: URL, out: string[], depth: number): Promise<void> {
  if (depth > 16) return;
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) entries.push(e);
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (
      e.name.startsWith(".") || e.name.startsWith("_") ||
      e.name === "node_modules"
    ) continue;
    if (e.isDirectory) await walk(new URL(`${e.name}/`, dir), out, depth + 1);
    else if (e.isFile && EXTENSIONS.test(e.name) && !SKIP_FILE.test(e.name)) {
      out.push(new URL(e.name, dir).href);
    }
  }
}

async function modulesOf(target: URL): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(target);
  } catch (error) {
    throw new ConfigError(
      `Autodiscovery cannot read ${target.pathname}: ${
        (error as Error).message
      }; check "autodiscover" and "origin"`,
      { cause: error },
    );
  }
  if (info.isFile) return [target.href];
  const out: string[] = [];
  await walk(
    target.href.endsWith("/") ? target : new URL(`${target.href}/`),
    out,
    0,
  );
  return out;
}

/**
 * Import the modules the app's `autodiscover` setting names. Runs once per
 * app; later calls return the first call's result.
 *
 * @param app The app (its `conf.autodiscover` and `conf.origin`).
 * @param options `cwd` resolves a relative `origin` (default `Deno.cwd()`).
 * @returns The URLs of the modules imported, in order.
 * @throws {ConfigError} When `origin` is missing or a module cannot be read or imported.
 */
export function autodiscover(
  app: Discoverable,
  options: { cwd?: string } = {},
): Promise<string[]> {
  let p = done.get(app);
  if (p === undefined) {
    p = discover(app.conf, options.cwd ?? Deno.cwd());
    done.set(app, p);
  }
  return p;
}

async function discover(conf: Settings, cwd: string): Promise<string[]> {
  const setting = conf.autodiscover;
  if (setting === false || (Array.isArray(setting) && setting.length === 0)) {
    return [];
  }
  if (conf.origin === undefined) {
    throw new ConfigError(
      `Setting "autodiscover" needs "origin": the app's module or project folder, e.g. origin: import.meta.url`,
    );
  }
  const root = toDirUrl(conf.origin, cwd);
  const targets = setting === true
    ? [root]
    : (setting as readonly string[]).map((m) => new URL(m, root));
  const main = Deno.mainModule;
  const found: string[] = [];
  for (const t of targets) {
    for (const m of await modulesOf(t)) {
      if (m !== main && !found.includes(m)) found.push(m);
    }
  }
  for (const m of found) {
    try {
      await import(m);
    } catch (error) {
      throw new ConfigError(
        `Autodiscovery cannot import ${m}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return found;
}
