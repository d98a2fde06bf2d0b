/**
 * The consumer claim of a group on the `local://` broker: one process
 * consumes a group at a time. The claim is an exclusive `flock` on
 * `{path}/groups/{groupId}.lock`, which the kernel drops when the holder
 * exits, even by `kill -9`. The holder writes its pid into the file so the
 * error can name it.
 *
 * @module
 */
import { LockError } from "../../errors.ts";
import { FILE_MODE, privateDir } from "../../util/private_files.ts";

/** A held file lock; {@linkcode release} gives it back. */
export interface Claim {
  /** The lock file. */
  readonly file: string;
  /** Release the lock and close the file. Idempotent. */
  release(): void;
}

/**
 * Encode a group id as a file name (any character outside `[A-Za-z0-9._-]` is escaped).
 *
 * @param groupId The group id.
 * @returns A safe file name stem.
 */
export function groupFileName(groupId: string): string {
  return groupId.replace(
    /[^A-Za-z0-9._-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * Take a group's claim without waiting.
 *
 * @param path Broker directory.
 * @param groupId Consumer group id.
 * @param url Broker URL, for the error message.
 * @returns The held claim.
 * @throws {LockError} When another consumer (in any process) holds the claim.
 */
export function claimGroup(path: string, groupId: string, url: string): Claim {
  const name = `${path}/groups/${groupFileName(groupId)}.lock`;
  privateDir(`${path}/groups`);
  const file = Deno.openSync(name, {
    read: true,
    write: true,
    create: true,
    mode: FILE_MODE,
  });
  let locked = false;
  try {
    locked = file.tryLockSync(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) {
    let holder = "another process";
    try {
      const pid = Deno.readTextFileSync(name).trim();
      if (/^\d+$/.test(pid)) {
        holder = pid === String(Deno.pid) ? "this process" : `process ${pid}`;
      }
    } catch {
      // Unreadable: keep the generic wording.
    }
    throw new LockError(
      `Consumer group "${groupId}" is already consumed by ${holder} on ${url} (lock file ${name}); ` +
        `the local:// broker allows one consumer process per group: stop the other worker, ` +
        `or use kafka:// to run several workers of one app`,
    );
  }
  file.truncateSync(0);
  file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
  let released = false;
  return {
    file: name,
    release(): void {
      if (released) return;
      released = true;
      try {
        file.truncateSync(0);
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

/**
 * Try an exclusive lock used for one short job (maintenance), or `undefined` when taken.
 *
 * @param name Lock file.
 * @returns The held lock, or `undefined` when another holder has it.
 */
export function tryLockFile(name: string): Claim | undefined {
  const file = Deno.openSync(name, {
    read: true,
    write: true,
    create: true,
    mode: FILE_MODE,
  });
  let locked = false;
  try {
    locked = file.tryLockSync(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) return undefined;
  let released = false;
  return {
    file: name,
    release(): void {
      if (released) return;
      released = true;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
