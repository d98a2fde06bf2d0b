/**
 * The README as a new user reads it: every `ts` snippet type checks and
 * lints, and a separate project set up as "Use it in your project" says
 * installs, runs a typed app under the least-privilege flags, serves a page
 * and receives a send.
 */
import assert from "node:assert/strict";
import { Proc, ROOT, run } from "./cli/_helpers.ts";

const README = await Deno.readTextFile(new URL("README.md", ROOT));

/** The fenced blocks of the README with the given info string. */
function blocks(lang: string): string[] {
  const re = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```", "gm");
  return [...README.matchAll(re)].map((m) => m[1]!);
}

/** The README's deno.json for a checkout, pointed at this checkout. */
function checkoutConfig(): Record<string, unknown> {
  const block = blocks("json").find((b) => b.includes("../faust-deno/mod.ts"));
  assert.ok(block, "README has the deno.json block for a checkout");
  return JSON.parse(block.replaceAll("../faust-deno/", ROOT.pathname));
}

/** The least-privilege `deno run` flags the README documents. */
function leastPrivilegeFlags(): string[] {
  const line = blocks("sh").flatMap((b) => b.split("\n")).find((l) =>
    l.startsWith("deno run --allow-read=.")
  );
  assert.ok(line, "README documents a least-privilege deno run line");
  const next = README.slice(README.indexOf(line) + line.length).split("\n")[1]!;
  return `${line.replace(/\\$/, "")} ${next}`.split(/\s+/).filter((a) =>
    a.startsWith("--allow-")
  );
}

/** A fresh project directory with the README's deno.json, installed. */
async function project(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "faust-project-" });
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify(checkoutConfig(), null, 2),
  );
  const installed = await run(["install"], { cwd: dir, ms: 120_000 });
  assert.equal(installed.code, 0, installed.stderr);
  assert.doesNotMatch(
    installed.stderr,
    /Ignored build scripts/,
    "allowScripts silences the lmdb warning",
  );
  return dir;
}

Deno.test("README: the checkout deno.json pins the npm packages at this repository's versions", async () => {
  const ours = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ) as { imports: Record<string, string> };
  const theirs = checkoutConfig().imports as Record<string, string>;
  for (const [name, spec] of Object.entries(ours.imports)) {
    assert.equal(theirs[name], spec, `README import map entry for ${name}`);
  }
});

Deno.test("README: every ts snippet passes deno check and deno lint in a project using the package", async () => {
  const snippets = blocks("ts");
  assert.ok(snippets.length >= 1, "README has ts snippets");
  const dir = await project();
  try {
    const files: string[] = [];
    for (const [i, code] of snippets.entries()) {
      const file = `snippet_${i}.ts`;
      await Deno.writeTextFile(`${dir}/${file}`, code);
      files.push(file);
    }
    const checked = await run(["check", ...files], { cwd: dir, ms: 300_000 });
    assert.equal(checked.code, 0, checked.stderr);
    const linted = await run(["lint", ...files], { cwd: dir });
    assert.equal(linted.code, 0, `${linted.stdout}\n${linted.stderr}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const APP = `import { App, Record } from "@faust/faust";
import { z } from "zod";

export const app = new App("shop");
const Order = Record("Order", { id: z.string(), amount: z.number() });
const orders = app.topic("orders", { valueType: Order });
const totals = app.table("totals", { default: () => 0 });

app.agent(orders, async function tally(stream) {
  for await (const order of stream) {
    totals.set(order.id, totals.get(order.id) + order.amount);
    console.log(\`ORDER \${order.id} \${order.amount}\`);
  }
});

app.page("/total/:id/", (c) => {
  const id: string = c.req.param("id");
  return c.json({ id, total: totals.get(id) });
});

if (import.meta.main) await app.main();
`;

Deno.test("README: a separate project imports the package by path, installs, and runs a typed app under least privilege", async () => {
  const dir = await project();
  const flags = leastPrivilegeFlags();
  try {
    await Deno.writeTextFile(`${dir}/app.ts`, APP);
    const checked = await run(["check", "app.ts"], { cwd: dir, ms: 300_000 });
    assert.equal(checked.code, 0, checked.stderr);
    const worker = new Proc(
      ["run", ...flags, "app.ts", "worker", "-l", "info", "-p", "0"],
      { cwd: dir },
    );
    try {
      await worker.waitFor(/Worker ready/);
      const [, url] = await worker.waitFor(/│ web\s+│ (http:\/\/[^\s│]+)/);
      const sent = await run(
        [
          "run",
          ...flags,
          "app.ts",
          "send",
          "orders",
          '{"id": "a1", "amount": 5}',
        ],
        { cwd: dir },
      );
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(JSON.parse(sent.stdout.trim()).topic, "orders");
      await worker.waitFor(/ORDER a1 5/);
      const page = await fetch(`${url}/total/a1/`);
      assert.equal(page.status, 200);
      assert.deepEqual(await page.json(), { id: "a1", total: 5 });
    } finally {
      worker.kill("SIGTERM");
      assert.equal((await worker.exit(20_000)).code, 0, worker.output);
    }
    const data = await Deno.stat(`${dir}/shop-data`);
    assert.ok(data.isDirectory, "data is kept inside the project");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
