/**
 * Helpers for end-to-end tests: run `deno` subprocesses with bounded waits.
 *
 * @module
 */

/** The project root (a file URL ending in `/`). */
export const ROOT: URL = new URL("../../", import.meta.url);
/** The project's deno.json, passed to subprocesses started from temp dirs. */
export const CONFIG: string = new URL("deno.json", ROOT).pathname;

/** A running subprocess with its output collected. */
export class Proc {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<Deno.CommandStatus>;
  #pumps: Promise<void>[];

  constructor(
    args: string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: options.cwd ?? ROOT.pathname,
      env: { NO_COLOR: "1", ...(options.env ?? {}) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (
      stream: ReadableStream<Uint8Array>,
      which: "stdout" | "stderr",
    ) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this[which] += dec.decode(chunk, { stream: true });
      }
    };
    this.#pumps = [
      pump(this.child.stdout, "stdout"),
      pump(this.child.stderr, "stderr"),
    ];
    this.#done = this.child.status;
  }

  /** stdout and stderr together. */
  get output(): string {
    return `${this.stdout}\n${this.stderr}`;
  }

  /** Wait until the output matches `re`; throws with the output after `ms`. */
  async waitFor(re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    const t0 = Date.now();
    let exited = false;
    this.#done.then(() => exited = true);
    while (Date.now() - t0 < ms) {
      const m = this.output.match(re);
      if (m !== null) return m;
      if (exited) {
        await Promise.all(this.#pumps);
        const again = this.output.match(re);
        if (again !== null) return again;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `Timed out after ${ms} ms waiting for ${re}; output:\n${this.output}`,
    );
  }

  /** Send a signal (ignored when already exited). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Wait for the exit within `ms` (SIGKILL after that, and throw). */
  async exit(ms = 30_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), ms)
    );
    const result = await Promise.race([this.#done, timeout]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.kill("SIGKILL");
      await this.#done;
      await Promise.all(this.#pumps);
      throw new Error(
        `Process did not exit within ${ms} ms; output:\n${this.output}`,
      );
    }
    await Promise.all(this.#pumps);
    return result;
  }
}

/**
 * Run deno to completion.
 *
 * @param args Arguments after `deno`.
 * @param options Working directory, environment, bound in ms.
 * @returns Exit code and output.
 */
export async function run(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; ms?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = new Proc(args, options);
  const status = await p.exit(options.ms ?? 60_000);
  return { code: status.code, stdout: p.stdout, stderr: p.stderr };
}

/** `deno run -A --config deno.json FILE ...args` arguments. */
export function denoRun(file: string, ...args: string[]): string[] {
  return [
    "run",
    "-A",
    "--config",
    CONFIG,
    new URL(file, ROOT).pathname,
    ...args,
  ];
}
