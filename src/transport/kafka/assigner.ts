/**
 * The Faust partition assignor as a kafkajs custom assigner
 * (`FaustAssignor`, protocol version 1): the rules live in
 * `copartition.ts`; this file moves member data through kafkajs.
 *
 * Each member's subscription user data is JSON:
 * `{"v":1,"active":{topic:[p]},"standby":{topic:[p]},"meta":{...}}`, its
 * previous assignment (for stickiness) and its `memberMetadata` (the web
 * URL for table routing). kafkajs hands every member's user data to the
 * leader only; members never see the assignment's user data, so the
 * standbys of a member are derived on its side (see
 * {@linkcode splitStandbys}) and the web URLs must be published elsewhere.
 * The leader passes each member only partitions of topics it subscribed.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  AssignerProtocol,
  type GroupMember,
  type GroupMemberAssignment,
  type PartitionAssigner,
} from "kafkajs";
import { ConfigError } from "../../errors.ts";
import {
  partitionsByTopic,
  partitionsFromTopics,
  type TP,
  tpKey,
} from "../../util/types.ts";

// Re-exported so this module documents on its own (`deno doc --lint`).
export type { TP } from "../../util/types.ts";
import {
  assignCopartitioned,
  type AssignorMember,
  isChangelogTopic,
} from "./copartition.ts";

/** Name of the group protocol. */
export const ASSIGNOR_NAME = "FaustAssignor";
/** Version of the user data layout. */
export const ASSIGNOR_VERSION = 1;

/** What a member publishes in its subscription. */
export interface FaustMemberData {
  /** Subscribed topics. */
  readonly topics: string[];
  /** Active partitions before this rebalance. */
  readonly previous: TP[];
  /** Standby partitions before this rebalance. */
  readonly previousStandby: TP[];
  /** The member's metadata (e.g. `web`: its web URL). */
  readonly meta: Record<string, string>;
}

/** Options of {@linkcode partitionAssigners}. */
export interface AssignorOptions {
  /** What this member publishes to the leader (e.g. its web URL). */
  readonly memberMetadata?: Readonly<Record<string, string>>;
  /** Standby copies of each changelog partition. @default 1 */
  readonly standbyReplicas?: number;
  /** This member's current assignment, for stickiness. */
  readonly previous?: () => { active: readonly TP[]; standby: readonly TP[] };
  /** Called on the leader with every member's data after each assignment. */
  readonly onMembers?: (members: ReadonlyMap<string, FaustMemberData>) => void;
  /** Called on the leader with each member's metadata and assignment. */
  readonly onAssignment?: (
    members: ReadonlyArray<
      { meta: Record<string, string>; active: TP[]; standby: TP[] }
    >,
  ) => void;
}

/**
 * Encode a member's subscription metadata.
 *
 * @param data Topics, previous assignment and metadata.
 * @returns The kafkajs member metadata bytes.
 */
export function encodeMemberData(data: FaustMemberData): Buffer {
  const userData = Buffer.from(JSON.stringify({
    v: ASSIGNOR_VERSION,
    active: partitionsByTopic(data.previous),
    standby: partitionsByTopic(data.previousStandby),
    meta: data.meta,
  }));
  return AssignerProtocol.MemberMetadata.encode({
    version: ASSIGNOR_VERSION,
    topics: data.topics,
    userData,
  });
}

/**
 * Decode a member's subscription metadata; user data that is missing or not
 * ours (another client's assignor) reads as an empty previous assignment.
 *
 * @param metadata The kafkajs member metadata bytes.
 * @returns Topics, previous assignment and metadata.
 */
export function decodeMemberData(metadata: Buffer): FaustMemberData {
  const decoded = AssignerProtocol.MemberMetadata.decode(metadata);
  const topics = decoded?.topics ?? [];
  let parsed: Record<string, unknown> = {};
  try {
    const text = decoded?.userData?.toString("utf8") ?? "";
    if (text !== "") parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = {};
  }
  const meta: Record<string, string> = {};
  if (typeof parsed.meta === "object" && parsed.meta !== null) {
    for (const [k, v] of Object.entries(parsed.meta)) {
      if (typeof v === "string") meta[k] = v;
    }
  }
  return {
    topics,
    previous: partitionsFromTopics(parsed.active),
    previousStandby: partitionsFromTopics(parsed.standby),
    meta,
  };
}

/** Suffix of the app's leader topic (`routing.ts`, `leaderTopic()`). */
const LEADER_SUFFIX = "-__assignor-__leader";

/**
 * Split a member's kafkajs assignment into active partitions and standbys:
 * a changelog partition whose number is not the number of one of the
 * member's source partitions is a standby. The app's one-partition leader
 * topic (`{appId}-__assignor-__leader`) is not a source: it is assigned on
 * its own, and holding its partition 0 says nothing about changelog
 * partition 0. A member that subscribes only to changelogs has them all
 * active.
 *
 * @param assigned Everything kafkajs assigned to this member.
 * @param subscribed The member's subscribed topics.
 * @returns Active partitions (sources and their co-partitioned changelogs) and standbys.
 */
export function splitStandbys(
  assigned: readonly TP[],
  subscribed: readonly string[],
): { active: TP[]; standby: TP[] } {
  if (subscribed.every(isChangelogTopic)) {
    return { active: [...assigned], standby: [] };
  }
  const numbers = new Set(
    assigned.filter((tp) =>
      !isChangelogTopic(tp.topic) && !tp.topic.endsWith(LEADER_SUFFIX)
    ).map((tp) => tp.partition),
  );
  const active: TP[] = [];
  const standby: TP[] = [];
  for (const tp of assigned) {
    if (isChangelogTopic(tp.topic) && !numbers.has(tp.partition)) {
      standby.push(tp);
    } else active.push(tp);
  }
  return { active, standby };
}

/**
 * Standby copies per changelog partition: `tableStandbyReplicas` of the
 * member metadata when given (a non-negative integer), else 1 (Faust's default).
 *
 * @param meta The member metadata a consumer publishes.
 * @returns The standby count.
 * @throws {ConfigError} When the value is not a non-negative integer.
 * @example
 * ```ts
 * import { standbyReplicasOf } from "./assigner.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(standbyReplicasOf({ tableStandbyReplicas: "2" }), 2);
 * assert.equal(standbyReplicasOf(undefined), 1);
 * ```
 */
export function standbyReplicasOf(
  meta: Readonly<Record<string, string>> | undefined,
): number {
  const raw = meta?.tableStandbyReplicas ?? "1";
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < 0) {
    throw new ConfigError(
      `memberMetadata.tableStandbyReplicas must be a non-negative integer, got "${raw}"`,
    );
  }
  return n;
}

/**
 * The assigners to give kafkajs, in preference order: the Faust assignor.
 *
 * @param options Member metadata, standby count, previous assignment.
 * @returns kafkajs partition assigners.
 */
export function partitionAssigners(
  options: AssignorOptions = {},
): PartitionAssigner[] {
  const standbyReplicas = options.standbyReplicas ?? 1;
  const meta = { ...options.memberMetadata };
  const assigner: PartitionAssigner = ({ cluster }) => ({
    name: ASSIGNOR_NAME,
    version: ASSIGNOR_VERSION,
    protocol({ topics }) {
      const prev = options.previous?.() ?? { active: [], standby: [] };
      return {
        name: ASSIGNOR_NAME,
        metadata: encodeMemberData({
          topics,
          previous: [...prev.active],
          previousStandby: [...prev.standby],
          meta,
        }),
      };
    },
    async assign({ members }): Promise<GroupMemberAssignment[]> {
      const data = new Map(
        members.map((m: GroupMember) => [
          m.memberId,
          decodeMemberData(m.memberMetadata),
        ]),
      );
      const all = [...new Set([...data.values()].flatMap((d) => d.topics))];
      await cluster.addMultipleTargetTopics(all);
      const counts = new Map<string, number>();
      for (const topic of all) {
        let n = 0;
        try {
          n = cluster.findTopicPartitionMetadata(topic)?.length ?? 0;
        } catch {
          n = 0;
        }
        if (n > 0) counts.set(topic, n);
      }
      const input: AssignorMember[] = [...data].map(([id, d]) => ({
        id,
        topics: d.topics,
        previous: d.previous,
        previousStandby: d.previousStandby,
      }));
      const result = assignCopartitioned(input, counts, standbyReplicas);
      options.onMembers?.(data);
      try {
        options.onAssignment?.([...data].map(([id, d]) => {
          const a = result.get(id) ?? { active: [], standby: [] };
          return { meta: d.meta, active: a.active, standby: a.standby };
        }));
      } catch {
        // Publishing the routing is best effort; the assignment stands.
      }
      return members.map((m) => {
        const a = result.get(m.memberId) ?? { active: [], standby: [] };
        const seen = new Set<string>();
        const tps = [...a.active, ...a.standby].filter((tp) => {
          const k = tpKey(tp);
          return seen.has(k) ? false : (seen.add(k), true);
        });
        return {
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: ASSIGNOR_VERSION,
            assignment: partitionsByTopic(tps),
            userData: Buffer.alloc(0),
          }),
        };
      });
    },
  });
  return [assigner];
}
