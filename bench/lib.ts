/**
 * What every bench shares: timing with medians, one line per figure with its baseline, ratio and
 * goal, the results file `bench/run-all.ts` summarises, and the tools the benches need (the built
 * binary, Sqitch from Debian).
 *
 * A bench prints a block per comparison and, for each figure held to a goal, calls `judge`, which
 * prints `goal …  met | MISSED` and appends one JSON line to $DOTCTL_BENCH_RESULTS when set.
 */
import type { NewLogEvent } from '../src/ledger/port.js';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The built CLI the benches run (as a user would). */
export const BIN = resolve('dist/cli/main.js');

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Milliseconds as text with a sensible precision. */
export function ms(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`;
}

/** A rate as text. */
export function rate(n: number, millis: number, unit: string): string {
  return `${Math.round((n / millis) * 1000).toLocaleString('en-US')} ${unit}/s`;
}

/** Runs `fn` `runs` times (after `warmup` unmeasured runs) and returns every duration in ms. */
export async function timeRuns(runs: number, fn: (i: number) => Promise<void> | void, warmup = 0): Promise<number[]> {
  for (let i = 0; i < warmup; i += 1) await fn(-1 - i);
  const out: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

/** Result of a program run by `run`. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a program to completion (bounded by `timeoutMs`), timing it. */
export function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions & { timeoutMs?: number } = {}): RunResult {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024, ...opts });
  const took = performance.now() - t;
  return { code: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') + (r.error ? String(r.error) : ''), ms: took };
}

/** Like `run`, but throws with the output when the exit code is not `expect`. */
export function runOk(cmd: string, args: readonly string[], opts: SpawnSyncOptions & { timeoutMs?: number; expect?: number } = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.code !== (opts.expect ?? 0)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Prints an aligned line: label, figure, and what it is measured over. */
export function line(label: string, figure: string, extra = ''): void {
  console.log(`  ${label.padEnd(44)} ${figure.padStart(20)}${extra ? `   ${extra}` : ''}`);
}

/** A figure held to a goal. */
export interface Judged {
  readonly bench: string;
  readonly figure: string;
  /** the value shown (e.g. "0.31x", "612,000 events/s") */
  readonly value: string;
  /** the goal as text (e.g. "<= 0.5x Sqitch") */
  readonly goal: string;
  /** null for a figure shown for information, held to no goal */
  readonly met: boolean | null;
}

/** Prints whether a figure meets its goal and records it for the summary. */
export function judge(j: Judged): void {
  if (j.met === null) console.log(`  info: ${j.figure}: ${j.value}`);
  else console.log(`  goal: ${j.figure} ${j.goal}: ${j.value} — ${j.met ? 'met' : 'MISSED'}`);
  const file = process.env.DOTCTL_BENCH_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify(j)}\n`);
}

/** Fails early with a clear message when the CLI is not built. */
export function ensureBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing; run npm run build first (npm run bench does it)`);
}

/** True when `cmd` is on PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Installs Debian packages that are missing (the benches run on fresh machines): apt-get as
 * root, or through sudo when there is one. Throws naming the packages when it cannot.
 */
export function ensureDebianTools(tools: Readonly<Record<string, readonly string[]>>): void {
  const missing = Object.entries(tools).filter(([cmd]) => !have(cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.flatMap(([, p]) => p))];
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  console.log(`installing ${pkgs.join(' ')} from Debian (missing: ${missing.map(([c]) => c).join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const up = spawnSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), 'update', '-qq'], { stdio: 'inherit', env, timeout: 600_000 });
  const inst = spawnSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), 'install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env, timeout: 600_000 });
  const still = missing.filter(([cmd]) => !have(cmd)).map(([c]) => c);
  if (up.status !== 0 || inst.status !== 0 || still.length > 0) {
    throw new Error(`could not install ${pkgs.join(' ')} (still missing: ${still.join(', ') || 'none'}); install them with apt-get and run again`);
  }
}

/** Number of measured runs: env DOTCTL_BENCH_RUNS, else `dflt`. */
export function runsFromEnv(dflt: number): number {
  const n = Number(process.env.DOTCTL_BENCH_RUNS ?? dflt);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

/** The synthetic action-log row `i` the verify benches generate (same rows in both). */
export function verifyBenchEvent(i: number): NewLogEvent {
  return {
    at: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
    actor: i % 3 === 0 ? 'bob' : 'alice',
    event: i % 5 === 0 ? 'approved' : 'step_passed',
    proposalId: `P-${Math.floor(i / 10)}`,
    dotId: 'DOT-PG-GRANT-SCHEMA',
    actionCode: 'DOT-PG-GRANT-DIRECTUS',
    proposalHash: 'a'.repeat(64),
    outcome: 'ok',
    detail: { step: 'diff', index: i % 7, sql: 'GRANT USAGE ON SCHEMA "sandbox_tac" TO "directus"', ms: i % 13 },
  };
}
