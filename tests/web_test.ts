import assert from "node:assert/strict";
import type { Context } from "hono";
import { App } from "../mod.ts";
import { ConfigError } from "../src/errors.ts";
import { createWeb, WebServer } from "../src/web.ts";
import { keyOwner } from "../src/table_route.ts";

function memApp(id: string, extra: Record<string, unknown> = {}): App {
  return new App(id, { broker: "memory://", store: "memory://", ...extra });
}

Deno.test("createWeb() serves function pages with path params, class-based views and 405", async () => {
  const app = memApp("web-pages");
  app.page(
    "/path/to/view/",
    (c) => c.json({ foo: c.req.query("foo") ?? null }),
  );
  app.page("/hello/:name", (c) => c.text(`Hello, ${c.req.param("name")}!`));
  class Counter {
    n = 0;
    get(c: Context) {
      return c.json({ n: this.n });
    }
    post(c: Context) {
      return c.json({ n: ++this.n });
    }
  }
  app.page("/counter", Counter as never);
  const { web } = createWeb(app);
  const r1 = await web.request("/path/to/view/?foo=bar");
  assert.equal(r1.status, 200);
  assert.deepEqual(await r1.json(), { foo: "bar" });
  assert.equal((await web.request("/path/to/view?foo=x")).status, 200);
  assert.equal(
    await (await web.request("/hello/world")).text(),
    "Hello, world!",
  );
  assert.deepEqual(
    await (await web.request("/counter", { method: "POST" })).json(),
    { n: 1 },
  );
  assert.deepEqual(await (await web.request("/counter")).json(), { n: 1 });
  const del = await web.request("/counter", { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "GET, POST");
  assert.equal((await web.request("/nope")).status, 404);
  assert.equal(app.monitor.httpResponses.get(405), 1);
});

Deno.test("createWeb() serves /metrics in Prometheus text, /stats as JSON and the / dashboard", async () => {
  const app = memApp("web-metrics");
  const counts = app.table("counts", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
    help: "Counts.",
  });
  const topic = app.topic("words", { valueType: "string" });
  app.agent(topic, async function count(stream) {
    for await (const w of stream) counts.set(w, counts.get(w) + 1);
  }, { help: "Counts words." });
  await app.start();
  try {
    await topic.send({ key: "a", value: "a" });
    const t0 = Date.now();
    while (counts.get("a") < 1 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const { web } = createWeb(app);
    const m = await web.request("/metrics");
    assert.equal(m.status, 200);
    assert.match(
      m.headers.get("content-type") ?? "",
      /^text\/plain; version=0\.0\.4/,
    );
    const text = await m.text();
    assert.match(text, /^# TYPE faust_table_keys gauge$/m);
    assert.match(
      text,
      /^faust_table_keys\{app="web-metrics",table="counts"\} 1$/m,
    );
    assert.match(
      text,
      /^faust_topic_messages_received_total\{app="web-metrics",topic="words"\} 1$/m,
    );
    assert.match(
      text,
      /^faust_agent_running\{app="web-metrics",agent="count"\} 1$/m,
    );
    const stats = await (await web.request("/stats")).json();
    assert.equal(stats.id, "web-metrics");
    assert.deepEqual(stats.tables, [{
      name: "counts",
      help: "Counts.",
      size: 1,
      changelog: "web-metrics-counts-changelog",
      recovery: null,
    }]);
    assert.equal(stats.agents[0].name, "count");
    const html = await (await web.request("/")).text();
    assert.match(html, /<title>web-metrics/);
    assert.match(html, /@count/);
    assert.match(
      html,
      /"counts"><td><code>counts<\/code><\/td><td class="num">1</,
    );
    assert.equal(
      (await web.request("/table/counts/a")).status,
      404,
      "table views are opt-in",
    );
    const owner = await keyOwner(app, "counts", "a");
    assert.equal(owner?.url, app.conf.canonicalUrl);
    const routed = await (await web.request("/router/counts/a/")).json();
    assert.equal(routed.partition, owner?.partition);
  } finally {
    await app.stop();
  }
});

Deno.test("createWeb() serves /table/... only with webTablesEnabled", async () => {
  const app = memApp("web-tables", { webTablesEnabled: true });
  const counts = app.table("counts", {
    keyType: "string",
    valueType: "number",
    default: () => 0,
  });
  const topic = app.topic("w", { valueType: "string" });
  app.agent(topic, async function count(stream) {
    for await (const w of stream) counts.set(w, counts.get(w) + 1);
  });
  await app.start();
  try {
    await topic.send({ key: "k", value: "k" });
    const t0 = Date.now();
    while (counts.get("k") < 1 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const { web } = createWeb(app);
    assert.deepEqual(await (await web.request("/table/counts/k/")).json(), {
      key: "k",
      value: 1,
    });
    assert.equal((await web.request("/table/counts/zzz")).status, 404);
    assert.deepEqual(
      (await (await web.request("/table/counts")).json()).items,
      { k: 1 },
    );
    assert.equal((await web.request("/table/nope")).status, 404);
  } finally {
    await app.stop();
  }
});

Deno.test("WebServer.start() listens on 127.0.0.1 and a busy port is a ConfigError naming the port and -p", async () => {
  const app = memApp("web-serve", { webPort: 0 });
  app.page("/ping", (c) => c.text("pong"));
  const server = new WebServer(app);
  await server.start();
  try {
    assert.match(server.url ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/ping`);
    assert.equal(await res.text(), "pong");
    const busy = new WebServer(memApp("web-busy", { webPort: server.port }));
    await assert.rejects(busy.start(), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        new RegExp(
          `Web port ${server.port} on 127\\.0\\.0\\.1 is already in use.*-p/--web-port`,
        ),
      );
      return true;
    });
  } finally {
    await server.stop();
  }
});

Deno.test("app.page() types the path parameters of its path: /count/:word/ gives { word: string }", async () => {
  const app = memApp("web-typed-params");
  app.page("/count/:word/", (c) => {
    // A type error (string | undefined) before pages were typed by path.
    const word: string = c.req.param("word");
    const all: { word: string } = c.req.param();
    return c.json({ word, upper: all.word.toUpperCase() });
  });
  app.page(
    "/routed/:key/",
    app.tableRoute("t", { matchInfo: "key" }, (c) => {
      const key: string = c.req.param("key");
      return c.text(key);
    }),
  );
  const { web } = createWeb(app);
  assert.deepEqual(await (await web.request("/count/fox/")).json(), {
    word: "fox",
    upper: "FOX",
  });
});

Deno.test("Dashboard: lag is end - read with committed apart, changelogs shown as changelogs, recovery progress, live fragment and page links", async () => {
  const app = memApp("web-dash", { topicPartitions: 1 });
  const counts = app.table("counts", { default: () => 0 });
  const words = app.topic("words", { valueType: "string", keyType: "string" });
  app.agent(words, async function count(stream) {
    for await (const w of stream) counts.set(w, counts.get(w) + 1);
  });
  app.page("/plain/", (c) => c.text("x"));
  app.page("/count/:word/", (c) => c.text(c.req.param("word")));
  await app.start();
  try {
    for (const w of ["a", "b", "a"]) await words.send({ key: w, value: w });
    const t0 = Date.now();
    while (counts.get("a") < 2 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // The changelog record cache appends at the next commit or flush.
    await counts.flush();
    // Read 3, committed less: the lag (end - read) is 0 all the same.
    const p = app.monitor.partition({ topic: "words", partition: 0 });
    p.committed = 1;
    const { web, history } = createWeb(app);
    const stats = await (await web.request("/stats")).json();
    const topic = stats.topics.find((t: { name: string }) =>
      t.name === "words"
    );
    assert.equal(topic.kind, "source");
    assert.equal(topic.behind, 0);
    assert.equal(topic.partitions[0].read, 3);
    assert.equal(topic.partitions[0].committed, 1);
    const changelog = stats.topics.find((t: { name: string }) =>
      t.name === "web-dash-counts-changelog"
    );
    assert.equal(changelog.kind, "changelog");
    assert.ok(changelog.sent >= 1, "the changelog counts what was written");

    const html = await (await web.request("/")).text();
    const row = html.match(/<tr data-topic="words">(.*?)<\/tr>/)![1]!;
    const cells = [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]);
    // Read, End, Lag, Committed, Uncommitted.
    assert.deepEqual(cells.slice(4, 9), ["3", "3", "0", "1", "2"]);
    assert.match(html, /changelog of counts/);
    assert.doesNotMatch(html, /http-equiv="refresh"/);
    assert.match(html, /fetch\("\?live=1"/);
    assert.match(html, /<a href="\/plain\/"><code>\/plain\/<\/code><\/a>/);
    assert.match(html, /<td><code>\/count\/:word\/<\/code><\/td>/);

    // The live fragment carries the charts once the history has samples.
    history.record(stats, Date.now() - 2000);
    history.record(stats);
    const live = await (await web.request("/?live=1")).text();
    assert.doesNotMatch(live, /<html/);
    assert.match(live, /data-chart="Events \/ s"/);
    assert.match(live, /data-chart="Lag per topic"[\s\S]*words/);
    assert.match(live, /<polyline/);

    // A running recovery shows done / total, rate and ETA.
    const table = app.tables.get("counts") as unknown as {
      recoveryStats: { current?: unknown };
    };
    table.recoveryStats.current = {
      kind: "active",
      done: 2500,
      total: 10000,
      rate: 1250,
      etaSeconds: 6,
      startedAt: Date.now(),
    };
    const recovering = await (await web.request("/?live=1")).text();
    assert.match(recovering, /2,500 \/ 10,000 \(25%\) · 1,250\/s · ETA 6s/);
    table.recoveryStats.current = undefined;
  } finally {
    await app.stop();
  }
});

/** Send a raw HTTP/1.1 GET with exactly `host` as the Host header; the status code. */
async function statusWithHost(
  port: number,
  path: string,
  host: string,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  } finally {
    conn.close();
  }
}

Deno.test("WebServer refuses a Host header it is not known as with 421 (DNS rebinding) and allows the configured ones", async () => {
  const app = memApp("web-hosts", {
    webPort: 0,
    webHost: "worker1.internal",
    canonicalUrl: "http://faust.example.com:8080",
    webAllowedHosts: ["proxy.example.org"],
  });
  const server = new WebServer(app);
  await server.start();
  try {
    const port = server.port!;
    for (
      const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        "LOCALHOST",
        `[::1]:${port}`,
        `worker1.internal:${port}`,
        "faust.example.com:8080",
        "proxy.example.org",
      ]
    ) {
      assert.equal(await statusWithHost(port, "/stats", host), 200, host);
    }
    for (
      const host of [
        `attacker.example:${port}`,
        "127.0.0.1.attacker.example",
        "localhost.attacker.example:80",
      ]
    ) {
      assert.equal(await statusWithHost(port, "/stats", host), 421, host);
    }
    const res = await fetch(`${server.url}/stats`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(app.monitor.get("webHostRefused"), 3);
  } finally {
    await server.stop();
  }
  const open = memApp("web-hosts-any", { webPort: 0, webAllowedHosts: ["*"] });
  const anyServer = new WebServer(open);
  await anyServer.start();
  try {
    assert.equal(
      await statusWithHost(anyServer.port!, "/stats", "anything.example"),
      200,
    );
  } finally {
    await anyServer.stop();
  }
  assert.throws(
    () => memApp("web-hosts-bad", { webAllowedHosts: ["host:8080"] }),
    /webAllowedHosts.*host names without ports/,
  );
});
