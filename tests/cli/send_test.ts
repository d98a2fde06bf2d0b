import assert from "node:assert/strict";
import { CONFIG, denoRun, ROOT, run } from "./_helpers.ts";

Deno.test("send: a topic neither the app nor the broker has is an error listing topics and agents; --create creates it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const send = (...args: string[]) =>
      run(denoRun("examples/agent.ts", "-D", dir, "send", ...args));
    const typo = await send("myagent", "hello");
    assert.equal(typo.code, 1, typo.stdout);
    assert.match(typo.stderr, /Unknown topic "myagent"/);
    assert.match(typo.stderr, /agents: @myagent/);
    assert.match(typo.stderr, /--create/);
    assert.equal(typo.stdout, "", "nothing was sent");
    // Nothing was created either: the same send fails again.
    assert.equal((await send("myagent", "hello")).code, 1);
    const created = await send("myagent", "hello", "--create");
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).topic, "myagent");
    const again = await send("myagent", "again");
    assert.equal(again.code, 0, "the broker has it now: " + again.stderr);
    const agent = await send("@myagent", "hello");
    assert.equal(agent.code, 0, agent.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("send: values on a typed topic are validated before sending, null included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = `${dir}/shop.ts`;
    await Deno.writeTextFile(
      mod,
      `import { App, Record } from ${
        JSON.stringify(new URL("mod.ts", ROOT).href)
      };
import { z } from "zod";
export const app = new App("shop", { datadir: ${JSON.stringify(dir)} });
const Order = Record("Order", { id: z.string(), amount: z.number() });
app.topic("orders", { valueType: Order });
app.topic("counts", { valueType: "number" });
app.topic("anything");
`,
    );
    const send = (...args: string[]) =>
      run([
        "run",
        "-A",
        "--config",
        CONFIG,
        new URL("cli.ts", ROOT).pathname,
        "-A",
        mod,
        "send",
        ...args,
      ]);
    const none = await send("orders");
    assert.equal(none.code, 1, none.stdout);
    assert.match(none.stderr, /Topic "orders" takes Order records.*null/);
    const bad = await send("orders", '{"id": 1}');
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(
      bad.stderr,
      /Invalid value for topic "orders" \(Order records\):.*id: .*expected string/,
    );
    const text = await send("counts", "many");
    assert.equal(text.code, 1, text.stdout);
    assert.match(text.stderr, /Invalid value for topic "counts" \("number"\)/);
    const good = await send("orders", '{"id": "a1", "amount": 5}');
    assert.equal(good.code, 0, good.stderr);
    assert.equal(JSON.parse(good.stdout).offset, 0);
    const untyped = await send("anything");
    assert.equal(untyped.code, 0, "null is fine untyped: " + untyped.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
