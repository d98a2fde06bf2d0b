import assert from "node:assert/strict";
import { AsyncQueue } from "../../src/delivery/queue.ts";

Deno.test("AsyncQueue.onEbb() calls back once, when the queue is half empty, not at the first freed slot", () => {
  const q = new AsyncQueue<number>(8);
  for (let i = 0; i < 8; i++) assert.ok(q.tryPut(i));
  let calls = 0;
  q.onEbb(() => calls++);
  const taken: number[] = [];
  for (let i = 0; i < 3; i++) taken.push(q.poll()!);
  assert.equal(calls, 0, "5 of 8 still waiting");
  taken.push(q.poll()!);
  assert.equal(calls, 1, "4 of 8: half empty");
  for (let i = 0; i < 4; i++) taken.push(q.poll()!);
  assert.equal(calls, 1, "once");
  assert.deepEqual(taken, [0, 1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("AsyncQueue.onEbb() calls back right away when the queue is at most half full", () => {
  const q = new AsyncQueue<number>(4);
  q.tryPut(1);
  q.tryPut(2);
  let calls = 0;
  q.onEbb(() => calls++);
  assert.equal(calls, 1);
});

Deno.test("AsyncQueue.onEbb(fn, level) calls back once the queue holds at most level items", () => {
  const q = new AsyncQueue<number>(100);
  for (let i = 0; i < 10; i++) assert.ok(q.tryPut(i));
  const calls: string[] = [];
  q.onEbb(() => calls.push("at 4"), 4);
  q.onEbb(() => calls.push("at 8"), 8);
  q.poll();
  assert.equal(calls.length, 0, "9 waiting");
  q.poll();
  assert.deepEqual(calls, ["at 8"]);
  for (let i = 0; i < 3; i++) q.poll();
  assert.deepEqual(calls, ["at 8"], "5 waiting");
  q.poll();
  assert.deepEqual(calls, ["at 8", "at 4"]);
  q.onEbb(() => calls.push("now"), 4);
  assert.deepEqual(calls, ["at 8", "at 4", "now"]);
});

Deno.test("AsyncQueue.poll() takes a waiting item without waiting, and returns undefined when none waits", async () => {
  const q = new AsyncQueue<string>(4);
  assert.equal(q.poll(), undefined);
  q.tryPut("a");
  q.tryPut("b");
  assert.equal(q.poll(), "a");
  assert.equal(q.size, 1);
  assert.equal(await q.get(), "b");
  assert.equal(q.poll(), undefined);
});
