/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by source
 * (dotctl's own files, each npm package, node internals), so a bench that misses its goal can say
 * where the time goes.
 *
 *   npx tsx bench/cpuprofile.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Where a frame's code lives, coarsely: a package, dotctl's own code, node, or V8. */
export function sourceOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  const own = /\/(src|dist)\/(.+)$/.exec(url);
  if (own) return `dotctl ${own[2]}`;
  return url;
}

/** Self time (µs) by function and by source. */
export function summarise(p: Profile): { total: number; byFunction: Map<string, number>; bySource: Map<string, number> } {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const bySource = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const n = nodes.get(id);
    if (!n) return;
    total += dt;
    const f = n.callFrame;
    const src = sourceOf(f.url);
    const name = `${f.functionName || '(anonymous)'}  ${src === f.url ? f.url : src}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + dt);
    bySource.set(src, (bySource.get(src) ?? 0) + dt);
  });
  return { total, byFunction, bySource };
}

/** Prints the top entries of a summary. */
export function printSummary(file: string, top = 20): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const s = summarise(p);
  const pct = (us: number): string => `${((us / s.total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms`;
  console.log(`profile ${file}: ${(s.total / 1000).toFixed(0)} ms sampled`);
  console.log('  self time by source:');
  for (const [k, v] of [...s.bySource.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(v)}  ${k}`);
  console.log('  self time by function:');
  for (const [k, v] of [...s.byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(v)}  ${k}`);
}

if (process.argv[1] && /cpuprofile\.ts$/.test(process.argv[1])) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx bench/cpuprofile.ts FILE.cpuprofile [TOP]');
    process.exit(2);
  }
  printSummary(file, Number(process.argv[3] ?? 20));
}
