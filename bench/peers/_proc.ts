/**
 * A peer process for the harness: spawned with stdout piped (protocol
 * lines) and stderr appended to a log file, its protocol lines read with a
 * time bound, its CPU time and peak RSS read from /proc, and its stop
 * (SIGTERM, then SIGKILL after a bound).
 *
 * @module
 */

/** One protocol line (`ready`, `warm`, `done`). */
export interface PeerEvent {
  /** `ready`, `warm` or `done`. */
  readonly event: string;
  /** Events processed (warm, done). */
  readonly processed?: number;
  /** Seconds from warm to done measured by the program. */
  readonly seconds?: number;
  /** Changelog records restored (ready), when known. */
  readonly recovered?: number;
  /** The result (done). */
  readonly result?: Record<string, number>;
}

/** /proc figures of a process. */
export interface ProcSample {
  /** utime + stime in seconds. */
  readonly cpuSeconds: number;
  /** Peak resident set size (VmHWM) in MB. */
  readonly hwmMb: number;
}

/**
 * Garbage collections a process reported so far on stdout (V8's
 * `--trace-gc-nvp` lines, one JSON object per collection).
 */
export interface GcTotals {
  /** Collections. */
  readonly count: number;
  /** Main-thread pause time, ms. */
  readonly pauseMs: number;
  /** Bytes allocated (the sum of each collection's `allocated`: bytes since the previous one). */
  readonly allocatedBytes: number;
}

/** The `deno run` flag that makes V8 print one line per collection, parsed into {@linkcode GcTotals}. */
export const GC_TRACE_FLAG = "--v8-flags=--trace-gc-nvp";

/**
 * The command that runs `deno args...`: with {@linkcode GC_TRACE_FLAG},
 * under `stdbuf -oL`, so V8's trace lines (C stdio, block-buffered on a
 * pipe) reach the pipe whole and in order with the protocol lines.
 * `stdbuf` execs deno: the spawned pid is still deno's.
 *
 * @param args Arguments of deno.
 * @returns Executable and arguments.
 */
export function denoCommand(args: string[]): { cmd: string; args: string[] } {
  return args.includes(GC_TRACE_FLAG)
    ? { cmd: "stdbuf", args: ["-oL", Deno.execPath(), ...args] }
    : { cmd: Deno.execPath(), args };
}

let clockTicks = 100;

/** Read the kernel's clock ticks per second (`getconf CLK_TCK`), once. */
export async function initClockTicks(): Promise<void> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
      .output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    if (Number.isFinite(n) && n > 0) clockTicks = n;
  } catch {
    // keep 100, the Linux default
  }
}

/**
 * CPU seconds and peak RSS of `pid` from /proc.
 *
 * @param pid Process id.
 * @returns The sample.
 */
export function sampleProc(pid: number): ProcSample {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat (utime, stime); index 0 here is field 3.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(status);
  return {
    cpuSeconds: ticks / clockTicks,
    hwmMb: hwm === null ? 0 : Number(hwm[1]) / 1024,
  };
}

/** A running peer program. */
export class PeerProcess {
  /** The command that was run (for messages). */
  readonly label: string;
  /** The stderr log file. */
  readonly logPath: string;
  /** Monotonic time (ms) of the spawn. */
  readonly spawnedAt: number;
  readonly #child: Deno.ChildProcess;
  readonly #lines: ReadableStreamDefaultReader<string>;
  readonly #stderrDone: Promise<void>;
  #buf = "";
  #pending: Promise<ReadableStreamReadResult<string>> | undefined;
  #gc = { count: 0, pauseMs: 0, allocatedBytes: 0 };
  #exited = false;
  #status: Promise<Deno.CommandStatus>;

  /**
   * Spawn `cmd args` with stdout piped and stderr appended to `logPath`.
   *
   * @param cmd Executable.
   * @param args Arguments.
   * @param logPath File receiving stderr (and non-protocol stdout lines).
   * @param env Extra environment.
   */
  constructor(
    cmd: string,
    args: readonly string[],
    logPath: string,
    env: Record<string, string> = {},
  ) {
    this.label = [cmd, ...args].join(" ");
    this.logPath = logPath;
    Deno.writeTextFileSync(logPath, `$ ${this.label}\n`, { append: true });
    this.spawnedAt = performance.now();
    const child = new Deno.Command(cmd, {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    this.#child = child;
    this.#status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    this.#lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#stderrDone = (async () => {
      const file = await Deno.open(logPath, { append: true, create: true });
      try {
        for await (const chunk of child.stderr) {
          let off = 0;
          while (off < chunk.length) {
            off += await file.write(chunk.subarray(off));
          }
        }
      } finally {
        file.close();
      }
    })();
  }

  /** Process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * The next protocol line, waiting at most `timeoutMs`.
   *
   * @param timeoutMs Bound.
   * @returns The parsed line.
   * @throws {Error} On timeout or when the process closed stdout.
   */
  async next(timeoutMs: number): Promise<PeerEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl).trim();
        this.#buf = this.#buf.slice(nl + 1);
        if (line === "") continue;
        // A protocol line may follow a fragment of another writer's output
        // on the same line (V8's trace lines, written by C stdio).
        const start = line.indexOf('{"event":');
        if (start >= 0) {
          try {
            const obj = JSON.parse(line.slice(start));
            if (obj !== null && typeof obj.event === "string") {
              return obj as PeerEvent;
            }
          } catch {
            // not a protocol line
          }
        }
        const gc = line.indexOf(" GC: {");
        if (gc >= 0) {
          this.#addGc(line.slice(gc + 5));
          continue;
        }
        if (line.includes("Memory pool: ") || line.startsWith(", removed ")) {
          continue; // the other lines of --trace-gc-nvp
        }
        Deno.writeTextFileSync(this.logPath, `[stdout] ${line}\n`, {
          append: true,
        });
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) =>
        timer = setTimeout(() => r("timeout"), left)
      );
      // A read that lost the race stays pending and is reused next time.
      this.#pending ??= this.#lines.read();
      const read = await Promise.race([this.#pending, timeout]);
      clearTimeout(timer);
      if (read === "timeout") {
        throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`);
      }
      this.#pending = undefined;
      if (read.done) {
        const s = await this.#status;
        throw new Error(`process exited (code ${s.code}) before its line`);
      }
      this.#buf += read.value;
    }
  }

  /**
   * Wait for a line with `event === name` (others are skipped).
   *
   * @param name Event name.
   * @param timeoutMs Bound for the whole wait.
   * @returns The line.
   */
  async expect(name: string, timeoutMs: number): Promise<PeerEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = Math.max(1, deadline - performance.now());
      const ev = await this.next(left).catch((e: Error) => {
        throw new Error(`waiting for "${name}": ${e.message}`);
      });
      if (ev.event === name) return ev;
    }
  }

  /**
   * GC totals of the `--trace-gc-nvp` lines read so far: lines are read in
   * order with the protocol lines, so the totals right after `expect("warm")`
   * cover what happened before `warm` was printed.
   */
  gcTotals(): GcTotals {
    return { ...this.#gc };
  }

  #addGc(json: string): void {
    try {
      const o = JSON.parse(json) as { pause?: number; allocated?: number };
      this.#gc.count++;
      this.#gc.pauseMs += o.pause ?? 0;
      this.#gc.allocatedBytes += o.allocated ?? 0;
    } catch {
      // a truncated line: not counted
    }
  }

  /** CPU seconds and peak RSS now. */
  sample(): ProcSample {
    return sampleProc(this.pid);
  }

  /**
   * SIGTERM, wait up to `graceMs`, then SIGKILL.
   *
   * @param graceMs Bound of the graceful stop.
   * @returns Exit code, and whether it had to be killed.
   */
  async stop(graceMs = 30_000): Promise<{ code: number; killed: boolean }> {
    let killed = false;
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // already gone
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) =>
        timer = setTimeout(() => r("timeout"), graceMs)
      );
      const r = await Promise.race([this.#status, timeout]);
      clearTimeout(timer);
      if (r === "timeout") {
        killed = true;
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    const s = await this.#status;
    await this.#lines.cancel().catch(() => {});
    await this.#stderrDone.catch(() => {});
    return { code: s.code, killed };
  }
}
