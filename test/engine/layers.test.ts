/**
 * The layers import downwards only: model ← catalogue, ledger ← gate, render ← exec ← engine
 * (with src/engine.ts, the public API, and src/index.ts) ← cli. The demo is an application of the
 * library: it imports the public API only. Read from the sources' import statements.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve('src');
const RANK: Readonly<Record<string, number>> = { model: 0, catalogue: 1, ledger: 1, gate: 2, render: 2, exec: 3, engine: 4, 'engine.ts': 4, 'index.ts': 5, cli: 6 };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const layerOf = (file: string): string => relative(SRC, file).split('/')[0]!;

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm), ...text.matchAll(/import\('(\.[^']+)'\)/g)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

test('no source file imports from a higher layer', () => {
  const wrong: string[] = [];
  for (const f of files(SRC)) {
    const from = layerOf(f);
    for (const target of imports(f)) {
      const to = layerOf(target);
      if (RANK[from] === undefined || RANK[to] === undefined) wrong.push(`${relative(SRC, f)}: unknown layer ${from} or ${to}`);
      else if (RANK[to]! > RANK[from]!) wrong.push(`${relative(SRC, f)} (${from}) imports ${relative(SRC, target)} (${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the demo and the CLI commands use the public API only', () => {
  const wrong: string[] = [];
  for (const f of files(join(SRC, 'cli'))) {
    for (const target of imports(f)) {
      if (layerOf(target) !== 'cli' && relative(SRC, target) !== 'engine.ts' && relative(SRC, target) !== 'model/errors.ts') wrong.push(`${relative(SRC, f)} imports ${relative(SRC, target)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no source file is over 400 lines', () => {
  const long = files(SRC)
    .map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const)
    .filter(([, n]) => n > 400);
  assert.deepEqual(long, []);
});
