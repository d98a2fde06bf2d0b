/**
 * `deno doc --lint` for the public entry points, tolerating one known false
 * positive: Deno 2.9 reports `private-type-ref` for types that come from npm
 * packages (zod's `ZodType`, Hono's `Context`, logtape's `Logger`) because
 * with `nodeModulesDir` they resolve to `file:` paths (denoland/deno#27364).
 * Every other doc lint error fails the run.
 *
 * Also fails when an export of an entry point has no `@example` in its
 * JSDoc (`deno task test:doc` runs every example).
 *
 * Run: deno run --allow-run scripts/doc_lint.ts
 */
const NPM_TYPES = new Set([
  "ZodType",
  "ZodObject",
  "ZodRawShape",
  "output",
  "Context",
  "Hono",
  "Logger",
]);
const entries = ["mod.ts", "testing.ts"].filter((f) => {
  try {
    return Deno.statSync(f).isFile;
  } catch {
    return false;
  }
});
const out = await new Deno.Command("deno", {
  args: ["doc", "--lint", ...entries],
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const text =
  (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr))
    // deno-lint-ignore no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, "");
const errors = text.split("\n").filter((l) => /^error\[/.test(l));
const real = errors.filter((l) => {
  const m = /references private type '([^']+)'/.exec(l);
  return !(l.startsWith("error[private-type-ref]") && m !== null &&
    NPM_TYPES.has(m[1]!));
});
if (real.length > 0 || (out.code !== 0 && errors.length === 0)) {
  console.log(text);
  console.error(
    `doc lint: ${real.length} error(s) besides npm type references:\n${
      real.join("\n")
    }`,
  );
  Deno.exit(1);
}
// Every export of an entry point shows how it is used: an `@example` on
// its declaration (a re-export counts through the declaration it names).
interface DocDeclaration {
  kind: string;
  location: { filename: string; line: number };
  jsDoc?: { tags?: { kind: string }[] };
  def?: { target?: { filename: string; line: number } };
}
const docJson = await new Deno.Command("deno", {
  args: ["doc", "--json", ...entries, "cli.ts"],
  stdout: "piped",
  stderr: "inherit",
}).output();
if (!docJson.success) Deno.exit(1);
const nodes = (JSON.parse(new TextDecoder().decode(docJson.stdout)) as {
  nodes: Record<string, {
    symbols: { name: string; declarations: DocDeclaration[] }[];
  }>;
}).nodes;
const where = (l: { filename: string; line: number }) =>
  `${l.filename}:${l.line}`;
const withExample = new Set<string>();
for (const { symbols } of Object.values(nodes)) {
  for (const s of symbols) {
    for (const d of s.declarations) {
      if (d.jsDoc?.tags?.some((t) => t.kind === "example")) {
        withExample.add(where(d.location));
      }
    }
  }
}
const missing: string[] = [];
for (const [entry, { symbols }] of Object.entries(nodes)) {
  for (const s of symbols) {
    for (const d of s.declarations) {
      const at = d.kind === "reference" && d.def?.target !== undefined
        ? d.def.target
        : d.location;
      if (!withExample.has(where(at))) {
        missing.push(
          `${s.name} (exported by ${entry.replace(/^.*\//, "")}, declared at ${
            where(at).replace(/^file:\/\/\/.*?\/(src|mod|testing|cli)/, "$1")
          })`,
        );
      }
    }
  }
}
if (missing.length > 0) {
  console.error(
    `doc lint: ${missing.length} export(s) without an @example:\n${
      missing.join("\n")
    }`,
  );
  Deno.exit(1);
}

console.log(
  `doc lint: clean (${errors.length} npm type reference(s) tolerated, see scripts/doc_lint.ts); every export has an @example`,
);
