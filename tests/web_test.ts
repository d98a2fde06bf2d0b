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
    }]);
    assert.equal(stats.agents[0].name, "count");
    const html = await (await web.request("/")).text();
    assert.match(html, /<title>web-metrics/);
    assert.match(html, /@count/);
    assert.match(html, /counts<\/code><\/td><td class="num">1</);
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
