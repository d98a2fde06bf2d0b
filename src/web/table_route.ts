/**
 * Table routing for web requests: find the worker that owns a table key
 * (the owner of the key's changelog partition, from the group routing the
 * leader publishes) and, when it is another worker, forward the request
 * there (Faust's `@app.table_route`). A forwarded request carries the
 * `x-faust-routed` header: a worker that gets one for a key it does not
 * own answers 503 instead of forwarding again (the group is rebalancing).
 *
 * @module
 */
import type { Context } from "hono";
import type { PageHandler, TableLike } from "../app/registrations.ts";
import { partitionForKey } from "../producer/partitioner.ts";
import { type GroupRouting, ownerOf } from "../rpc/routing.ts";

/**
 * What table routing reads from the app: its tables, its own URL, whether
 * it runs, and the group's published routing. The app satisfies it as it
 * is; the web edge depends on this, not on the app.
 */
export interface KeyRouting {
  /** This worker's web URL, as the group's routing names it. */
  readonly conf: { readonly canonicalUrl: string };
  /** Whether the app has started and not yet stopped. */
  readonly running: boolean;
  /** Tables by name. */
  readonly tables: ReadonlyMap<string, TableLike>;
  /** The transport's driver name (`"kafka"` shares partitions out by group). */
  readonly transport: { readonly driver: string };
  /** The group's assignment as last published. */
  routing(): Promise<GroupRouting>;
}

/** Header marking a request forwarded by another worker. */
export const ROUTED_HEADER = "x-faust-routed";

/** A table as the web views use it (duck-typed: tables expose a Map-like API). */
export interface BrowsableTable extends TableLike {
  /** Value of a key. */
  get?(key: unknown): unknown;
  /** Whether a key is present. */
  has?(key: unknown): boolean;
  /** Entries held. */
  entries?(): Iterable<[unknown, unknown]>;
  /** Changelog partition of a key. */
  partitionFor?(key: unknown): number;
  /** The key codec. */
  keySerde?: { encode(key: unknown): Uint8Array };
}

/**
 * Key candidates for text from a URL: the text, then the JSON value it parses as.
 *
 * @param text The key as it appears in the URL.
 * @returns Readings to try, in order.
 */
export function keyCandidates(text: string): unknown[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed === text ? [text] : [text, parsed];
  } catch {
    return [text];
  }
}

function encodeKey(table: BrowsableTable, text: string): Uint8Array {
  if (table.keySerde !== undefined) {
    for (const k of keyCandidates(text)) {
      try {
        return table.keySerde.encode(k);
      } catch {
        // Try the next reading of the text.
      }
    }
  }
  return new TextEncoder().encode(text);
}

/** Where a table key lives. */
export interface KeyOwner {
  /** Table name. */
  readonly table: string;
  /** Changelog partition of the key. */
  readonly partition: number;
  /** Web URL of the owning worker, or `null` while nobody owns it. */
  readonly url: string | null;
  /** Whether this worker owns it. */
  readonly local: boolean;
}

/**
 * The worker that owns a table key, as `/router/{table}/{key}/` answers it.
 *
 * @param app The app (its tables and routing).
 * @param tableName Table name.
 * @param key The key as text (encoded with the table's key codec to pick the partition).
 * @returns The partition and the owner, or `undefined` when the table is unknown.
 */
export async function keyOwner(
  app: KeyRouting,
  tableName: string,
  key: string,
): Promise<KeyOwner | undefined> {
  const table = app.tables.get(tableName) as BrowsableTable | undefined;
  if (table === undefined) return undefined;
  const spec = table.changelogSpec();
  const partition = typeof table.partitionFor === "function"
    ? table.partitionFor(key)
    : partitionForKey(encodeKey(table, key), spec.partitions);
  const self = app.conf.canonicalUrl;
  const routing = await app.routing();
  const url = ownerOf(routing, { topic: spec.name, partition }) ??
    // Nothing published (no group protocol): this worker holds every partition.
    (routing.group ? null : self);
  return { table: tableName, partition, url, local: url === self };
}

/**
 * Options of {@linkcode tableRoute}.
 *
 * @example Serving a key from the worker that owns it
 * ```ts
 * import type { TableRouteOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("routed");
 * const counts = app.table<string, number>("counts", { default: () => 0 });
 * const byWord: TableRouteOptions = { matchInfo: "word" };
 * app.page(
 *   "/count/:word/",
 *   app.tableRoute(counts, byWord, (c) => c.json(counts.get(c.req.param("word")))),
 * );
 * ```
 */
export interface TableRouteOptions {
  /** Take the key from this path parameter (`/count/:word/` -> `"word"`). */
  readonly matchInfo?: string;
  /** Take the key from this query parameter. */
  readonly queryParam?: string;
  /** Always this key. */
  readonly exactKey?: string;
}

function keyOf(c: Context, options: TableRouteOptions): string | undefined {
  if (options.exactKey !== undefined) return options.exactKey;
  if (options.matchInfo !== undefined) return c.req.param(options.matchInfo);
  if (options.queryParam !== undefined) return c.req.query(options.queryParam);
  return undefined;
}

/**
 * Forward the request to the worker that owns `key` of `tableName`, or
 * resolve `undefined` when this worker owns it (serve it here).
 *
 * @param app The app (its tables and routing).
 * @param tableName Table name.
 * @param key The key as text.
 * @param c The request context.
 * @returns The owner's response, an error response, or `undefined` for local.
 */
export async function routeToOwner(
  app: KeyRouting,
  tableName: string,
  key: string,
  c: Context,
): Promise<Response | undefined> {
  let owner: KeyOwner | undefined;
  try {
    owner = await keyOwner(app, tableName, key);
  } catch (error) {
    // Starting, stopping, or the broker is unreachable: nobody can say
    // who owns the key right now.
    return retryLater(
      c,
      `Cannot tell which worker owns key "${key}" of table "${tableName}" right now: ${
        (error as Error).message
      }`,
    );
  }
  if (owner === undefined) {
    return c.json({ error: `Unknown table "${tableName}"` }, 404);
  }
  if (owner.local) {
    // The published routing lags a rebalance: serve only a partition the
    // table holds, recovered, as active; anything else would answer from
    // a stale or empty copy (a wrong value, or 404 for a key that exists).
    if (!app.running || !servesPartition(app, tableName, owner.partition)) {
      return retryLater(
        c,
        `Partition ${owner.partition} of table "${tableName}" is not ready on this worker (starting, recovering or rebalancing); retry shortly`,
      );
    }
    return undefined;
  }
  if (owner.url === null || c.req.header(ROUTED_HEADER) !== undefined) {
    return retryLater(
      c,
      `No worker owns partition ${owner.partition} of table "${tableName}" right now (rebalancing); retry shortly`,
    );
  }
  const target = new URL(c.req.path, owner.url);
  target.search = new URL(c.req.url).search;
  const headers = new Headers(c.req.raw.headers);
  headers.set(ROUTED_HEADER, app.conf.canonicalUrl);
  headers.delete("host");
  const method = c.req.method;
  try {
    const res = await fetch(target, {
      method,
      headers,
      ...(method === "GET" || method === "HEAD"
        ? {}
        : { body: await c.req.arrayBuffer() }),
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  } catch (error) {
    // The owner is gone (stopped or killed): the group is about to move
    // its partitions.
    return retryLater(
      c,
      `Cannot reach ${owner.url}, owner of partition ${owner.partition} of table "${tableName}": ${
        (error as Error).message
      }`,
    );
  }
}

/** 503 with Retry-After: the answer exists, just not here and now. */
function retryLater(c: Context, error: string): Response {
  return c.json({ error }, 503, { "Retry-After": "1" });
}

/**
 * Whether this worker's copy of a table partition is the one to answer
 * from: in a consumer group, only an active, recovered partition (tables
 * without that notion, and brokers without groups, serve what they hold).
 */
function servesPartition(
  app: KeyRouting,
  table: string,
  partition: number,
): boolean {
  const t = app.tables.get(table) as
    | (BrowsableTable & { readonly activePartitions?: readonly number[] })
    | undefined;
  const active = t?.activePartitions;
  if (active === undefined || app.transport.driver !== "kafka") return true;
  return active.includes(partition);
}

/**
 * Wrap a page handler so requests for keys another worker owns are
 * forwarded to it (Faust's `@app.table_route`).
 *
 * @param app The app (its tables and routing).
 * @param table Name of the table.
 * @param options Where the key comes from.
 * @param handler Serves keys this worker owns.
 * @returns The routed handler.
 */
export function tableRoute<P extends string = string>(
  app: KeyRouting,
  table: string,
  options: TableRouteOptions,
  handler: PageHandler<P>,
): PageHandler<P> {
  return async (c) => {
    const key = keyOf(c as Context, options);
    if (key === undefined) return await handler(c);
    return await routeToOwner(app, table, key, c as Context) ??
      await handler(c);
  };
}
