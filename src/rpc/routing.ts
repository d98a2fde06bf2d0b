/**
 * Who owns what across the workers of a group, for table routing: the
 * member that computes a Kafka group assignment publishes every member's
 * web URL and partitions to the app's leader topic
 * (`{appId}-__assignor-__leader`, one partition, as Faust names it); any
 * worker reads the latest record to find the worker that owns a table key.
 * The owner of that topic's partition 0 is the group's leader
 * (`app.isLeader()`, `onLeader` timers).
 *
 * @module
 */
import type { GroupMember } from "../transport/transport.ts";
import {
  partitionsByTopic,
  partitionsFromTopics,
  type TP,
} from "../util/types.ts";

/**
 * One worker's share of the group.
 *
 * @example Listing the workers of a group
 * ```ts
 * import type { MemberRoute } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 *
 * const app = testApp("members");
 * await app.start();
 * try {
 *   const members: readonly MemberRoute[] = (await app.routing()).members;
 *   for (const m of members) console.log(m.url, m.active.length);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export interface MemberRoute {
  /** Its web URL (`canonicalUrl`). */
  readonly url: string;
  /** Partitions it owns. */
  readonly active: readonly TP[];
  /** Partitions it follows as standby. */
  readonly standby: readonly TP[];
}

/**
 * The group's assignment as published by the member that computed it.
 *
 * @example Whether partitions are shared out
 * ```ts
 * import type { GroupRouting } from "@faust/faust";
 * import { testApp } from "@faust/faust/testing";
 * import assert from "node:assert/strict";
 *
 * const app = testApp("routing");
 * await app.start();
 * try {
 *   const routing: GroupRouting = await app.routing();
 *   // memory:// has no group protocol: this worker holds every partition.
 *   assert.equal(routing.group, false);
 * } finally {
 *   await app.stop();
 * }
 * ```
 */
export interface GroupRouting {
  /** Whether partitions are shared out by a group protocol (else this worker holds all). */
  readonly group: boolean;
  /** When it was computed (ms since the epoch); 0 when not published. */
  readonly at: number;
  /** Every member. */
  readonly members: readonly MemberRoute[];
}

/** Key of the routing record in the leader topic. */
export const ROUTING_KEY = "routing";

/**
 * The leader topic of an app.
 *
 * @param appId The app id.
 * @returns `{appId}-__assignor-__leader`.
 */
export function leaderTopic(appId: string): string {
  return `${appId}-__assignor-__leader`;
}

/**
 * Encode a group assignment for the leader topic.
 *
 * @param members Members with their metadata (`web` is the URL).
 * @param at Time of the assignment.
 * @returns JSON bytes.
 */
export function encodeRouting(
  members: readonly GroupMember[],
  at: number = Date.now(),
): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    at,
    members: members.map((m) => ({
      url: m.meta.web ?? "",
      active: partitionsByTopic(m.active),
      standby: partitionsByTopic(m.standby),
    })),
  }));
}

/**
 * Decode a routing record; anything unreadable gives `undefined`.
 *
 * @param bytes The record value.
 * @returns The routing, or `undefined`.
 */
export function decodeRouting(
  bytes: Uint8Array | null,
): GroupRouting | undefined {
  if (bytes === null) return undefined;
  try {
    const raw = JSON.parse(new TextDecoder().decode(bytes)) as {
      at?: unknown;
      members?: unknown;
    };
    if (!Array.isArray(raw.members)) return undefined;
    return {
      group: true,
      at: typeof raw.at === "number" ? raw.at : 0,
      members: raw.members.map((m: Record<string, unknown>) => ({
        url: typeof m.url === "string" ? m.url : "",
        active: partitionsFromTopics(m.active),
        standby: partitionsFromTopics(m.standby),
      })),
    };
  } catch {
    return undefined;
  }
}

/**
 * The URL of the member that owns a partition.
 *
 * @param routing The group routing.
 * @param tp Topic and partition.
 * @returns The owner's URL, or `undefined` when nobody owns it.
 */
export function ownerOf(routing: GroupRouting, tp: TP): string | undefined {
  for (const m of routing.members) {
    if (
      m.active.some((a) => a.topic === tp.topic && a.partition === tp.partition)
    ) return m.url;
  }
  return undefined;
}

/**
 * `/router/` form: each member's URL with its active partitions by topic.
 *
 * @param routing The group routing.
 * @returns URL -> topic -> partitions.
 */
export function routingTable(
  routing: GroupRouting,
): Record<string, Record<string, number[]>> {
  const out: Record<string, Record<string, number[]>> = {};
  for (const m of routing.members) out[m.url] = partitionsByTopic(m.active);
  return out;
}
