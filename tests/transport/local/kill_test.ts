/**
 * A process killed with -9 in the middle of a write never harms another
 * process of the same local:// broker.
 */
import assert from "node:assert/strict";
import { Proc } from "../../cli/_helpers.ts";

const writer = new URL("./fixtures/writer.ts", import.meta.url).pathname;

/**
 * Byte offsets of the `__owner` field (the owner's thread id) of lmdb-js's
 * sync mutex and of LMDB's writer mutex in `broker.lmdb-lock`, for glibc on
 * x86-64 (40-byte pthread mutexes after a 64-byte reader-table header). On
 * another layout the test still kills at busy moments, only less precisely.
 */
const SYNC_OWNER = 104 + 8;
const WRITER_OWNER = 64 + 8;

/** The thread of process `pid` that owns the mutex at `at`, or 0. */
function mutexOwner(lockFile: string, at: number, pid: number): number {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(lockFile).subarray(0, 256);
  } catch {
    return 0;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + 4 > bytes.byteLength) return 0;
  const tid = view.getInt32(at, true);
  if (tid <= 0) return 0;
  try {
    Deno.statSync(`/proc/${pid}/task/${tid}`);
    return tid;
  } catch {
    return 0; // Another process's thread, or a stale value.
  }
}

Deno.test({
  name:
    "LocalTransport keeps a producer process writing while another writer process is killed with -9 inside its commit",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "faust-local-kill-" });
    // The survivor writes now and then while the victims commit often: the
    // pattern of a producer next to a busy worker.
    const survivor = new Proc([
      "run",
      "-A",
      writer,
      dir,
      "calm",
      "200",
      "1000",
    ]);
    try {
      await survivor.waitFor(/^ready$/m);
      let caught = 0;
      for (let kill = 0; kill < 5; kill++) {
        const victim = new Proc(["run", "-A", writer, dir, "busy", "20", "0"]);
        // Many commits of the victim between two of the survivor's make the
        // survivor's next commit take the sync mutex with its transaction
        // still open (see src/transport/local/env.ts).
        await victim.waitFor(/^sent 100$/m);
        // Kill it while it holds the sync mutex (what crashed the others),
        // or, where nothing takes that mutex, the writer mutex.
        const lock = `${dir}/broker.lmdb-lock`;
        const t0 = Date.now();
        while (Date.now() - t0 < 3_000) {
          const at = Date.now() - t0 < 700 ? SYNC_OWNER : WRITER_OWNER;
          if (mutexOwner(lock, at, victim.child.pid) > 0) {
            caught++;
            break;
          }
        }
        victim.kill("SIGKILL");
        await victim.exit();
        // The survivor must commit again after the kill.
        const before = Number(
          survivor.output.match(/sent (\d+)\n(?![\s\S]*sent)/)?.[1] ?? 0,
        );
        await survivor.waitFor(new RegExp(`^sent ${before + 2}$`, "m"));
      }
      assert.ok(caught > 0, "never saw the victim inside a commit");
    } finally {
      survivor.kill("SIGKILL");
      await survivor.exit().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
