/**
 * A module that creates an app, is run with a command (`deno run app.ts
 * worker`) and never calls `app.main()` would exit 0 having done nothing.
 * This notices it when the process is about to exit and says what to add.
 *
 * @module
 */

/** Built-in command names (and help flags) that mean "the CLI was wanted". */
const COMMANDS = new Set([
  "worker",
  "send",
  "agents",
  "tables",
  "models",
  "model",
  "reset",
  "clean-versions",
  "help",
  "--help",
]);

const created: string[] = [];
let ran = false;
let installed = false;
let hinted = false;

/**
 * The command the process was given, if its first argument names one.
 *
 * @param args The process arguments.
 * @returns The command, or `undefined`.
 */
export function commandOf(args: readonly string[]): string | undefined {
  const first = args[0];
  return first !== undefined && COMMANDS.has(first) ? first : undefined;
}

/**
 * Note that an app was created (called by the `App` constructor).
 *
 * @param id The app id.
 */
export function appCreated(id: string): void {
  created.push(id);
  if (installed) return;
  installed = true;
  try {
    globalThis.addEventListener("beforeunload", hint);
  } catch {
    // No event target (not a Deno main thread): no hint.
  }
}

/** Note that the command line ran (`app.main()` or `cli.ts`). */
export function cliRan(): void {
  ran = true;
}

function hint(): void {
  if (ran || hinted || created.length === 0) return;
  let command: string | undefined;
  try {
    command = commandOf(Deno.args);
  } catch {
    return;
  }
  if (command === undefined) return;
  hinted = true;
  console.error(
    `App "${
      created[0]
    }" was created, but the command line never ran, so "${command}" did nothing. ` +
      `End the module with: if (import.meta.main) await app.main();`,
  );
  Deno.exitCode = 2;
}
