/**
 * Start-up: `dotctl --help` and `dotctl list` vs `node -e 0` (the floor any Node CLI pays).
 *
 *   npx tsx bench/startup.ts          (runs: env DOTCTL_BENCH_RUNS, default 30; 3 warm-ups each)
 *
 * The three commands are interleaved run by run so that noise on the machine hits them alike;
 * figures are medians. `list` reads the whole catalogue: from the validated-catalogue cache (in
 * a scratch DOTCTL_CACHE, filled by the warm-ups) and, for comparison, with the cache off
 * (YAML, zod and the SQL parser on every run), which is what a command pays when a DOT changed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BIN, ensureBuilt, judge, line, median, ms, runOk, runsFromEnv } from './lib.js';

const RUNS = runsFromEnv(30);
const WARMUP = 3;

const cacheDir = join(mkdtempSync(join(tmpdir(), 'dotctl-bench-cache-')), 'cache');

const contenders: readonly { label: string; args: readonly string[]; cache?: string }[] = [
  { label: 'node -e 0', args: ['-e', '0'] },
  { label: 'dotctl --help', args: [BIN, '--help'] },
  { label: 'dotctl list', args: [BIN, '--dots', resolve('dots'), 'list'], cache: cacheDir },
  { label: 'dotctl list (no cache)', args: [BIN, '--dots', resolve('dots'), 'list'], cache: 'off' },
];

function main(): void {
  ensureBuilt();
  const times = contenders.map(() => [] as number[]);
  for (let i = -WARMUP; i < RUNS; i += 1) {
    contenders.forEach((c, k) => {
      const r = runOk(process.execPath, c.args, { env: { ...process.env, DOTCTL_DEBUG: undefined, DOTCTL_CACHE: c.cache ?? 'off' } });
      if (i >= 0) times[k]?.push(r.ms);
    });
  }
  rmSync(join(cacheDir, '..'), { recursive: true, force: true });
  const [base, help, list, cold] = times.map(median) as [number, number, number, number];
  console.log(`Start-up, median of ${RUNS} (interleaved, after ${WARMUP} warm-ups)`);
  line('baseline node -e 0', ms(base));
  line('dotctl --help', ms(help), `${(help / base).toFixed(2)}x`);
  line('dotctl list (cached catalogue)', ms(list), `${(list / base).toFixed(2)}x`);
  line('dotctl list (cache off)', ms(cold), `${(cold / base).toFixed(2)}x`);
  judge({ bench: 'startup', figure: 'dotctl --help vs node -e 0', goal: '<= 1.3x', value: `${(help / base).toFixed(2)}x (${ms(help)} vs ${ms(base)})`, met: help / base <= 1.3 });
  judge({ bench: 'startup', figure: 'dotctl list vs node -e 0', goal: '<= 1.6x', value: `${(list / base).toFixed(2)}x (${ms(list)} vs ${ms(base)})`, met: list / base <= 1.6 });
  judge({ bench: 'startup', figure: 'dotctl list, cache off', goal: '', value: `${(cold / base).toFixed(2)}x (${ms(cold)} vs ${ms(base)})`, met: null });
}

main();
