/**
 * Registrations an app keeps for the edges (web pages, CLI commands) and
 * the seam tables plug into. Kept apart from `app.ts` so those layers can
 * import the types without importing the app.
 *
 * @module
 */
import type { Settings } from "./settings.ts";
import type { TP } from "./types.ts";
import type { TopicSpec } from "./transport/transport.ts";
import type { Context } from "hono";

/**
 * A web page handler: Hono's context in, a Response out. `P` is the page's
 * path, so the parameters it names are typed: for `"/count/:word/"`,
 * `c.req.param("word")` is a `string`.
 */
export type PageHandler<P extends string = string> = (
  // deno-lint-ignore no-explicit-any
  c: Context<any, P>,
) => Response | Promise<Response>;

/** A class-based view: methods named after HTTP verbs (`P`: its path). */
export interface View<P extends string = string> {
  /** GET. */
  // deno-lint-ignore no-explicit-any
  get?(c: Context<any, P>): Response | Promise<Response>;
  /** POST. */
  // deno-lint-ignore no-explicit-any
  post?(c: Context<any, P>): Response | Promise<Response>;
  /** PUT. */
  // deno-lint-ignore no-explicit-any
  put?(c: Context<any, P>): Response | Promise<Response>;
  /** PATCH. */
  // deno-lint-ignore no-explicit-any
  patch?(c: Context<any, P>): Response | Promise<Response>;
  /** DELETE. */
  // deno-lint-ignore no-explicit-any
  delete?(c: Context<any, P>): Response | Promise<Response>;
}

/**
 * The settings as `onConfigured` handlers receive them: writable. What a
 * handler assigns is validated again (errors name the setting) and becomes
 * `app.conf`; derived defaults follow (a new `datadir` moves a default
 * `tabledir`). `id` and `appId` cannot change.
 */
export type SettingsDraft = { -readonly [K in keyof Settings]: Settings[K] };

/** A page registered with `app.page()`. */
export interface PageRegistration {
  /** Path, Hono syntax (`/count/:word`). */
  readonly path: string;
  /** Function or view. */
  readonly handler: PageHandler | View;
}

/** An option of a custom command. */
export interface CommandOption {
  /** commander flags, e.g. `"-n, --count <n>"`. */
  readonly flags: string;
  /** Help text. */
  readonly description?: string;
  /** Default value. */
  readonly default?: string | boolean | number;
}

/** Options of `app.command()`. */
export interface CommandOptions {
  /** Help shown in `--help`. */
  readonly description?: string;
  /** Options (`--flag`). */
  readonly options?: readonly CommandOption[];
  /** Positional arguments, commander syntax (`"<name>"`, `"[rest...]"`). */
  readonly arguments?: readonly string[];
}

/** What a command function receives. */
export interface CommandContext {
  /** Positional arguments. */
  readonly args: readonly string[];
  /** Parsed options. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** A custom command registered with `app.command()`. */
export interface CommandRegistration {
  /** Command name. */
  readonly name: string;
  /** The function. */
  readonly fn: (ctx: CommandContext) => unknown;
  /** Options. */
  readonly options: CommandOptions;
}

/** The seam tables plug into: the app calls these in its start/stop order. */
export interface TableLike {
  /** Table name. */
  readonly name: string;
  /** Help text. */
  readonly help: string | undefined;
  /** Changelog topic spec (created at start). */
  changelogSpec(): TopicSpec;
  /** Open the store. */
  open(): Promise<void>;
  /** Recover assigned partitions (active and standby) before streams resume. */
  assigned(active: readonly TP[], standbys: readonly TP[]): Promise<void>;
  /** Forget revoked partitions. */
  revoked(revoked: readonly TP[]): Promise<void>;
  /**
   * Hand changes held back by the changelog record cache to the producer.
   * A commit calls it before it flushes the producer, so the changes of the
   * events it commits are appended (exactly-once: in its transaction).
   */
  stage?(): void;
  /** Write what is pending (before offsets are committed). */
  flush(): Promise<void>;
  /** Exactly-once: the changes written so far were committed with a transaction. */
  release?(): void;
  /** Close the store. */
  close(): Promise<void>;
  /** Periodic work (window cleanup). */
  tick?(): Promise<void>;
  /** Number of keys held. */
  readonly size: number;
}
