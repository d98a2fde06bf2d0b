/**
 * Awaited sends on the embedded `local://` broker: how many events per
 * second an agent reaches when it awaits every `topic.send()` (each send
 * waits for its commit, so the broker's commit latency bounds it), and how
 * many sends per second plain loops of `await topic.send()` reach (an HTTP
 * handler that replies once its record is stored). Not a test.
 *
 *   deno run -A bench/local_sends.ts [--seconds 6] [--runs 3]
 *     [--concurrency 1,8] [--sync true,false] [--trees DIR,DIR]
 *
 * Each measurement runs in its own process on a fresh broker in a temp dir:
 * - `agent`: 200k records pre-loaded into a 4-partition input topic; an
 *   agent with `concurrency` actors does `await out.send(...)` per event;
 *   events/s over `--seconds` after a 1 s warm-up;
 * - `loop`: `concurrency` loops of `await topic.send(...)` in a client app;
 * - `fire`: one loop sending 1000 records without awaiting them, then
 *   awaiting the last (the producer path's throughput).
 * `--trees` runs the same measurement against other checkouts of the
 * project (e.g. a `git worktree` of an older commit), alternating, so the
 * numbers of one run share the machine's load.
 *
 * @module
 */

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? fallback : fallback;
}

const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

interface Result {
  readonly rate: number;
}

/** One measurement, inside its own process. */
async function role(): Promise<void> {
  const tree = flag("tree", here);
  const mode = flag("mode", "agent");
  const concurrency = Number(flag("concurrency", "1"));
  const seconds = Number(flag("seconds", "6"));
  const sync = flag("sync", "true");
  const dir = await Deno.makeTempDir({ prefix: "faust-sends-" });
  const { App } = await import(`${tree}/mod.ts`);
  const app = new App(`sends-${mode}`, {
    broker: `local://${dir}/broker?sync=${sync}`,
    datadir: dir,
    topicPartitions: 4,
    consumerAutoOffsetReset: "earliest",
    webEnabled: false,
  });
  const out = app.topic("out", { valueType: "json" });
  let done = 0;
  let t0 = 0;
  let counted = 0;
  const warm = Promise.withResolvers<void>();
  const start = () => {
    if (t0 === 0) {
      t0 = performance.now();
      counted = done;
    }
  };
  if (mode === "agent") {
    const input = app.topic("in", { valueType: "json" });
    app.agent(input, async function relay(stream: AsyncIterable<unknown>) {
      for await (const v of stream) {
        await out.send({ key: "k", value: v });
        done++;
        if (done === 1) warm.resolve();
      }
    }, { concurrency });
    // Pre-load the input with one client app (not timed).
    const loader = new App("sends-loader", {
      broker: `local://${dir}/broker?sync=false`,
      datadir: `${dir}/loader`,
      topicPartitions: 4,
      webEnabled: false,
    });
    const lin = loader.topic("in", { valueType: "json" });
    await loader.startClient();
    for (let i = 0; i < 200_000; i += 10_000) {
      const ps = [];
      for (let j = i; j < i + 10_000; j++) {
        ps.push(lin.send({ key: `k${j % 1000}`, value: { n: j } }));
      }
      await Promise.all(ps);
    }
    await loader.stop();
    await app.start();
  } else if (mode === "fire") {
    // Unawaited sends, 1000 at a time, each thousand awaited as a whole.
    await app.startClient();
    warm.resolve();
    void (async () => {
      while (app.running || t0 === 0) {
        let last: Promise<unknown> | undefined;
        for (let i = 0; i < 1000; i++) {
          last = out.send({ key: `k${i % 100}`, value: { n: done + i } });
        }
        await last;
        done += 1000;
      }
    })().catch(() => {});
  } else {
    await app.startClient();
    warm.resolve();
    for (let c = 0; c < concurrency; c++) {
      void (async () => {
        while (app.running || t0 === 0) {
          await out.send({ key: `k${c}`, value: { n: done } });
          done++;
        }
      })().catch(() => {});
    }
  }
  await warm.promise;
  await new Promise((r) => setTimeout(r, 1000));
  start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const rate = (done - counted) / elapsed;
  console.log(JSON.stringify({ rate } satisfies Result));
  await app.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  Deno.exit(0);
}

async function measure(
  tree: string,
  mode: string,
  concurrency: number,
  sync: string,
  seconds: number,
): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      new URL(import.meta.url).pathname,
      "--role",
      "one",
      "--tree",
      tree,
      "--mode",
      mode,
      "--concurrency",
      String(concurrency),
      "--sync",
      sync,
      "--seconds",
      String(seconds),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop();
  try {
    return (JSON.parse(line ?? "") as Result).rate;
  } catch {
    console.error(`measurement failed: ${line}`);
    return NaN;
  }
}

async function main(): Promise<void> {
  const trees = flag("trees", here).split(",");
  const runs = Number(flag("runs", "3"));
  const seconds = Number(flag("seconds", "6"));
  const concurrencies = flag("concurrency", "1,8").split(",").map(Number);
  const syncs = flag("sync", "true").split(",");
  const modes = flag("modes", "agent,loop").split(",");
  const rows = new Map<string, number[]>();
  for (let run = 1; run <= runs; run++) {
    for (const mode of modes) {
      for (const sync of syncs) {
        for (const c of concurrencies) {
          for (const tree of trees) {
            const rate = await measure(tree, mode, c, sync, seconds);
            const key = `${mode} c=${c} sync=${sync} ${tree}`;
            rows.set(key, [...rows.get(key) ?? [], rate]);
            console.error(`[sends] run ${run} ${key}: ${rate.toFixed(0)}/s`);
          }
        }
      }
    }
  }
  console.log(
    `\nawaited sends on local://, ${seconds} s per measurement, medians of ${runs}, Deno ${Deno.version.deno}, ${
      new Date().toISOString()
    }`,
  );
  for (const [key, rates] of rows) {
    const sorted = [...rates].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(
      `${key.padEnd(70)} ${median.toFixed(0).padStart(8)} /s  (${
        rates.map((r) => r.toFixed(0)).join(", ")
      })`,
    );
  }
}

if (import.meta.main) {
  if (flag("role", "") === "one") await role();
  else await main();
}
