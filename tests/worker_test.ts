import assert from "node:assert/strict";
import { App } from "../mod.ts";
import { Worker } from "../src/worker.ts";

function memApp(id: string, extra: Record<string, unknown> = {}): App {
  return new App(id, {
    broker: "memory://",
    store: "memory://",
    webPort: 0,
    ...extra,
  });
}

Deno.test("Worker.start() runs onWorkerInit, serves the main app's web views and starts every app; stop() closes all", async () => {
  const main = memApp("worker-main");
  const second = memApp("worker-second");
  const inits: string[] = [];
  main.onWorkerInit.connect((a) => void inits.push(a.id));
  second.onWorkerInit.connect((a) => void inits.push(a.id));
  main.page("/hi", (c) => c.text("hi"));
  const worker = new Worker([main, second], {
    configureLogging: false,
    signals: false,
  });
  await worker.start();
  try {
    assert.deepEqual(inits, ["worker-main", "worker-second"]);
    assert.ok(main.running && second.running);
    assert.equal(await (await fetch(`${worker.webUrl}/hi`)).text(), "hi");
    worker.logRunning();
  } finally {
    await worker.stop();
  }
  assert.ok(!main.running && !second.running);
  assert.equal(worker.webUrl, undefined);
});

Deno.test("Worker.run() returns 1 when an agent crashes under the crashing supervisor", async () => {
  const app = memApp("worker-crash", { agentSupervisor: "crashing" });
  const boom = app.agent(undefined, async function boom(stream) {
    for await (const v of stream) throw new Error(`boom ${v}`);
  });
  app.task(async () => void await boom.send({ value: 1 }));
  const worker = new Worker(app, {
    configureLogging: false,
    signals: false,
    web: false,
  });
  const code = await worker.run();
  assert.equal(code, 1);
  assert.match((await app.crashed).message, /boom 1/);
});

Deno.test("Worker.run() returns 1 when the app cannot start (busy port)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const app = memApp("worker-busy", {
      webPort: (listener.addr as Deno.NetAddr).port,
    });
    const worker = new Worker(app, { configureLogging: false, signals: false });
    const origError = console.error;
    const seen: string[] = [];
    console.error = (...a: unknown[]) => void seen.push(a.join(" "));
    try {
      assert.equal(await worker.run(), 1);
    } finally {
      console.error = origError;
    }
    assert.match(seen.join("\n"), /already in use/);
    assert.ok(!app.running);
  } finally {
    listener.close();
  }
});

/** Seconds of a "blocked for N s" log line (NaN for other lines). */
function blockedFor(line: string): number {
  if (!line.includes("Event loop was blocked")) return NaN;
  return Number(line.match(/blocked for ([\d.]+) s/)?.[1]);
}

Deno.test("Worker with --debug logs event-loop blocking past blockingTimeout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const app = memApp("worker-blocking", { debug: true });
    const logfile = `${dir}/worker.log`;
    const worker = new Worker(app, {
      logfile,
      web: false,
      signals: false,
      blockingTimeout: 0.1,
      loglevel: "warn",
    });
    await worker.start();
    let line: string | undefined;
    try {
      await new Promise((r) => setTimeout(r, 150));
      const until = performance.now() + 400;
      while (performance.now() < until) { /* block the event loop */ }
      // Other, shorter blocks may be logged first on a loaded host: look
      // for the one this test made.
      const read = async () =>
        line = (await Deno.readTextFile(logfile).catch(() => "")).split("\n")
          .find((l) => blockedFor(l) >= 0.3);
      const deadline = Date.now() + 10_000;
      while (await read() === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await worker.stop();
    }
    // At least the 0.4 s it was blocked (more on a loaded host).
    assert.ok(
      line !== undefined,
      `no block of >= 0.3 s logged: ${await Deno.readTextFile(logfile)}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Worker.stop() makes a pending run() return 0 once everything stopped", async () => {
  const app = memApp("worker-stop-run");
  let ready!: () => void;
  const started = new Promise<void>((r) => ready = r);
  app.task(() => ready());
  const worker = new Worker(app, {
    configureLogging: false,
    signals: false,
    web: false,
  });
  const running = worker.run();
  await started;
  await worker.stop();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    running,
    new Promise<"pending">((r) =>
      timer = setTimeout(() => r("pending"), 10_000)
    ),
  ]);
  clearTimeout(timer);
  assert.equal(code, 0);
  assert.ok(!app.running);
});

Deno.test("Worker.start() with webPort 0 publishes the bound port in canonicalUrl and /router, not port 0", async () => {
  const app = memApp("worker-port0", { webHost: "127.0.0.1" });
  app.topic("worker-port0-in").stream();
  const worker = new Worker(app, { configureLogging: false, signals: false });
  await worker.start();
  try {
    const port = new URL(worker.webUrl!).port;
    assert.notEqual(port, "0");
    const url = `http://127.0.0.1:${port}`;
    assert.equal(app.conf.canonicalUrl, url);
    const router = await (await fetch(`${worker.webUrl}/router`)).json();
    assert.deepEqual(Object.keys(router), [url]);
  } finally {
    await worker.stop();
  }
  // Stopped: the derived default again, so a restart publishes its new port.
  assert.equal(app.conf.canonicalUrl, "http://127.0.0.1:0");
});

Deno.test("Worker.start() with webPort 0 keeps an explicit canonicalUrl", async () => {
  const app = memApp("worker-port0-explicit", {
    canonicalUrl: "http://worker.example:6066",
  });
  const worker = new Worker(app, { configureLogging: false, signals: false });
  await worker.start();
  try {
    assert.equal(app.conf.canonicalUrl, "http://worker.example:6066");
  } finally {
    await worker.stop();
  }
});
