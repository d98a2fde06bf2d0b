import assert from "node:assert/strict";
import {
  parseWindowKey,
  windowKey,
  windowKeyPrefix,
} from "../../src/table/window_key.ts";

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

Deno.test("windowKey() round-trips through parseWindowKey()", () => {
  const key = new Uint8Array([0, 1, 255, 7]);
  for (
    const range of [{ start: 0, end: 9.9 }, {
      start: 1_700_000_120,
      end: 1_700_000_179.9,
    }, {
      start: -10,
      end: -0.1,
    }, { start: 0.25, end: 1e300 }]
  ) {
    const bytes = windowKey(key, range);
    assert.equal(bytes.length, 4 + key.length + 16);
    const parsed = parseWindowKey(bytes);
    assert.deepEqual([...parsed.key], [...key]);
    assert.deepEqual(parsed.range, range);
  }
  const sub = windowKey(new Uint8Array([9]), { start: 1, end: 2 });
  const padded = new Uint8Array(sub.length + 3);
  padded.set(sub, 3);
  assert.deepEqual(parseWindowKey(padded.subarray(3)).range, {
    start: 1,
    end: 2,
  }); // offset views
  assert.throws(
    () => parseWindowKey(new Uint8Array(5)),
    /Not a window key: 5 bytes/,
  );
});

Deno.test("windowKey() sorts windows of one key together, by start", () => {
  const starts = [
    -1e9,
    -5,
    -0.5,
    0,
    0.1,
    0.25,
    1,
    9.9,
    10,
    1e6,
    1_700_000_000,
    1e15,
  ];
  const keys = [
    new Uint8Array([1]),
    new Uint8Array([1, 0]),
    new Uint8Array([2]),
    new Uint8Array([1, 255]),
  ];
  const all: { key: Uint8Array; start: number; bytes: Uint8Array }[] = [];
  for (const key of keys) {
    for (const start of starts) {
      all.push({
        key,
        start,
        bytes: windowKey(key, { start, end: start + 9.9 }),
      });
    }
  }
  all.sort((x, y) => compareBytes(x.bytes, y.bytes));
  // Each key's windows are contiguous and in ascending start order.
  for (let i = 0; i < all.length; i += starts.length) {
    const group = all.slice(i, i + starts.length);
    assert.ok(group.every((g) => g.key === group[0]!.key));
    assert.deepEqual(group.map((g) => g.start), starts);
    const prefix = windowKeyPrefix(group[0]!.key);
    assert.ok(
      group.every((g) =>
        compareBytes(g.bytes.subarray(0, prefix.length), prefix) === 0
      ),
    );
  }
  // Same start: the end breaks the tie in numeric order.
  const k = new Uint8Array([3]);
  assert.ok(
    compareBytes(
      windowKey(k, { start: 0, end: 5 }),
      windowKey(k, { start: 0, end: 10 }),
    ) < 0,
  );
  assert.equal(
    compareBytes(
      windowKey(k, { start: -0, end: 1 }),
      windowKey(k, { start: 0, end: 1 }),
    ),
    0,
  );
});
