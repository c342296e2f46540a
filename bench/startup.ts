/**
 * Start-up: `dotctl --help` and `dotctl list` vs `node -e 0` (the floor any Node CLI pays).
 *
 *   npx tsx bench/startup.ts          (runs: env DOTCTL_BENCH_RUNS, default 30; 3 warm-ups each)
 *
 * The three commands are interleaved run by run so that noise on the machine hits them alike;
 * figures are medians. `list` reads and validates the whole catalogue (YAML + zod), so it also
 * shows what every command that loads the catalogue pays before doing its own work.
 */
import { resolve } from 'node:path';
import { BIN, ensureBuilt, judge, line, median, ms, runOk, runsFromEnv } from './lib.js';

const RUNS = runsFromEnv(30);
const WARMUP = 3;

const contenders: readonly { label: string; args: readonly string[] }[] = [
  { label: 'node -e 0', args: ['-e', '0'] },
  { label: 'dotctl --help', args: [BIN, '--help'] },
  { label: 'dotctl list', args: [BIN, '--dots', resolve('dots'), 'list'] },
];

function main(): void {
  ensureBuilt();
  const times = contenders.map(() => [] as number[]);
  for (let i = -WARMUP; i < RUNS; i += 1) {
    contenders.forEach((c, k) => {
      const r = runOk(process.execPath, c.args, { env: { ...process.env, DOTCTL_DEBUG: undefined } });
      if (i >= 0) times[k]?.push(r.ms);
    });
  }
  const [base, help, list] = times.map(median) as [number, number, number];
  console.log(`Start-up, median of ${RUNS} (interleaved, after ${WARMUP} warm-ups)`);
  line('baseline node -e 0', ms(base));
  line('dotctl --help', ms(help), `${(help / base).toFixed(2)}x`);
  line('dotctl list', ms(list), `${(list / base).toFixed(2)}x`);
  judge({ bench: 'startup', figure: 'dotctl --help vs node -e 0', goal: '<= 1.3x', value: `${(help / base).toFixed(2)}x (${ms(help)} vs ${ms(base)})`, met: help / base <= 1.3 });
  judge({ bench: 'startup', figure: 'dotctl list vs node -e 0', goal: '', value: `${(list / base).toFixed(2)}x (${ms(list)} vs ${ms(base)})`, met: null });
}

main();
