/**
 * Fails when the files of `src/` import each other in a cycle.
 *
 * `deno run --allow-run --allow-read scripts/cycles.ts` (run by `deno task ok`).
 *
 * The import graph comes from `deno info --json` over every file in `src/`,
 * so it is the graph Deno itself resolves. Two rules:
 *
 * 1. Runtime imports never form a cycle, without exception. A runtime import
 *    is a static `import`/`export ... from` that is not written
 *    `import type`/`export type`, or a dynamic `import()`. In a runtime
 *    cycle the evaluation order decides whether a module sees its imports
 *    initialized (a class used before its module ran is a ReferenceError
 *    that depends on which file was imported first).
 * 2. A type-only import (`import type { X }`, `export type { X }`) is erased
 *    before the program runs, so it cannot cause that; but a cycle through
 *    one still ties files together (neither can be read, moved or tested
 *    without the other). So every cycle counts, type edges included, except
 *    through an edge listed in {@linkcode ALLOWED} with the reason it stays.
 *    A listed edge must exist and must still close a cycle, so the list
 *    shrinks as cycles are broken and never hides a new one.
 *
 * An import written `import { type X }` (type modifiers inside the braces)
 * counts as a runtime import: the statement stays in the emitted code.
 *
 * @module
 */

/** Edges allowed to close a cycle of the full graph (types included), with why. */
const ALLOWED: readonly { from: string; to: string; why: string }[] = [
  {
    from: "stream.ts",
    to: "channel.ts",
    why:
      "a Channel makes Streams (channel.stream()) and a Stream forwards to Channels (through(), echo()): the public API is mutual",
  },
  {
    from: "stream.ts",
    to: "topic.ts",
    why:
      "groupBy() reads its source Topic's codecs to make the repartition topic",
  },
  {
    from: "table/windowed.ts",
    to: "table/table.ts",
    why:
      "a WindowedTable wraps the Table whose tumbling()/hopping()/sliding() made it",
  },
  {
    from: "app.ts",
    to: "cli/main.ts",
    why:
      "app.main() loads the command line on demand (dynamic import); the command line names the App by type only (rule 1 checks that)",
  },
];

type Kind = "runtime" | "type";

interface Dependency {
  code?: { specifier?: string };
  type?: { specifier?: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: Dependency[];
}

const root = new URL("../", import.meta.url);
const srcUrl = new URL("src/", root).href;

async function sourceFiles(dir: URL): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) out.push(...await sourceFiles(url));
    else if (entry.name.endsWith(".ts")) out.push(url.href);
  }
  return out;
}

async function importGraph(
  files: readonly string[],
): Promise<Map<string, Map<string, Kind>>> {
  // One `deno info` over a root that imports every file: one process, and
  // files no entry point reaches are checked too.
  const entry = "data:application/typescript," +
    encodeURIComponent(files.map((f) => `import "${f}";`).join("\n"));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL(".", root),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `deno info failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: InfoModule[];
  };
  const graph = new Map<string, Map<string, Kind>>();
  for (const f of files) graph.set(rel(f), new Map());
  for (const m of info.modules) {
    if (!m.specifier.startsWith(srcUrl)) continue;
    const edges = graph.get(rel(m.specifier)) ?? new Map<string, Kind>();
    graph.set(rel(m.specifier), edges);
    for (const d of m.dependencies ?? []) {
      const target = d.code?.specifier ?? d.type?.specifier;
      if (target === undefined || !target.startsWith(srcUrl)) continue;
      const kind: Kind = d.code?.specifier !== undefined ? "runtime" : "type";
      // One runtime import between two files makes the edge a runtime one.
      if (edges.get(rel(target)) !== "runtime") edges.set(rel(target), kind);
    }
  }
  return graph;
}

function rel(url: string): string {
  return url.slice(srcUrl.length);
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(
  graph: Map<string, Map<string, Kind>>,
  keep: (from: string, to: string, kind: Kind) => boolean,
): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const [w, kind] of graph.get(v) ?? []) {
      if (!keep(v, w, kind)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** One shortest cycle through `start` inside `component`, as a path. */
function cyclePath(
  graph: Map<string, Map<string, Kind>>,
  component: readonly string[],
  keep: (from: string, to: string, kind: Kind) => boolean,
): string {
  const inside = new Set(component);
  const start = component[0]!;
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const [w, kind] of graph.get(v) ?? []) {
      if (!inside.has(w) || !keep(v, w, kind)) continue;
      if (w === start) {
        const back: string[] = [];
        for (
          let u: string | undefined = v;
          u !== undefined;
          u = parent.get(u)
        ) {
          back.push(u);
        }
        const path = [...back.reverse(), start];
        return path.map((p, j) =>
          j === 0
            ? p
            : `${
              graph.get(path[j - 1]!)!.get(p) === "type" ? "-(type)->" : "->"
            } ${p}`
        ).join(" ");
      }
      if (!parent.has(w) && w !== start) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return component.join(", ");
}

const graph = await importGraph(await sourceFiles(new URL("src/", root)));
const problems: string[] = [];

const runtimeOnly = (_f: string, _t: string, kind: Kind) => kind === "runtime";
for (const c of cycles(graph, runtimeOnly)) {
  problems.push(
    `runtime import cycle (never allowed): ${cyclePath(graph, c, runtimeOnly)}`,
  );
}

const allowed = new Set(ALLOWED.map((a) => `${a.from} ${a.to}`));
const notAllowed = (from: string, to: string) => !allowed.has(`${from} ${to}`);
for (const c of cycles(graph, notAllowed)) {
  problems.push(
    `import cycle (counting import type): ${
      cyclePath(graph, c, notAllowed)
    }; break it (move the shared types into a small types-only module), ` +
      `or list the edge that closes it in ALLOWED in scripts/cycles.ts with the reason`,
  );
}

const all = () => true;
const together = new Map<string, number>();
cycles(graph, all).forEach((c, i) => c.forEach((f) => together.set(f, i)));
for (const a of ALLOWED) {
  if (!graph.get(a.from)?.has(a.to)) {
    problems.push(
      `ALLOWED lists src/${a.from} -> src/${a.to}, which is no import; remove it from scripts/cycles.ts`,
    );
  } else if (
    together.get(a.from) === undefined ||
    together.get(a.from) !== together.get(a.to)
  ) {
    problems.push(
      `ALLOWED lists src/${a.from} -> src/${a.to}, which closes no cycle any more; remove it from scripts/cycles.ts`,
    );
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`cycles: ${p}`);
  Deno.exit(1);
}
console.log(
  `cycles: none among ${graph.size} files in src/ ` +
    `(${ALLOWED.length} type-level edge(s) allowed, see scripts/cycles.ts)`,
);
