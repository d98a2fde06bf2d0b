/**
 * GlobalTable: a table every worker holds in full. Partitions this worker
 * does not own are followed as standbys (replayed at assignment, then kept
 * up to date from the changelog), so reads see every key on every worker.
 * Writes work as in a table: on the current event's partition.
 *
 * @module
 */
import type { TP } from "../util/types.ts";
import { Table } from "./table.ts";

/**
 * A table replicated to every worker.
 *
 * @typeParam K Key type.
 * @typeParam V Value type.
 *
 * @example Settings every worker reads
 * ```ts
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("global");
 * // Every worker holds every partition of a global table.
 * const limits = app.globalTable<string, number>("limits", { default: () => 100 });
 * await app.start();
 * try {
 *   assert.equal(limits.get("user-1"), 100);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export class GlobalTable<K = unknown, V = unknown> extends Table<K, V> {
  /**
   * @internal Hold every partition: the owned ones active, all others standby.
   */
  override partitionsFor(
    active: readonly TP[],
    standbys: readonly TP[],
  ): { active: Set<number>; standby: Set<number> } {
    const held = super.partitionsFor(active, standbys);
    if (!this.groupManaged()) return held;
    for (let p = 0; p < this.partitionCount; p++) {
      if (!held.active.has(p)) held.standby.add(p);
    }
    return held;
  }
}
