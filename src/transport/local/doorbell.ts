/**
 * Doorbell: wakes consumers waiting on the `local://` broker when another
 * process (or this one) appends records. LMDB has no change notification,
 * so a producer truncates the bell file `{path}/doorbell` after each commit
 * (one syscall) and waiting consumers watch it with `Deno.watchFs`
 * (inotify: no polling, no CPU while idle). Consumers also re-check on a
 * slow timer in case an event is lost.
 *
 * The bell file also rings for this process's own appends, which have
 * woken its waiters already. With a `version` (the broker's last committed
 * LMDB transaction id), a file event wakes the waiters only when something
 * was committed since their last wake-up: on an idle broker a round trip
 * wakes each consumer once instead of twice.
 *
 * Chosen over a unix datagram socket per consumer because that needs
 * `--unstable-net` in Deno, and a producer would have to list and send to
 * every socket; measured wake-up latency of the watched file is below 1 ms
 * (p50) on Linux.
 *
 * @module
 */
import { FILE_MODE } from "../../util/private_files.ts";

/** A bell shared by all transports of one broker path in this process. */
export class Doorbell {
  #path: string;
  #file: Deno.FsFile | undefined;
  #watcher: Deno.FsWatcher | undefined;
  #loop: Promise<void> | undefined;
  #watchers = 0;
  #generation = 0;
  #waiters = new Set<() => void>();
  #closed = false;
  readonly #version: (() => number) | undefined;
  /** `#version()` at the last wake-up. */
  #woken = -1;

  /**
   * Create a doorbell on a file.
   *
   * @param path The bell file (created on first ring or watch).
   * @param version The broker's last committed transaction id, read fresh
   *   (not from a snapshot); without it every file event wakes the waiters.
   */
  constructor(path: string, version?: () => number) {
    this.#path = path;
    this.#version = version;
  }

  /** Counter bumped on every ring seen; compare it across a check to avoid lost wake-ups. */
  get generation(): number {
    return this.#generation;
  }

  /** Wake waiters in this process and, through the bell file, in others. */
  ring(): void {
    if (this.#closed) return;
    this.#wake();
    this.#file ??= Deno.openSync(this.#path, {
      write: true,
      create: true,
      mode: FILE_MODE,
    });
    this.#file.truncateSync(0);
  }

  /** Wake waiters in this process only (e.g. after `resume`). */
  notifyLocal(): void {
    this.#wake();
  }

  /** Start watching the bell file (counted; the first call starts the watcher). */
  watch(): void {
    if (this.#closed || this.#watchers++ > 0) return;
    Deno.writeFileSync(this.#path, new Uint8Array(0), {
      append: true,
      create: true,
      mode: FILE_MODE,
    });
    const watcher = Deno.watchFs(this.#path, { recursive: false });
    this.#watcher = watcher;
    this.#loop = (async () => {
      try {
        for await (const _ of watcher) {
          // Waiters woken at or after that commit read past it already.
          if (this.#version?.() === this.#woken) continue;
          this.#wake();
        }
      } catch {
        // The watcher was closed or the file removed: the slow poll still works.
      }
    })();
  }

  /** Stop one watch; the last one closes the watcher. */
  async unwatch(): Promise<void> {
    if (this.#watchers === 0 || --this.#watchers > 0) return;
    await this.#stopWatcher();
  }

  /**
   * Wait until the generation differs from `generation`, `ms` pass or `signal` aborts.
   *
   * @param generation The generation read before checking for records.
   * @param ms Longest wait in milliseconds.
   * @param signal Ends the wait early.
   */
  wait(generation: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (
      generation !== this.#generation || signal?.aborted || ms <= 0 ||
      this.#closed
    ) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.#waiters.add(done);
    });
  }

  /** Wake all waiters, close the watcher and the bell file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    await this.#stopWatcher();
    this.#file?.close();
    this.#file = undefined;
  }

  #wake(): void {
    // Read before the waiters run: each reads at least up to this commit.
    if (this.#version !== undefined) this.#woken = this.#version();
    this.#generation++;
    for (const done of [...this.#waiters]) done();
  }

  async #stopWatcher(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    this.#watchers = 0;
    if (watcher === undefined) return;
    watcher.close();
    await this.#loop;
  }
}
