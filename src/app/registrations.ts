/**
 * Registrations an app keeps for the edges (web pages, CLI commands) and
 * the seam tables plug into. Kept apart from `app.ts` so those layers can
 * import the types without importing the app.
 *
 * @module
 */
import type { Settings } from "../settings/settings.ts";
import type { TP } from "../util/types.ts";
import type { TopicSpec } from "../transport/transport.ts";
import type { Context } from "hono";

/**
 * A web page handler: Hono's context in, a Response out. `P` is the page's
 * path, so the parameters it names are typed: for `"/count/:word/"`,
 * `c.req.param("word")` is a `string`.
 *
 * @example A page with a typed path parameter
 * ```ts
 * import type { PageHandler } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("pages");
 * const hello: PageHandler<"/hello/:name/"> = (c) =>
 *   c.json({ hello: c.req.param("name") });
 * app.page("/hello/:name/", hello);
 * ```
 */
export type PageHandler<P extends string = string> = (
  // deno-lint-ignore no-explicit-any
  c: Context<any, P>,
) => Response | Promise<Response>;

/**
 * A class-based view: methods named after HTTP verbs (`P`: its path).
 *
 * @example A view with GET and POST
 * ```ts
 * import type { View } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const notes: string[] = [];
 * const view: View<"/notes/"> = {
 *   get: (c) => c.json(notes),
 *   post: async (c) => {
 *     notes.push(await c.req.text());
 *     return c.json({ ok: true });
 *   },
 * };
 * const app = testApp("views");
 * app.page("/notes/", view);
 * ```
 */
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
 *
 * @example Changing a setting before the app uses it
 * ```ts
 * import type { App, SettingsDraft } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("draft");
 * app.onConfigured.connect((_app: App, draft: SettingsDraft) => {
 *   draft.topicPartitions = 3;
 * });
 * assert.equal(app.conf.topicPartitions, 3);
 * ```
 */
export type SettingsDraft = { -readonly [K in keyof Settings]: Settings[K] };

/**
 * A page registered with `app.page()`.
 *
 * @example Listing the pages of an app
 * ```ts
 * import type { PageRegistration } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("page-list");
 * app.page("/health/", (c) => c.text("ok"));
 * const pages: readonly PageRegistration[] = app.pages;
 * assert.ok(pages.some((p) => p.path === "/health/"));
 * ```
 */
export interface PageRegistration {
  /** Path, Hono syntax (`/count/:word`). */
  readonly path: string;
  /** Function or view. */
  readonly handler: PageHandler | View;
}

/**
 * An option of a custom command.
 *
 * @example A command option with a default
 * ```ts
 * import type { CommandOption } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const count: CommandOption = {
 *   flags: "-n, --count <n>",
 *   description: "How many",
 *   default: "1",
 * };
 * const app = testApp("cmd-option");
 * app.command("repeat", ({ options }) => console.log(options.count), {
 *   options: [count],
 * });
 * ```
 */
export interface CommandOption {
  /** commander flags, e.g. `"-n, --count <n>"`. */
  readonly flags: string;
  /** Help text. */
  readonly description?: string;
  /** Default value. */
  readonly default?: string | boolean | number;
}

/**
 * Options of `app.command()`.
 *
 * @example A command with arguments
 * ```ts
 * import type { CommandOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: CommandOptions = {
 *   description: "Greet someone",
 *   arguments: ["<name>"],
 * };
 * const app = testApp("cmd-options");
 * app.command("greet", ({ args }) => console.log(`hello ${args[0]}`), options);
 * ```
 */
export interface CommandOptions {
  /** Help shown in `--help`. */
  readonly description?: string;
  /** Options (`--flag`). */
  readonly options?: readonly CommandOption[];
  /** Positional arguments, commander syntax (`"<name>"`, `"[rest...]"`). */
  readonly arguments?: readonly string[];
}

/**
 * What a command function receives.
 *
 * @example What a command receives
 * ```ts
 * import type { CommandContext } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * function greet(ctx: CommandContext): void {
 *   console.log(`hello ${ctx.args.join(" ")} ${ctx.options.loud ? "!" : ""}`);
 * }
 * const app = testApp("cmd-context");
 * app.command("greet", greet, {
 *   arguments: ["[names...]"],
 *   options: [{ flags: "--loud" }],
 * });
 * ```
 */
export interface CommandContext {
  /** Positional arguments. */
  readonly args: readonly string[];
  /** Parsed options. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * A custom command registered with `app.command()`.
 *
 * @example Listing the custom commands
 * ```ts
 * import type { CommandRegistration } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("cmd-list");
 * app.command("hello", () => console.log("hello"), {});
 * const hello: CommandRegistration | undefined = app.commands.get("hello");
 * assert.equal(hello?.name, "hello");
 * ```
 */
export interface CommandRegistration {
  /** Command name. */
  readonly name: string;
  /** The function; an integer it returns is the exit code of the run. */
  readonly fn: (ctx: CommandContext) => unknown;
  /** Options. */
  readonly options: CommandOptions;
}

/**
 * The seam tables plug into: the app calls these in its start/stop order.
 *
 * @example The tables an app holds
 * ```ts
 * import type { TableLike } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("table-like");
 * app.table("counts", { default: () => 0 });
 * const tables: TableLike[] = [...app.tables.values()];
 * assert.deepEqual(tables.map((t) => t.changelogSpec().name), [
 *   "table-like-counts-changelog",
 * ]);
 * ```
 */
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
  /** Write what is pending to the changelog and the store. */
  flush(): Promise<void>;
  /**
   * Resolve once what is pending is in the changelog (acknowledged): what
   * an offset commit waits for; the store may follow later. Without it, a
   * commit waits for {@linkcode flush}.
   */
  durable?(): Promise<void>;
  /** Exactly-once: the changes written so far were committed with a transaction. */
  release?(): void;
  /** Close the store. */
  close(): Promise<void>;
  /** Periodic work (window cleanup). */
  tick?(): Promise<void>;
  /** Number of keys held. */
  readonly size: number;
}
