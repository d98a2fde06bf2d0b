/**
 * `deno doc --lint` for the public entry points, tolerating one known false
 * positive: Deno 2.9 reports `private-type-ref` for types that come from npm
 * packages (zod's `ZodType`, Hono's `Context`, logtape's `Logger`) because
 * with `nodeModulesDir` they resolve to `file:` paths (denoland/deno#27364).
 * Every other doc lint error fails the run.
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
console.log(
  `doc lint: clean (${errors.length} npm type reference(s) tolerated, see scripts/doc_lint.ts)`,
);
