/**
 * Top self-time functions of a V8 `.cpuprofile` (as written by
 * `deno run --cpu-prof --cpu-prof-dir=DIR`), with file:line.
 *
 *   deno run -A bench/peers/_cpuprof.ts FILE.cpuprofile [TOP] [REGEXP]
 *
 * REGEXP filters the "function file:line" labels (e.g. " src/").
 * Also prints inclusive time of the same labels and self time per file.
 *
 * @module
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function shortUrl(url: string): string {
  if (url.includes("node_modules/.deno/")) {
    return url.replace(/.*node_modules\/\.deno\//, "npm:");
  }
  return url.replace(/^file:\/\/\/.*?\/(src|bench)\//, "$1/");
}

function label(n: ProfileNode): string {
  const cf = n.callFrame;
  return `${cf.functionName || "(anonymous)"}  ${shortUrl(cf.url)}:${
    cf.lineNumber + 1
  }`;
}

const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;

function main(): void {
  const [file, topArg, patArg] = Deno.args;
  if (file === undefined) {
    throw new Error("usage: _cpuprof.ts FILE.cpuprofile [TOP] [REGEXP]");
  }
  const prof = JSON.parse(Deno.readTextFileSync(file)) as Profile;
  const top = Number(topArg ?? 20);
  const pat = new RegExp(patArg ?? ".");
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfById = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]!;
    selfById.set(id, (selfById.get(id) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
  }
  let total = 0;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, t] of selfById) {
    total += t;
    const node = byId.get(id)!;
    const k = label(node);
    self.set(k, (self.get(k) ?? 0) + t);
    const f = shortUrl(node.callFrame.url).replace(/^(npm:[^/]+).*/, "$1") ||
      `(${node.callFrame.functionName})`;
    files.set(f, (files.get(f) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined;) {
      const l = label(byId.get(cur)!);
      if (!seen.has(l)) {
        seen.add(l);
        incl.set(l, (incl.get(l) ?? 0) + t);
      }
      cur = parent.get(cur);
    }
  }
  const pct = (t: number) => `${(100 * t / total).toFixed(1).padStart(5)}%`;
  const show = (title: string, m: Map<string, number>, filter: boolean) => {
    console.log(`--- ${title}`);
    const rows = [...m].filter(([k]) => !filter || pat.test(k))
      .sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [k, t] of rows) console.log(`${ms(t)} ${pct(t)}  ${k}`);
  };
  console.log(`total sampled ${(total / 1e6).toFixed(2)} s`);
  show("self time", self, true);
  show("inclusive time", incl, true);
  show("self time per file or package", files, false);
}

if (import.meta.main) main();
