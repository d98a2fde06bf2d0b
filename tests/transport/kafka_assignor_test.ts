/**
 * Unit tests of the Faust partition assignor (no broker): the pure
 * assignment, the member data encoding, and the kafkajs assigner driven
 * through its protocol()/assign() calls as kafkajs makes them.
 */
import assert from "node:assert/strict";
import { AssignerProtocol, type Cluster } from "kafkajs";
import { ConfigError } from "../../src/errors.ts";
import { type TP, tpKey } from "../../src/util/types.ts";
import {
  assignCopartitioned,
  type AssignorMember,
  type CopartitionedAssignment,
} from "../../src/transport/kafka/copartition.ts";
import {
  ASSIGNOR_NAME,
  decodeMemberData,
  encodeMemberData,
  partitionAssigners,
  splitStandbys,
} from "../../src/transport/kafka/assigner.ts";

const SRC = "words";
const CL = "app-counts-changelog";

function counts(entries: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(entries));
}

function members(n: number, topics: string[]): AssignorMember[] {
  return Array.from({ length: n }, (_, i) => ({ id: `m${i}`, topics }));
}

function owners(
  result: Map<string, CopartitionedAssignment>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [id, a] of result) {
    for (const tp of a.active) {
      assert.equal(out.has(tpKey(tp)), false, `${tpKey(tp)} assigned twice`);
      out.set(tpKey(tp), id);
    }
  }
  return out;
}

function numbers(tps: readonly TP[], topic: string): number[] {
  return tps.filter((tp) => tp.topic === topic).map((tp) => tp.partition);
}

/** Members carrying their previous assignment from `result`. */
function withPrevious(
  ids: string[],
  topics: string[],
  result: Map<string, CopartitionedAssignment>,
): AssignorMember[] {
  return ids.map((id) => ({
    id,
    topics,
    previous: result.get(id)?.active ?? [],
    previousStandby: result.get(id)?.standby ?? [],
  }));
}

Deno.test("assignCopartitioned() gives partition N of co-partitioned topics to one member", () => {
  const topics = [SRC, CL, "app-repart-repartition", "clicks"];
  const parts = counts({
    [SRC]: 6,
    [CL]: 6,
    "app-repart-repartition": 6,
    clicks: 3,
  });
  const result = assignCopartitioned(members(3, topics), parts, 0);
  const own = owners(result);
  assert.equal(own.size, 6 * 3 + 3);
  for (let p = 0; p < 6; p++) {
    const o = own.get(tpKey({ topic: SRC, partition: p }));
    assert.equal(own.get(tpKey({ topic: CL, partition: p })), o);
    assert.equal(
      own.get(tpKey({ topic: "app-repart-repartition", partition: p })),
      o,
    );
  }
  for (const a of result.values()) {
    assert.equal(numbers(a.active, SRC).length, 2);
  }
});

Deno.test("assignCopartitioned() balances within ±1 for every member and partition count", () => {
  for (let m = 1; m <= 6; m++) {
    for (let n = 1; n <= 12; n++) {
      const parts = counts({ [SRC]: n, [CL]: n, other: n + 1 });
      const result = assignCopartitioned(
        members(m, [SRC, CL, "other"]),
        parts,
        0,
      );
      const own = owners(result);
      assert.equal(own.size, 2 * n + n + 1, `m=${m} n=${n}`);
      for (const topic of [SRC, "other"]) {
        const sizes = [...result.values()].map((a) =>
          numbers(a.active, topic).length
        );
        assert.ok(
          Math.max(...sizes) - Math.min(...sizes) <= 1,
          `m=${m} n=${n} ${topic}: ${sizes}`,
        );
      }
      // Extras of the two groups do not pile up on one member.
      const totals = [...result.values()].map((a) =>
        numbers(a.active, SRC).length + numbers(a.active, "other").length
      );
      assert.ok(
        Math.max(...totals) - Math.min(...totals) <= 1,
        `m=${m} n=${n} totals ${totals}`,
      );
    }
  }
});

Deno.test("assignCopartitioned() is deterministic", () => {
  const parts = counts({ [SRC]: 7, [CL]: 7 });
  const a = assignCopartitioned(members(3, [SRC, CL]), parts, 1);
  const b = assignCopartitioned([...members(3, [SRC, CL])].reverse(), parts, 1);
  assert.deepEqual([...a].sort(), [...b].sort());
});

Deno.test("assignCopartitioned() is sticky when a member joins", () => {
  const topics = [SRC, CL];
  const parts = counts({ [SRC]: 8, [CL]: 8 });
  const first = assignCopartitioned(members(2, topics), parts, 1);
  const second = assignCopartitioned(
    [...withPrevious(["m0", "m1"], topics, first), { id: "m2", topics }],
    parts,
    1,
  );
  let moved = 0;
  for (const id of ["m0", "m1"]) {
    const before = new Set(numbers(first.get(id)!.active, SRC));
    const after = numbers(second.get(id)!.active, SRC);
    for (const p of after) {
      assert.ok(before.has(p), `${id} got new partition ${p}`);
    }
    moved += before.size - after.length;
  }
  const joined = numbers(second.get("m2")!.active, SRC);
  assert.ok(joined.length === 2 || joined.length === 3);
  assert.equal(
    moved,
    joined.length,
    "only the partitions the new member needs move",
  );
  owners(second);
});

Deno.test("assignCopartitioned() is sticky when a member leaves and promotes standbys", () => {
  const topics = [SRC, CL];
  const parts = counts({ [SRC]: 9, [CL]: 9 });
  const first = assignCopartitioned(members(3, topics), parts, 1);
  const second = assignCopartitioned(
    withPrevious(["m0", "m2"], topics, first),
    parts,
    1,
  );
  for (const id of ["m0", "m2"]) {
    const before = numbers(first.get(id)!.active, SRC);
    const after = new Set(numbers(second.get(id)!.active, SRC));
    for (const p of before) {
      assert.ok(after.has(p), `${id} lost partition ${p}`);
    }
  }
  // m1's partitions go to the members that followed them as standby, quota permitting.
  const standbyOf = new Map<number, string>();
  for (const id of ["m0", "m2"]) {
    for (const p of numbers(first.get(id)!.standby, CL)) standbyOf.set(p, id);
  }
  const sizes = ["m0", "m2"].map((id) =>
    numbers(second.get(id)!.active, SRC).length
  );
  assert.deepEqual(sizes.sort(), [4, 5]);
  let promoted = 0;
  for (const p of numbers(first.get("m1")!.active, SRC)) {
    if (
      second.get(standbyOf.get(p)!)!.active.some((tp) => tp.partition === p)
    ) promoted++;
  }
  assert.ok(promoted >= 2, `promoted ${promoted} of 3`);
  assert.equal(owners(second).size, 18);
});

Deno.test("assignCopartitioned() stays stable when nothing changes", () => {
  const topics = [SRC, CL];
  const parts = counts({ [SRC]: 10, [CL]: 10 });
  const first = assignCopartitioned(members(4, topics), parts, 2);
  const again = assignCopartitioned(
    withPrevious(["m0", "m1", "m2", "m3"], topics, first),
    parts,
    2,
  );
  assert.deepEqual([...again].sort(), [...first].sort());
});

Deno.test("assignCopartitioned() places standbys only on other members", () => {
  const topics = [SRC, CL, "other-changelog", "other"];
  const parts = counts({ [SRC]: 8, [CL]: 8, other: 3, "other-changelog": 3 });
  for (const replicas of [0, 1, 2, 5]) {
    for (let m = 1; m <= 5; m++) {
      const result = assignCopartitioned(members(m, topics), parts, replicas);
      const own = owners(result);
      const copies = new Map<string, number>();
      for (const [id, a] of result) {
        const activeNumbers = new Set(a.active.map((tp) => tp.partition));
        for (const tp of a.standby) {
          assert.ok(tp.topic.endsWith("-changelog"), `standby of ${tp.topic}`);
          assert.notEqual(
            own.get(tpKey(tp)),
            id,
            `standby ${tpKey(tp)} on its owner`,
          );
          assert.ok(
            !activeNumbers.has(tp.partition),
            `standby number ${tp.partition} active on ${id}`,
          );
          copies.set(tpKey(tp), (copies.get(tpKey(tp)) ?? 0) + 1);
        }
      }
      for (const [topic, n] of [[CL, 8], ["other-changelog", 3]] as const) {
        for (let p = 0; p < n; p++) {
          const key = tpKey({ topic, partition: p });
          const c = copies.get(key) ?? 0;
          // Eligible: members other than the owner without partition number p active.
          const eligible = [...result].filter(([id, a]) =>
            id !== own.get(key) && !a.active.some((tp) =>
              tp.partition === p
            )
          ).length;
          assert.equal(
            c,
            Math.min(replicas, eligible),
            `m=${m} r=${replicas} ${key}`,
          );
        }
      }
    }
  }
});

Deno.test("assignCopartitioned() spreads standbys evenly", () => {
  const parts = counts({ [SRC]: 12, [CL]: 12 });
  const result = assignCopartitioned(members(4, [SRC, CL]), parts, 1);
  const sizes = [...result.values()].map((a) => a.standby.length);
  assert.deepEqual(sizes, [3, 3, 3, 3]);
});

Deno.test("assignCopartitioned() throws ConfigError on a source/changelog count mismatch", () => {
  assert.throws(
    () =>
      assignCopartitioned(
        members(2, [SRC, CL]),
        counts({ [SRC]: 8, [CL]: 4 }),
        1,
      ),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /app-counts-changelog/);
      assert.match(e.message, /has 4 partitions/);
      assert.match(e.message, /"words" \(8\)/);
      return true;
    },
  );
  // A changelog consumed alone, or matching one of several sources, is fine.
  assignCopartitioned(members(2, [CL]), counts({ [CL]: 4 }), 1);
  assignCopartitioned(
    members(2, [SRC, "b", CL]),
    counts({ [SRC]: 8, b: 4, [CL]: 4 }),
    1,
  );
});

Deno.test("assignCopartitioned() rejects a bad standby count", () => {
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => assignCopartitioned(members(1, [SRC]), counts({ [SRC]: 1 }), bad),
      ConfigError,
    );
  }
});

Deno.test("assignCopartitioned() gives topics only to their subscribers and skips unknown topics", () => {
  const result = assignCopartitioned(
    [
      { id: "a", topics: [SRC, CL, "missing"] },
      { id: "b", topics: ["solo"] },
    ],
    counts({ [SRC]: 4, [CL]: 4, solo: 2 }),
    1,
  );
  assert.deepEqual(numbers(result.get("a")!.active, SRC), [0, 1, 2, 3]);
  assert.deepEqual(numbers(result.get("b")!.active, "solo"), [0, 1]);
  assert.deepEqual(result.get("b")!.standby, []);
  assert.deepEqual(result.get("a")!.standby, []);
  assert.equal(
    result.get("a")!.active.some((tp) => tp.topic === "missing"),
    false,
  );
});

Deno.test("splitStandbys() tells standby changelog partitions by number", () => {
  const tps: TP[] = [
    { topic: SRC, partition: 1 },
    { topic: CL, partition: 1 },
    { topic: CL, partition: 3 },
  ];
  assert.deepEqual(splitStandbys(tps, [SRC, CL]), {
    active: [tps[0], tps[1]],
    standby: [tps[2]],
  });
  // Only standbys assigned (more members than partitions).
  assert.deepEqual(splitStandbys([tps[2]!], [SRC, CL]), {
    active: [],
    standby: [tps[2]],
  });
  // A subscription of changelogs only: all active.
  assert.deepEqual(splitStandbys([tps[2]!], [CL]), {
    active: [tps[2]],
    standby: [],
  });
});

Deno.test("encodeMemberData() round-trips and decodeMemberData() tolerates foreign user data", () => {
  const data = {
    topics: [SRC, CL],
    previous: [{ topic: SRC, partition: 2 }, { topic: CL, partition: 2 }],
    previousStandby: [{ topic: CL, partition: 0 }],
    meta: { web: "http://127.0.0.1:6066/" },
  };
  assert.deepEqual(decodeMemberData(encodeMemberData(data)), data);
  const foreign = AssignerProtocol.MemberMetadata.encode({
    version: 0,
    topics: [SRC],
    userData: Buffer.from("not json"),
  });
  assert.deepEqual(decodeMemberData(foreign), {
    topics: [SRC],
    previous: [],
    previousStandby: [],
    meta: {},
  });
});

Deno.test("partitionAssigners() assigns through kafkajs' protocol and assign calls", async () => {
  const parts: Record<string, number> = { [SRC]: 4, [CL]: 4 };
  const targeted: string[] = [];
  const cluster = {
    addMultipleTargetTopics: (topics: string[]) => {
      targeted.push(...topics);
      return Promise.resolve();
    },
    findTopicPartitionMetadata: (topic: string) =>
      Array.from(
        { length: parts[topic] ?? 0 },
        (_, partitionId) => ({ partitionId }),
      ),
  } as unknown as Cluster;
  const seen: string[] = [];
  const make = (web: string, previous: TP[]) =>
    partitionAssigners({
      memberMetadata: { web },
      standbyReplicas: 1,
      previous: () => ({ active: previous, standby: [] }),
      onMembers: (m) =>
        seen.push(...[...m.values()].map((d) => d.meta.web ?? "")),
    })[0]!({ cluster, groupId: "app", logger: undefined as never });
  const a = make("http://a", [{ topic: SRC, partition: 3 }, {
    topic: CL,
    partition: 3,
  }]);
  const b = make("http://b", []);
  assert.equal(a.name, ASSIGNOR_NAME);
  const group = {
    topics: [SRC, CL],
    members: [
      {
        memberId: "a",
        memberMetadata: a.protocol({ topics: [SRC, CL] }).metadata,
      },
      {
        memberId: "b",
        memberMetadata: b.protocol({ topics: [SRC, CL] }).metadata,
      },
    ],
  };
  const out = await a.assign(group);
  assert.deepEqual(targeted.sort(), [CL, SRC]);
  assert.deepEqual(seen.sort(), ["http://a", "http://b"]);
  const got = new Map(
    out.map((
      o,
    ) => [
      o.memberId,
      AssignerProtocol.MemberAssignment.decode(o.memberAssignment)!.assignment,
    ]),
  );
  const aTps = Object.entries(got.get("a")!).flatMap(([topic, ps]) =>
    ps.map((partition) => ({ topic, partition }))
  );
  const bTps = Object.entries(got.get("b")!).flatMap(([topic, ps]) =>
    ps.map((partition) => ({ topic, partition }))
  );
  const aSplit = splitStandbys(aTps, [SRC, CL]);
  const bSplit = splitStandbys(bTps, [SRC, CL]);
  assert.ok(
    numbers(aSplit.active, SRC).includes(3),
    "a keeps its previous partition 3",
  );
  assert.deepEqual(numbers(aSplit.active, SRC), numbers(aSplit.active, CL));
  assert.deepEqual(numbers(bSplit.active, SRC), numbers(bSplit.active, CL));
  assert.equal(
    numbers(aSplit.active, SRC).length + numbers(bSplit.active, SRC).length,
    4,
  );
  // With standbyReplicas 1 and two members, each holds a standby of every partition it does not own.
  assert.deepEqual(numbers(aSplit.standby, CL), numbers(bSplit.active, SRC));
  assert.deepEqual(numbers(bSplit.standby, CL), numbers(aSplit.active, SRC));
});

Deno.test("assignCopartitioned() keeps min(replicas, members - 1) standbys of each partition", () => {
  const parts = counts({ [SRC]: 6, [CL]: 6 });
  for (let m = 1; m <= 5; m++) {
    for (const replicas of [0, 1, 2, 3]) {
      const result = assignCopartitioned(
        members(m, [SRC, CL]),
        parts,
        replicas,
      );
      for (let p = 0; p < 6; p++) {
        const holders = [...result.values()].filter((a) =>
          a.standby.some((tp) =>
            tp.partition === p
          )
        ).length;
        assert.equal(
          holders,
          Math.min(replicas, m - 1),
          `m=${m} r=${replicas} p=${p}`,
        );
      }
    }
  }
});

Deno.test("splitStandbys() does not count the leader topic's partition 0 as a source partition", () => {
  const leader = "app-__assignor-__leader";
  const tps: TP[] = [
    { topic: leader, partition: 0 },
    { topic: SRC, partition: 1 },
    { topic: CL, partition: 1 },
    { topic: CL, partition: 0 },
  ];
  assert.deepEqual(splitStandbys(tps, [SRC, CL, leader]), {
    active: [tps[0], tps[1], tps[2]],
    standby: [tps[3]],
  });
});

Deno.test("splitStandbys() recovers the assignor's active/standby split when sources have different partition counts", () => {
  // Two tables: one co-partitioned with a 4-partition source, one with an
  // 8-partition source. A member sees only the flat kafkajs assignment and
  // must tell its standbys by partition number alone.
  const small = "clicks";
  const big = "views";
  const smallCl = "app-clicks_by_user-changelog";
  const bigCl = "app-views_by_page-changelog";
  const topics = [small, big, smallCl, bigCl];
  const parts = counts({ [small]: 4, [big]: 8, [smallCl]: 4, [bigCl]: 8 });
  const sort = (tps: readonly TP[]) => tps.map(tpKey).sort();
  for (let m = 2; m <= 5; m++) {
    for (const replicas of [1, 2]) {
      let previous = new Map<string, CopartitionedAssignment>();
      // A few rounds with stickiness, a member leaving and one joining.
      for (let round = 0; round < 3; round++) {
        const ids = Array.from(
          { length: m - (round === 1 ? 1 : 0) },
          (_, i) => `m${round === 2 && i === 0 ? "new" : i}`,
        );
        const result = assignCopartitioned(
          ids.map((id) => ({
            id,
            topics,
            previous: previous.get(id)?.active ?? [],
            previousStandby: previous.get(id)?.standby ?? [],
          })),
          parts,
          replicas,
        );
        for (const [id, a] of result) {
          const split = splitStandbys([...a.active, ...a.standby], topics);
          const what = `m=${m} r=${replicas} round=${round} member=${id}`;
          assert.deepEqual(sort(split.active), sort(a.active), what);
          assert.deepEqual(sort(split.standby), sort(a.standby), what);
        }
        previous = result;
      }
    }
  }
});
