/**
 * SetTable: a table whose values are sets. Members are changed with
 * `add`, `discard`, `clear` and in-place set algebra (`union`,
 * `intersection`, `difference`, `symmetricDifference`); each change writes
 * the whole new set to the changelog, stored as a JSON array. A set that
 * becomes empty is deleted (`get` returns an empty set for it).
 *
 * Members are compared as JavaScript `Set` does (by value for strings and
 * numbers, by identity for objects), so use primitive members.
 *
 * @module
 */
import type { Codec } from "../codecs.ts";
import { DecodeError } from "../errors.ts";
import { makeSerde, type TypeSpec } from "../models.ts";
import { Table, type TableHost, type TableOptions } from "./table.ts";

/**
 * Options of `app.setTable()`: those of a table, with `valueType` naming the member type.
 *
 * @example Members of a given type
 * ```ts
 * import type { SetTableOptions } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const options: SetTableOptions<string, number> = { valueType: "number" };
 * const app = testApp("set-options");
 * const seenPorts = app.setTable("ports", options);
 * console.log(seenPorts.name);
 * ```
 */
export interface SetTableOptions<K, M>
  extends
    Omit<TableOptions<K, Set<M>>, "default" | "valueType" | "valueSerializer"> {
  /** Type of the members (validated on write and read). */
  readonly valueType?: TypeSpec;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function setCodec(table: string, memberType: TypeSpec | undefined): Codec {
  const member = memberType === undefined
    ? undefined
    : makeSerde<unknown>(memberType, "json", "json");
  const check = (m: unknown): unknown =>
    member === undefined ? m : member.decode(member.encode(m));
  return {
    dumps(value: unknown): Uint8Array {
      if (!(value instanceof Set)) {
        throw new TypeError(
          `SetTable "${table}" values are Sets; got ${typeof value}`,
        );
      }
      return encoder.encode(JSON.stringify([...value].map(check)));
    },
    loads(bytes: Uint8Array): unknown {
      const members = JSON.parse(decoder.decode(bytes));
      if (!Array.isArray(members)) {
        throw new DecodeError(
          `SetTable "${table}": stored value is not a JSON array`,
        );
      }
      return new Set(members.map(check));
    },
  };
}

/**
 * A table of sets.
 *
 * @typeParam K Key type.
 * @typeParam M Member type.
 *
 * @example Tags per article
 * ```ts
 * import { testApp, waitFor } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("tags");
 * const tagged = app.topic("tagged", { keyType: "string", valueType: "string" });
 * const tags = app.setTable<string, string>("tags", { valueType: "string" });
 * app.agent(tagged, async (stream) => {
 *   for await (const [article, tag] of stream.items()) tags.add(article, tag);
 * }, { name: "tagger" });
 * await app.start();
 * try {
 *   await tagged.send({ key: "a-1", value: "deno" });
 *   await tagged.send({ key: "a-1", value: "kafka" });
 *   await waitFor(() => tags.get("a-1").size === 2, 5000, "two tags");
 *   assert.ok(tags.get("a-1").has("deno"));
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class SetTable<K = unknown, M = unknown> extends Table<K, Set<M>> {
  /**
   * Create a set table. Use `app.setTable()`.
   *
   * @param host The app.
   * @param name Table name.
   * @param options Options; `valueType` is the member type.
   */
  constructor(
    host: TableHost,
    name: string,
    options: SetTableOptions<K, M> = {},
  ) {
    const { valueType, ...rest } = options;
    super(host, name, {
      ...rest,
      valueSerializer: setCodec(name, valueType),
      default: () => new Set<M>(),
    });
  }

  /**
   * Add `member` to the set of `key`.
   *
   * @param key The key.
   * @param member The member.
   * @returns The new set.
   */
  add(key: K, member: M): Set<M> {
    return this.union(key, [member]);
  }

  /**
   * Remove `member` from the set of `key` (no error when absent).
   *
   * @param key The key.
   * @param member The member.
   * @returns The new set.
   */
  discard(key: K, member: M): Set<M> {
    return this.difference(key, [member]);
  }

  /**
   * Empty the set of `key` (the key is deleted).
   *
   * @param key The key.
   */
  clear(key: K): void {
    this.#store(key, new Set());
  }

  /**
   * Add every member of `members` to the set of `key`.
   *
   * @param key The key.
   * @param members Members to add.
   * @returns The new set.
   */
  union(key: K, members: Iterable<M>): Set<M> {
    const s = this.get(key);
    for (const m of members) s.add(m);
    return this.#store(key, s);
  }

  /**
   * Keep only the members also in `members`.
   *
   * @param key The key.
   * @param members Members to keep.
   * @returns The new set.
   */
  intersection(key: K, members: Iterable<M>): Set<M> {
    const keep = new Set(members);
    return this.#store(
      key,
      new Set([...this.get(key)].filter((m) => keep.has(m))),
    );
  }

  /**
   * Remove every member of `members`.
   *
   * @param key The key.
   * @param members Members to remove.
   * @returns The new set.
   */
  difference(key: K, members: Iterable<M>): Set<M> {
    const s = this.get(key);
    for (const m of members) s.delete(m);
    return this.#store(key, s);
  }

  /**
   * Keep members in exactly one of the set and `members`.
   *
   * @param key The key.
   * @param members Members to toggle.
   * @returns The new set.
   */
  symmetricDifference(key: K, members: Iterable<M>): Set<M> {
    const s = this.get(key);
    for (const m of new Set(members)) {
      if (s.has(m)) s.delete(m);
      else s.add(m);
    }
    return this.#store(key, s);
  }

  #store(key: K, s: Set<M>): Set<M> {
    if (s.size === 0) this.delete(key);
    else this.set(key, s);
    return s;
  }
}
