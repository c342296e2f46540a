/**
 * Runs every bench in turn and ends with a summary of each figure held to a goal.
 *
 *   npm run bench                       builds, then runs them all
 *   npm run bench -- apply startup      only the named benches
 *
 * Environment: DOTCTL_BENCH_RUNS (runs per figure), DOTCTL_BENCH_N (ledger sizes),
 * DOTCTL_BENCH_PG=0 to skip the PostgreSQL ledger figures, DOTCTL_BENCH_ARCHIVE_1GB=0 to leave
 * out the 1 GB archive. Each bench is its own process (`node --import tsx bench/NAME.ts`), bounded by
 * a timeout, so one that fails is reported and the others still run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Judged } from './lib.js';

const BENCHES: readonly { name: string; file: string; timeoutMin: number }[] = [
  { name: 'startup', file: 'bench/startup.ts', timeoutMin: 10 },
  { name: 'apply', file: 'bench/apply.ts', timeoutMin: 20 },
  { name: 'ledger-append', file: 'bench/ledger-append.ts', timeoutMin: 15 },
  { name: 'ledger-verify', file: 'bench/ledger-verify.ts', timeoutMin: 40 },
  { name: 'ledger-scale', file: 'bench/ledger-scale.ts', timeoutMin: 60 },
  { name: 'archive', file: 'bench/archive.ts', timeoutMin: 40 },
  { name: 'concurrency', file: 'bench/concurrency.ts', timeoutMin: 15 },
  { name: 'watch', file: 'bench/watch.ts', timeoutMin: 40 },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'dotctl-bench-'));
const results = join(dir, 'results.jsonl');
const failed: string[] = [];
try {
  for (const b of BENCHES.filter((x) => wanted.length === 0 || wanted.includes(x.name))) {
    console.log(`\n=== ${b.name} (${b.file}) ===`);
    const t = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', b.file], {
      stdio: 'inherit',
      timeout: b.timeoutMin * 60_000,
      killSignal: 'SIGKILL',
      env: { ...process.env, DOTCTL_BENCH_RESULTS: results, DOTCTL_BENCH_PG: process.env.DOTCTL_BENCH_PG ?? '1' },
    });
    const took = ((performance.now() - t) / 1000).toFixed(0);
    if (r.status !== 0) {
      failed.push(b.name);
      console.log(`=== ${b.name} FAILED (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`}) after ${took} s ===`);
    } else console.log(`=== ${b.name} done in ${took} s ===`);
  }
  let judged: Judged[] = [];
  try {
    judged = readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Judged);
  } catch {
    // no bench recorded a figure
  }
  console.log('\n=== summary ===');
  for (const j of judged) {
    const mark = j.met === null ? 'info  ' : j.met ? 'met   ' : 'MISSED';
    console.log(`${mark}  ${j.bench.padEnd(14)} ${j.figure} ${j.goal}: ${j.value}`);
  }
  const missed = judged.filter((j) => j.met === false).length;
  console.log(`${judged.filter((j) => j.met === true).length} met, ${missed} missed${failed.length > 0 ? `, failed to run: ${failed.join(', ')}` : ''}`);
  // Missing a goal is a finding to report, not a broken bench; a bench that could not run is.
  process.exitCode = failed.length > 0 ? 1 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
