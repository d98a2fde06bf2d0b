import assert from "node:assert/strict";
import { App } from "../../mod.ts";
import { waitFor } from "../helpers.ts";

async function modes(root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      out.set(path, (await Deno.stat(path)).mode! & 0o777);
      if (e.isDirectory) await walk(path);
    }
  };
  await walk(root);
  return out;
}

Deno.test({
  name:
    "App data on local:// and lmdb:// (broker, tables, group locks, doorbell) is owner-only: dirs 0700, files 0600",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = await Deno.makeTempDir();
    try {
      const datadir = `${root}/data`;
      const app = new App("modes", {
        broker: "local://",
        store: "lmdb://",
        datadir,
        topicPartitions: 1,
      });
      const counts = app.table("counts", { default: () => 0 });
      const seen: string[] = [];
      app.agent("words", async function counter(stream) {
        for await (const w of stream) {
          counts.set(String(w), counts.get(String(w)) + 1);
          seen.push(String(w));
        }
      });
      await app.start();
      try {
        await app.send("words", { value: "secret" });
        await waitFor(() => seen.length === 1);
      } finally {
        await app.stop();
      }
      const found = await modes(datadir);
      assert.ok(
        [...found.keys()].some((p) => p.endsWith("broker.lmdb")),
        [...found.keys()].join("\n"),
      );
      assert.ok([...found.keys()].some((p) => p.endsWith("data.mdb")));
      assert.ok([...found.keys()].some((p) => p.endsWith(".lock")));
      const wide = [...found].filter(([p, mode]) => {
        const dir = Deno.statSync(p).isDirectory;
        return mode !== (dir ? 0o700 : 0o600);
      }).map(([p, mode]) => `${p.slice(datadir.length)} ${mode.toString(8)}`);
      assert.deepEqual(wide, []);
      assert.equal((await Deno.stat(datadir)).mode! & 0o777, 0o700);

      // Files left world-readable (by an older version) are narrowed on open.
      const brokerFile = [...found.keys()].find((p) =>
        p.endsWith("broker.lmdb")
      )!;
      const tableFile = [...found.keys()].find((p) => p.endsWith("data.mdb"))!;
      await Deno.chmod(brokerFile, 0o644);
      await Deno.chmod(tableFile, 0o644);
      await app.start();
      await app.stop();
      assert.equal((await Deno.stat(brokerFile)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(tableFile)).mode! & 0o777, 0o600);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
