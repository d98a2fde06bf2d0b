/**
 * Data files readable by their owner only. Table stores and the `local://`
 * broker hold every record and table value: directories are created 0700
 * and files 0600, and ones left by older versions with wider modes are
 * narrowed when opened. LMDB creates its files 0664 itself, so they are
 * created here first (it keeps the mode of a file that exists).
 *
 * @module
 */

/** Mode of data directories. */
export const DIR_MODE = 0o700;
/** Mode of data files. */
export const FILE_MODE = 0o600;

const posix = Deno.build.os !== "windows";

/**
 * Create `path` (and missing parents) owner-only; narrow it if it exists.
 *
 * @param path A directory.
 */
export function privateDir(path: string): void {
  Deno.mkdirSync(path, { recursive: true, mode: DIR_MODE });
  if (posix) Deno.chmodSync(path, DIR_MODE);
}

/**
 * Create each file empty when missing, owner-only; narrow existing ones.
 *
 * @param paths Files.
 */
export function privateFiles(...paths: string[]): void {
  for (const path of paths) {
    Deno.openSync(path, { create: true, append: true, mode: FILE_MODE })
      .close();
    if (posix) Deno.chmodSync(path, FILE_MODE);
  }
}
