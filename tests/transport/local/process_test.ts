/**
 * The local:// broker across real processes: producer and consumer in
 * separate Deno processes, restarts, kill -9 and the group claim.
 */
import assert from "node:assert/strict";
import { LocalTransport } from "../../../src/transport/local.ts";
import { tpKey } from "../../../src/util/types.ts";
import { recordingListener } from "../conformance.ts";

const fixtures = new URL("./fixtures/", import.meta.url);

function child(script: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, fixtures).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
}

async function finish(
  proc: Deno.ChildProcess,
): Promise<{ code: number; out: string; err: string }> {
  const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
  try {
    const { code, stdout, stderr } = await proc.output();
    return {
      code,
      out: new TextDecoder().decode(stdout),
      err: new TextDecoder().decode(stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

function lastJson(out: string): Record<string, unknown> {
  const line = out.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line);
}

/** Read stdout lines until one equals `want` (bounded by time). */
async function waitForLine(
  proc: Deno.ChildProcess,
  want: string,
): Promise<void> {
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 30_000;
  try {
    while (!seen.split("\n").includes(want) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
  } finally {
    reader.releaseLock();
  }
  assert.ok(
    seen.split("\n").includes(want),
    `child printed ${JSON.stringify(seen)}`,
  );
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "faust-local-proc-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("LocalTransport delivers 20k records from a producer process to a consumer process in order", async () => {
  await withDir(async (dir) => {
    const consumer = child("consumer.ts", [
      dir,
      "g",
      "orders",
      "20000",
      "20000",
      "commit",
    ]);
    const producer = child("producer.ts", [dir, "orders", "4", "20000", "100"]);
    const [p, c] = await Promise.all([finish(producer), finish(consumer)]);
    assert.equal(p.code, 0, p.err);
    assert.equal(c.code, 0, c.err);
    const report = lastJson(c.out);
    assert.equal(report.count, 20000);
    assert.equal(report.inOrder, true);
  });
});

Deno.test("LocalTransport resumes a restarted consumer process after its committed offsets", async () => {
  await withDir(async (dir) => {
    const p = await finish(
      child("producer.ts", [dir, "jobs", "2", "1000", "250"]),
    );
    assert.equal(p.code, 0, p.err);
    const first = await finish(
      child("consumer.ts", [dir, "g", "jobs", "1000", "600", "commit"]),
    );
    assert.equal(lastJson(first.out).count, 600, first.err);
    const t = new LocalTransport(`local://${dir}`, {
      defaultPartitions: 1,
      datadir: dir,
      clientId: "t",
    });
    await t.start();
    let committed: Map<string, number>;
    try {
      const c = t.createConsumer({
        groupId: "g",
        listener: recordingListener(),
      });
      await c.subscribe(["jobs"]);
      committed = await c.committed(c.assignment());
      await c.close();
    } finally {
      await t.stop();
    }
    const offsets = [0, 1].map((p) =>
      committed.get(tpKey({ topic: "jobs", partition: p })) ?? 0
    );
    assert.equal(offsets[0]! + offsets[1]!, 600);
    const second = await finish(
      child("consumer.ts", [dir, "g", "jobs", "400", "400", "commit"]),
    );
    const report = lastJson(second.out);
    assert.equal(report.count, 400, second.err);
    assert.equal(report.inOrder, true);
    // Each partition resumes exactly at its committed offset.
    const firsts = report.first as Record<string, number>;
    for (const [p, offset] of Object.entries(firsts)) {
      assert.equal(offset, offsets[Number(p)]);
    }
  });
});

Deno.test("LocalTransport gives a second consumer process of a group a LockError naming kafka://", async () => {
  await withDir(async (dir) => {
    const holder = child("consumer.ts", [dir, "app", "t", "1", "1", "hold"]);
    try {
      await waitForLine(holder, "ready");
      const second = await finish(
        child("consumer.ts", [dir, "app", "t", "1", "1", "commit"]),
      );
      const report = lastJson(second.out);
      assert.equal(report.error, "LockError");
      assert.match(String(report.message), /"app"/);
      assert.match(String(report.message), /kafka:\/\//);
      assert.match(String(report.message), new RegExp(`process ${holder.pid}`));
      const other = await finish(
        child("consumer.ts", [dir, "other", "t", "0", "0", "commit"]),
      );
      assert.equal(lastJson(other.out).count, 0);
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      await holder.stderr.cancel();
    }
  });
});

Deno.test("LocalTransport passes the claim of a kill -9ed consumer process to the next one", async () => {
  await withDir(async (dir) => {
    const p = await finish(child("producer.ts", [dir, "t", "1", "10", "10"]));
    assert.equal(p.code, 0, p.err);
    const holder = child("consumer.ts", [dir, "app", "t", "1", "1", "hold"]);
    await waitForLine(holder, "ready");
    holder.kill("SIGKILL");
    const status = await holder.status;
    await holder.stderr.cancel();
    assert.equal(status.signal, "SIGKILL");
    const next = await finish(
      child("consumer.ts", [dir, "app", "t", "10", "10", "commit"]),
    );
    const report = lastJson(next.out);
    assert.equal(report.count, 10, next.out + next.err);
  });
});
