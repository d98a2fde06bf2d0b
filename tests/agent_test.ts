import assert from "node:assert/strict";
import { type Agent, App, currentEvent, Record } from "../mod.ts";
import { z } from "zod";
import { memApp, waitFor } from "./helpers.ts";
import { headerText } from "../src/util/types.ts";

Deno.test("Agent on a channel with a timer populating it (seed channel example)", async () => {
  const app = memApp("channel");
  const MyModel = Record("MyModel", { x: z.number() });
  const channel = app.channel({ valueType: MyModel });
  const received: unknown[] = [];
  app.agent(channel, async function process(stream) {
    for await (const event of stream) received.push(event);
  });
  app.timer(0.02, async function populate() {
    await channel.send({ value: { x: 303 } });
  });
  await app.start();
  await waitFor(() => received.length >= 2, 3000, "two timer sends");
  await app.stop();
  assert.deepEqual(received[0], { x: 303 });
});

Deno.test("app.task() runs once the app is operational (seed task example)", async () => {
  const app = memApp("task");
  const calls: boolean[] = [];
  app.task(async function mytask() {
    calls.push(app.running);
  });
  await app.start();
  await waitFor(() => calls.length === 1);
  await app.stop();
  assert.deepEqual(calls, [true]);
});

Deno.test("Agent.ask(), map(), kvmap(), join() and kvjoin() get replies through the reply topic", async () => {
  const app = memApp("rpc");
  const double = app.agent(undefined, async function* (stream) {
    for await (const n of stream) yield n * 2;
  }, { name: "double", valueType: "number" });
  await app.start();
  assert.equal(await double.ask({ value: 21 }), 42);
  assert.deepEqual(await double.join([1, 2, 3]), [2, 4, 6]);
  assert.deepEqual(await double.kvjoin([["a", 1], ["b", 5]]), [2, 10]);
  const mapped: unknown[] = [];
  for await (const r of double.map([1, 2])) mapped.push(r);
  assert.deepEqual(mapped.sort(), [2, 4]);
  const kv: unknown[] = [];
  for await (const r of double.kvmap([["x", 3]])) kv.push(r);
  assert.deepEqual(kv, [6]);
  await app.stop();
});

Deno.test("Agent requests carry Faust's reply headers", async () => {
  const app = memApp("hdrs");
  const seen: string[] = [];
  const echo = app.agent(undefined, async function* (stream) {
    for await (const v of stream) {
      const e = currentEvent()!;
      seen.push(...Object.keys(e.headers));
      yield v;
    }
  }, { name: "echo" });
  await app.start();
  await echo.ask({ value: 1 });
  await app.stop();
  assert.ok(seen.includes("Faust-Ag-ReplyTo"));
  assert.ok(seen.includes("Faust-Ag-CorrelationId"));
});

Deno.test("Agent.ask() replies come back on the app's own f-reply-{uuid} topic", async () => {
  const a = memApp("reply-a");
  const b = memApp("reply-b");
  const replyTo: string[] = [];
  for (const app of [a, b]) {
    app.agent(undefined, async function* (stream) {
      for await (const v of stream) {
        replyTo.push(headerText(currentEvent()!.headers, "Faust-Ag-ReplyTo")!);
        yield v;
      }
    }, { name: "echo" });
    await app.start();
  }
  try {
    assert.equal(await a.agents.get("echo")!.ask({ value: "x" }), "x");
    assert.equal(await b.agents.get("echo")!.ask({ value: "y" }), "y");
    const uuid =
      /^f-reply-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    assert.match(replyTo[0]!, uuid);
    assert.match(replyTo[1]!, uuid);
    assert.notEqual(replyTo[0], replyTo[1], "each app has its own");
    // An asker in the same process may get the reply before its record is
    // appended (not under exactly-once): wait for the record.
    const tp = { topic: replyTo[0]!, partition: 0 };
    const deadline = Date.now() + 10_000;
    while (await a.transport.highWatermark(tp) === 0) {
      assert.ok(Date.now() < deadline, "the reply record within 10 s");
      await new Promise((r) => setTimeout(r, 5));
    }
    const [reply] = await a.transport.read(
      { topic: replyTo[0]!, partition: 0 },
      0,
      1,
    );
    assert.equal(
      JSON.parse(new TextDecoder().decode(reply!.value!)).value,
      "x",
    );
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("Agent.cast() delivers the value without reply headers and waits for no reply", async () => {
  const app = memApp("cast");
  const got: Array<[unknown, string[]]> = [];
  const sink = app.agent(undefined, async function* (stream) {
    for await (const v of stream) {
      got.push([v, Object.keys(currentEvent()!.headers)]);
      yield v;
    }
  }, { name: "sink" });
  await app.start();
  try {
    await sink.cast({ value: 7, headers: { mine: "1" } });
    await waitFor(() => got.length === 1, 5000, "the cast value");
    assert.deepEqual(got, [[7, ["mine"]]]);
  } finally {
    await app.stop();
  }
});

Deno.test("Agent sinks receive every yielded value: agent, topic and callback", async () => {
  const app = memApp("sinks");
  const toAgent: unknown[] = [];
  const toTopic: unknown[] = [];
  const toFn: unknown[] = [];
  const out = app.topic("out", { valueType: "number" });
  app.agent(out, async (s) => {
    for await (const v of s) toTopic.push(v);
  }, { name: "outReader" });
  const collector: Agent<unknown, unknown, unknown> = app.agent(
    app.channel(),
    async (s) => {
      for await (const v of s) toAgent.push(v);
    },
    { name: "collector" },
  );
  const src = app.agent(app.channel(), async function* (s) {
    for await (const v of s) yield (v as number) + 1;
  }, {
    name: "src",
    sink: [collector, out as never, (v: unknown) => void toFn.push(v)],
  });
  await app.start();
  await src.send({ value: 1 });
  await src.send({ value: 2 });
  await waitFor(() =>
    toAgent.length === 2 && toTopic.length === 2 && toFn.length === 2
  );
  await app.stop();
  assert.deepEqual(toAgent, [2, 3]);
  assert.deepEqual(toTopic, [2, 3]);
  assert.deepEqual(toFn, [2, 3]);
});

Deno.test("Agent names: options.name, function name, then {channel}-agent{n}; duplicates and anonymous need names", () => {
  const app = memApp("names");
  const t = app.topic("t");
  assert.equal(app.agent(t, async () => {}, { name: "given" }).name, "given");
  assert.equal(app.agent(t, async function fnName() {}).name, "fnName");
  assert.equal(app.agent(t, async () => {}).name, "t-agent1");
  assert.equal(app.agent(t, async () => {}).name, "t-agent2");
  assert.throws(
    () => app.agent(t, async () => {}, { name: "given" }),
    /Duplicate agent name "given"/,
  );
  assert.throws(
    () => app.agent(undefined, async () => {}),
    /anonymous topic needs a name/,
  );
  assert.equal(
    app.agent("by-name", async function onName() {}).channel.label,
    "by-name",
  );
});

Deno.test("Agent with concurrency 3 processes events in parallel actors", async () => {
  const app = memApp("conc");
  let active = 0;
  let peak = 0;
  let done = 0;
  const a = app.agent(app.channel(), async (s) => {
    for await (const _ of s) {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 20));
      active--;
      done++;
    }
  }, { name: "slow", concurrency: 3 });
  await app.start();
  for (let i = 0; i < 6; i++) await a.send({ value: i });
  await waitFor(() => done === 6);
  await app.stop();
  assert.equal(peak, 3);
});

async function crashingRun(
  strategy: "one_for_one" | "one_for_all" | "crashing",
) {
  const app = memApp(`sup-${strategy}`);
  const starts: number[] = [];
  const errors: string[] = [];
  const processed: unknown[] = [];
  let actorStarts = 0;
  const a = app.agent(app.channel(), async (s) => {
    starts.push(++actorStarts);
    for await (const v of s) {
      if (v === "boom") throw new Error("boom!");
      processed.push(v);
    }
  }, {
    name: "fragile",
    concurrency: 2,
    supervisorStrategy: strategy,
    onError: (_agent, error) => void errors.push(error.message),
  });
  await app.start();
  await a.send({ value: "boom" });
  return { app, a, starts, errors, processed };
}

Deno.test("Supervisor one_for_one restarts only the crashed actor", async () => {
  const { app, a, starts, errors, processed } = await crashingRun(
    "one_for_one",
  );
  await waitFor(() => starts.length === 3);
  await a.send({ value: "after" });
  await waitFor(() => processed.length === 1);
  await app.stop();
  assert.deepEqual(errors, ["boom!"]);
  assert.equal(app.monitor.get("agentRestarts"), 1);
});

Deno.test("Supervisor one_for_all restarts every actor of the agent", async () => {
  const { app, a, starts, processed } = await crashingRun("one_for_all");
  await waitFor(() => starts.length === 4);
  await a.send({ value: "after" });
  await waitFor(() => processed.length === 1);
  await app.stop();
  assert.equal(app.monitor.get("agentRestarts"), 1);
});

Deno.test("Supervisor crashing stops the app and resolves app.crashed with the error", async () => {
  const { app, errors } = await crashingRun("crashing");
  const error = await app.crashed;
  assert.match(error.message, /Agent "fragile" crashed: boom!/);
  await waitFor(() => !app.running);
  assert.deepEqual(errors, ["boom!"]);
  await app.stop();
});

Deno.test("Agent.testContext() runs the agent without a broker; put() waits for processing", async () => {
  const app = new App("tc", { broker: "memory://" });
  const upper = app.agent(undefined, async function* upper(stream) {
    for await (const s of stream) yield (s as string).toUpperCase();
  });
  const ctx = await upper.testContext().start();
  const e1 = await ctx.put("hello");
  const e2 = await ctx.put("world");
  assert.equal(ctx.results.get(e1.offset), "HELLO");
  assert.equal(ctx.results.get(e2.offset), "WORLD");
  await ctx.stop();
});

Deno.test("AgentTestContext.put() resolves while the app itself is started (the context runs actors of its own)", async () => {
  const app = new App("tc-started", {
    broker: "memory://",
    store: "memory://",
  });
  const seen: string[] = [];
  const upper = app.agent(undefined, async function* upper(stream) {
    for await (const s of stream) {
      seen.push(s as string);
      yield (s as string).toUpperCase();
    }
  });
  await app.start();
  try {
    const ctx = await upper.testContext().start();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("put() still pending after 20 s")),
        20_000,
      );
    });
    try {
      const e1 = await Promise.race([ctx.put("hello"), bound]);
      assert.equal(ctx.results.get(e1.offset), "HELLO");
    } finally {
      clearTimeout(timer);
      await ctx.stop();
    }
    // The app's own agent still runs on its own buffer.
    assert.equal(upper.running, true);
    await upper.ask({ value: "app" });
    assert.deepEqual(seen, ["hello", "app"]);
  } finally {
    await app.stop();
  }
});

Deno.test("Two apps in one process are isolated (memory:// is private per app)", async () => {
  const app1 = memApp("demo1");
  const app2 = memApp("demo2");
  const got1: unknown[] = [];
  const got2: unknown[] = [];
  app1.agent("shared-name", async (s) => {
    for await (const v of s) got1.push(v);
  }, { name: "a1" });
  app2.agent("shared-name", async (s) => {
    for await (const v of s) got2.push(v);
  }, { name: "a1" });
  await app1.start();
  await app2.start();
  await app1.send("shared-name", { value: "only-1" });
  await waitFor(() => got1.length === 1);
  // Had app2 seen app1's topic, "only-1" would come before its own record.
  await app2.send("shared-name", { value: "only-2" });
  await waitFor(() => got2.length >= 1);
  await app1.stop();
  await app2.stop();
  assert.deepEqual(got1, ["only-1"]);
  assert.deepEqual(got2, ["only-2"]);
  assert.notEqual(app1.conf, app2.conf);
});

Deno.test("Agent.ask() with a timeout rejects catchably when the timeout fires while the request send is blocked", async () => {
  const app = memApp("ask-blocked");
  const ch = app.channel({ maxsize: 1 });
  const { promise: release, resolve: unblock } = Promise.withResolvers<void>();
  const slow = app.agent(ch, async function* (stream) {
    for await (const v of stream) {
      await release;
      yield v;
    }
  }, { name: "slow" });
  await app.start();
  // One event in hand (blocked), one in the buffer: the next send waits.
  await ch.send({ value: 1 });
  await ch.send({ value: 2 });
  let caught: unknown;
  try {
    await slow.ask({ value: 3 }, { timeout: 0.05 });
  } catch (error) {
    caught = error;
  }
  assert.match(String(caught), /No reply within 0\.05s/);
  unblock();
  await app.stop();
});

Deno.test("Agent.ask() on local:// leaves no reply-group lock file once the app stops", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const app = memApp("ask-local", {
      broker: "local://",
      datadir: dir,
    });
    const echo = app.agent(undefined, async function* (stream) {
      for await (const v of stream) yield v;
    }, { name: "echo" });
    await app.start();
    assert.equal(await echo.ask({ value: 7 }), 7);
    const groups = `${dir}/broker/groups`;
    const locks = () =>
      [...Deno.readDirSync(groups)].map((e) => e.name).filter((n) =>
        n.startsWith("f-reply-")
      );
    assert.equal(locks().length, 1, "the reply group is claimed while running");
    await app.stop();
    assert.deepEqual(locks(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** An app on a shared memory:// broker whose agent raises on "bad". */
function poisonApp(broker: string, strategy: "one_for_one" | "crashing") {
  const app = memApp("poison", { broker, agentSupervisor: strategy });
  const topic = app.topic("in", { partitions: 1, valueType: "string" });
  const seen: string[] = [];
  app.agent(topic, async (s) => {
    for await (const v of s) {
      seen.push(v);
      if (v === "bad") throw new Error(`cannot process ${v}`);
    }
  }, { name: "picky" });
  return { app, topic, seen };
}

Deno.test("An agent that raises under one_for_one: the event is logged, counted and acked; the next events are processed and committed", async () => {
  const broker = `memory://poison-${crypto.randomUUID()}`;
  const { app, topic, seen } = poisonApp(broker, "one_for_one");
  await app.start();
  for (const v of ["a", "bad", "b"]) await topic.send({ value: v });
  await waitFor(() => seen.length === 3);
  await waitFor(() =>
    app.monitor.partition({ topic: "in", partition: 0 }).committed === 3
  );
  assert.equal(app.monitor.get("agentEventErrors"), 1);
  assert.equal(app.monitor.get("agentRestarts"), 1);
  await app.stop();
});

Deno.test("An agent that raises under crashing: the event is not acked, so the next start processes it again", async () => {
  const broker = `memory://poison-${crypto.randomUUID()}`;
  const first = poisonApp(broker, "crashing");
  await first.app.start();
  for (const v of ["a", "bad", "b"]) await first.topic.send({ value: v });
  assert.match((await first.app.crashed).message, /cannot process bad/);
  await first.app.stop();
  assert.deepEqual(first.seen, ["a", "bad"]);
  assert.equal(first.app.monitor.get("agentEventErrors"), 1);

  const again = poisonApp(broker, "one_for_one");
  await again.app.start();
  await waitFor(() => again.seen.length === 2);
  assert.deepEqual(again.seen, ["bad", "b"]);
  await again.app.stop();
});

Deno.test("An agent that returns while its stream delivers is restarted (one_for_one) or crashes the app (crashing)", async () => {
  const app = memApp("returns");
  const ch = app.channel();
  const seen: unknown[] = [];
  app.agent(ch, async (s) => {
    for await (const v of s) {
      seen.push(v);
      break; // returns after one event
    }
  }, { name: "once" });
  await app.start();
  for (const v of [1, 2, 3]) await ch.send({ value: v });
  await waitFor(() => seen.length === 3);
  assert.ok(app.monitor.get("agentRestarts") >= 2);
  await app.stop();

  const crashing = memApp("returns-crashing", { agentSupervisor: "crashing" });
  crashing.agent(crashing.channel(), async () => {}, { name: "quits" });
  await crashing.start();
  assert.match(
    (await crashing.crashed).message,
    /actor 0 returned while its stream still delivers/,
  );
  await crashing.stop();
});

Deno.test("app.agent() refuses isolatedPartitions: true with a ConfigError naming the option and the agent", () => {
  const app = memApp("agent-isolated");
  assert.throws(
    () =>
      app.agent("numbers", async (s) => {
        for await (const _ of s);
      }, { name: "iso", isolatedPartitions: true as false }),
    (e: Error) => {
      assert.equal(e.name, "ConfigError");
      assert.match(
        e.message,
        /^Option "isolatedPartitions" of agent "iso" is not supported: .*concurrency/,
      );
      return true;
    },
  );
});
