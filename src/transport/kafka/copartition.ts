/**
 * The Faust partition assignment as a pure function (no kafkajs, no I/O):
 * co-partitioned groups, stickiness, balance and table standbys.
 *
 * Rules:
 * - Co-partitioned group: the topics with the same partition count and the
 *   same set of subscribing members (with identical subscriptions, the usual
 *   case, simply the topics with the same count). Partition N of every topic
 *   of a group goes to one member.
 * - Balance: within a group every subscriber gets ⌊n/m⌋ or ⌈n/m⌉ partition
 *   numbers; the extra ones go to members with the fewest partitions so far
 *   (over all groups), so a member is never more than one ahead per group.
 * - Stickiness: a member keeps the partition numbers it had (active) as long
 *   as that stays within its quota; free numbers go first to a member that
 *   followed them as standby, then to the least loaded.
 * - Standbys: `standbyReplicas` copies of each changelog partition (topics
 *   ending in `-changelog`) on subscribers of the group other than the
 *   owner, and never on a member that has that partition number active in
 *   any topic (tables tell active from standby by partition number).
 *   Previous holders are preferred, then the members with fewest standbys.
 * - Co-partitioning check (the subscription does not say which stream
 *   updates which table): every changelog topic of a subscription must have
 *   the partition count of at least one non-changelog topic of that
 *   subscription, when it has any. Otherwise a `ConfigError`.
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import { type TP, tpKey } from "../../util/types.ts";

// Re-exported so this module documents on its own (`deno doc --lint`).
export type { TP } from "../../util/types.ts";

/** A group member as the assignor sees it. */
export interface AssignorMember {
  /** Member id (unique in the group). */
  readonly id: string;
  /** Topics the member subscribes to. */
  readonly topics: readonly string[];
  /** Partitions the member had active before this rebalance. */
  readonly previous?: readonly TP[];
  /** Partitions the member followed as standby before this rebalance. */
  readonly previousStandby?: readonly TP[];
}

/** What one member gets. */
export interface CopartitionedAssignment {
  /** Partitions to consume (sources, repartition topics and their changelogs). */
  readonly active: TP[];
  /** Changelog partitions to follow as standby. */
  readonly standby: TP[];
}

/** Suffix of table changelog topics (`{appId}-{table}-changelog`). */
export const CHANGELOG_SUFFIX = "-changelog";

/**
 * Whether a topic is a table changelog.
 *
 * @param topic Topic name.
 * @returns `true` when the name ends in `-changelog`.
 */
export function isChangelogTopic(topic: string): boolean {
  return topic.endsWith(CHANGELOG_SUFFIX);
}

interface Group {
  readonly count: number;
  readonly topics: string[];
  readonly members: string[];
}

/**
 * Throw when a subscription holds a changelog whose partition count matches
 * none of its other topics (see the module rules).
 *
 * @param members Group members with their subscriptions.
 * @param partitionsPerTopic Partition count of each known topic.
 * @throws {ConfigError} Naming the changelog, the other topics and their counts.
 */
export function checkCopartitioning(
  members: readonly AssignorMember[],
  partitionsPerTopic: ReadonlyMap<string, number>,
): void {
  const seen = new Set<string>();
  for (const m of members) {
    const topics = [...new Set(m.topics)].filter((t) =>
      (partitionsPerTopic.get(t) ?? 0) > 0
    ).sort();
    const sig = topics.join("\n");
    if (seen.has(sig)) continue;
    seen.add(sig);
    const sources = topics.filter((t) => !isChangelogTopic(t));
    if (sources.length === 0) continue;
    const counts = new Set(sources.map((t) => partitionsPerTopic.get(t)!));
    for (const t of topics.filter(isChangelogTopic)) {
      const n = partitionsPerTopic.get(t)!;
      if (counts.has(n)) continue;
      const listed = sources.map((s) => `"${s}" (${partitionsPerTopic.get(s)})`)
        .join(", ");
      throw new ConfigError(
        `Topics consumed together must be co-partitioned: changelog "${t}" has ${n} ` +
          `partitions but the source topics of member "${m.id}" have ${listed}. ` +
          `A table's changelog needs the partition count of the topic that updates it: ` +
          `create the topics with equal counts (or set the table's partitions to match).`,
      );
    }
  }
}

function groupsOf(
  members: readonly AssignorMember[],
  partitionsPerTopic: ReadonlyMap<string, number>,
): Group[] {
  const subscribers = new Map<string, string[]>();
  for (const m of members) {
    for (const t of new Set(m.topics)) {
      if ((partitionsPerTopic.get(t) ?? 0) <= 0) continue;
      let list = subscribers.get(t);
      if (list === undefined) subscribers.set(t, list = []);
      list.push(m.id);
    }
  }
  const groups = new Map<string, Group>();
  for (const [topic, ids] of [...subscribers].sort(([a], [b]) => cmp(a, b))) {
    ids.sort(cmp);
    const count = partitionsPerTopic.get(topic)!;
    const key = `${count}\u0000${ids.join("\u0000")}`;
    let g = groups.get(key);
    if (g === undefined) {
      groups.set(key, g = { count, topics: [], members: ids });
    }
    g.topics.push(topic);
  }
  // Bigger groups first: their balance matters most.
  return [...groups.values()].sort((a, b) =>
    b.count * b.topics.length - a.count * a.topics.length ||
    cmp(a.topics[0]!, b.topics[0]!)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Partition numbers of `topics` found in `tps`. */
function numbersIn(
  tps: readonly TP[] | undefined,
  topics: ReadonlySet<string>,
): Set<number> {
  const out = new Set<number>();
  for (const tp of tps ?? []) if (topics.has(tp.topic)) out.add(tp.partition);
  return out;
}

/**
 * Assign partitions Faust's way (see the module rules).
 *
 * @param members Group members with their subscriptions and previous assignment.
 * @param partitionsPerTopic Partition count of each topic; topics missing here
 *   (or with 0) are not assigned.
 * @param standbyReplicas Standby copies of each changelog partition (0 for none).
 * @returns An entry for every member (empty lists when it gets nothing).
 * @throws {ConfigError} When co-partitioned topics differ in partition count
 *   or `standbyReplicas` is not a non-negative integer.
 */
export function assignCopartitioned(
  members: readonly AssignorMember[],
  partitionsPerTopic: ReadonlyMap<string, number>,
  standbyReplicas: number,
): Map<string, CopartitionedAssignment> {
  if (!Number.isInteger(standbyReplicas) || standbyReplicas < 0) {
    throw new ConfigError(
      `tableStandbyReplicas must be a non-negative integer, got ${standbyReplicas}`,
    );
  }
  checkCopartitioning(members, partitionsPerTopic);
  const byId = new Map(members.map((m) => [m.id, m]));
  const out = new Map<string, CopartitionedAssignment>();
  const load = new Map<string, number>();
  const standbyLoad = new Map<string, number>();
  const activeNumbers = new Map<string, Set<number>>();
  for (const m of members) {
    out.set(m.id, { active: [], standby: [] });
    load.set(m.id, 0);
    standbyLoad.set(m.id, 0);
    activeNumbers.set(m.id, new Set());
  }
  const groups = groupsOf(members, partitionsPerTopic);
  const owners = groups.map((g) => assignGroup(g, byId, load));
  groups.forEach((g, i) => {
    for (const [p, id] of owners[i]!) {
      activeNumbers.get(id)!.add(p);
      const a = out.get(id)!.active;
      for (const topic of g.topics) a.push({ topic, partition: p });
    }
  });
  if (standbyReplicas > 0) {
    groups.forEach((g, i) => {
      for (const topic of g.topics.filter(isChangelogTopic)) {
        for (const [p, owner] of owners[i]!) {
          const key = tpKey({ topic, partition: p });
          const had = (id: string) => {
            const m = byId.get(id)!;
            return [...(m.previous ?? []), ...(m.previousStandby ?? [])]
              .some((tp) => tpKey(tp) === key);
          };
          const candidates = g.members.filter((id) =>
            id !== owner && !activeNumbers.get(id)!.has(p)
          ).sort((a, b) =>
            Number(had(b)) - Number(had(a)) ||
            standbyLoad.get(a)! - standbyLoad.get(b)! || cmp(a, b)
          );
          for (const id of candidates.slice(0, standbyReplicas)) {
            out.get(id)!.standby.push({ topic, partition: p });
            standbyLoad.set(id, standbyLoad.get(id)! + 1);
          }
        }
      }
    });
  }
  for (const a of out.values()) {
    a.active.sort(byTp);
    a.standby.sort(byTp);
  }
  return out;
}

function byTp(a: TP, b: TP): number {
  return cmp(a.topic, b.topic) || a.partition - b.partition;
}

/** Owner of each partition number of one group; updates `load`. */
function assignGroup(
  g: Group,
  byId: ReadonlyMap<string, AssignorMember>,
  load: Map<string, number>,
): Map<number, string> {
  const topics = new Set(g.topics);
  const m = g.members.length;
  const base = Math.floor(g.count / m);
  const extra = g.count % m;
  const claims = new Map<string, number[]>();
  const standbyOf = new Map<number, string[]>();
  const claimed = new Set<number>();
  for (const id of g.members) {
    const mem = byId.get(id)!;
    // A number claimed by two members (stale metadata) goes to the first in id order.
    const mine = [...numbersIn(mem.previous, topics)]
      .filter((p) => p < g.count && !claimed.has(p)).sort((a, b) => a - b);
    for (const p of mine) claimed.add(p);
    claims.set(id, mine);
    for (const p of numbersIn(mem.previousStandby, topics)) {
      if (p >= g.count) continue;
      let list = standbyOf.get(p);
      if (list === undefined) standbyOf.set(p, list = []);
      list.push(id);
    }
  }
  // Who gets ⌈n/m⌉: members that already hold more than ⌊n/m⌋, then the least loaded.
  const quota = new Map<string, number>();
  const order = [...g.members].sort((a, b) =>
    Number(claims.get(b)!.length > base) -
      Number(claims.get(a)!.length > base) ||
    load.get(a)! - load.get(b)! || cmp(a, b)
  );
  order.forEach((id, i) => quota.set(id, base + (i < extra ? 1 : 0)));
  const owner = new Map<number, string>();
  const left = new Map<string, number>();
  for (const id of g.members) {
    const keep = claims.get(id)!.slice(0, quota.get(id)!);
    for (const p of keep) owner.set(p, id);
    left.set(id, quota.get(id)! - keep.length);
  }
  const give = (p: number, id: string) => {
    owner.set(p, id);
    left.set(id, left.get(id)! - 1);
  };
  const free: number[] = [];
  for (let p = 0; p < g.count; p++) if (!owner.has(p)) free.push(p);
  const rest: number[] = [];
  for (const p of free) {
    const promoted = (standbyOf.get(p) ?? []).find((id) => left.get(id)! > 0);
    if (promoted !== undefined) give(p, promoted);
    else rest.push(p);
  }
  for (const p of rest) {
    const id = order.filter((i) => left.get(i)! > 0).sort((a, b) =>
      left.get(b)! - left.get(a)! || load.get(a)! - load.get(b)! || cmp(a, b)
    )[0]!;
    give(p, id);
  }
  for (const id of owner.values()) load.set(id, load.get(id)! + 1);
  return new Map([...owner].sort(([a], [b]) => a - b));
}
