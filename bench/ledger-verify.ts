/**
 * `log verify` rate on a large ledger vs just reading the rows and hashing them.
 *
 *   npx tsx bench/ledger-verify.ts [N]          (N, or env DOTCTL_BENCH_N; default 1,000,000)
 *   DOTCTL_BENCH_PG=1 …                          also on a scratch PostgreSQL database (N_PG, env
 *                                                DOTCTL_BENCH_N_PG; default 1,000,000)
 *
 * The ledger is generated fast: rows sealed in memory and inserted in bulk in one transaction.
 * Baseline: the same keyset batches read raw, each row's column values joined and hashed once
 * with SHA-256 (no JSON, no chain logic). Ours: the adapter's verifyEvents (raw rows, worker threads;
 * iterateEvents into verifyChain where an adapter has none), which is what `dotctl log verify` runs; the real CLI (the built binary) is also timed end to end (start-up
 * included). Baseline and ours run DOTCTL_BENCH_RUNS times (default 3), interleaved; medians.
 * Goals: >= 500,000 events/s on SQLite, >= 200,000 on PostgreSQL, and <= 1.5x the time of
 * reading + hashing alone, on both ledgers.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { verifyChain } from '../src/ledger/chain.js';
import type { LedgerStore } from '../src/ledger/port.js';
import { LOG_COLUMNS, type StoredLogRow } from '../src/ledger/rows.js';
import { openSqliteLedger } from '../src/ledger/sqlite.js';
import { openPostgresLedger } from '../src/ledger/postgres.js';
import { createScratchDb } from '../test/helpers/pg.js';
import { BIN, ensureBuilt, judge, median, runsFromEnv } from './lib.js';
import { HEAD_EVERY, benchKeys, initBenchLedger, signedRows } from './verify-ledger.js';

const N = Number(process.argv[2] ?? process.env.DOTCTL_BENCH_N ?? 1_000_000);
const N_PG = Number(process.env.DOTCTL_BENCH_N_PG ?? 1_000_000);
const BATCH = 10_000;
const RUNS = runsFromEnv(3);
// From source there is no .js worker beside the ledger modules: point the in-process verify at the built one.
const WORKER = new URL('../dist/ledger/verify-worker.js', import.meta.url);
const PG_WORKER = new URL('../dist/ledger/verify-pg-worker.js', import.meta.url);

/**
 * Gives the empty ledger its genesis registry through the real store, then seals rows (bench
 * events with a signed head after every HEAD_EVERY of them) up to n in all, to insert in order.
 */
async function generate(store: LedgerStore, n: number): Promise<Generator<readonly (string | number | null)[]>> {
  const keys = benchKeys();
  await initBenchLedger(store, keys);
  const [head] = await store.readEvents({ limit: 1 });
  const [first] = await store.readEvents({ seqs: [1] });
  await store.close();
  if (!head || !first) throw new Error('the genesis registry was not written');
  return signedRows({ seq: head.seq, hash: head.hash }, first.hash, n, keys);
}

/**
 * The baseline's work per row: its column values as stored joined into one string, hashed once
 * with SHA-256 (the least any verifier of a hash chain must do per row).
 */
function hashStored(r: StoredLogRow): string {
  let text = '';
  for (const c of LOG_COLUMNS) text += `${r[c] ?? ''}\n`;
  return createHash('sha256').update(text).digest('hex');
}

function headsNote(): string {
  return HEAD_EVERY > 0 ? `a signed head after every ${HEAD_EVERY} rows` : 'no signed heads';
}

function line(label: string, n: number, ms: number): string {
  return `  ${label.padEnd(34)} ${`${Math.round((n / ms) * 1000).toLocaleString('en-US')} events/s`.padStart(18)}   ${(ms / 1000).toFixed(2)} s`;
}

async function timeVerify(ledger: LedgerStore, n: number): Promise<number> {
  const t = performance.now();
  const v = await (ledger.verifyEvents ? ledger.verifyEvents() : verifyChain(ledger.iterateEvents()));
  const ms = performance.now() - t;
  if (v.kind !== 'intact' || v.rows !== n) throw new Error(`verify did not see an intact chain of ${n}: ${JSON.stringify(v)}`);
  return ms;
}

function timeCli(spec: string, n: number): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, '--ledger', spec, 'log', 'verify'], { encoding: 'utf8', timeout: 600_000 });
  const ms = performance.now() - t;
  if (r.status !== 0 || !r.stdout.startsWith(`dot_action_log intact: ${n} rows`)) {
    throw new Error(`dotctl log verify failed (${r.status}): ${r.stdout}${r.stderr}`);
  }
  return ms;
}

async function benchSqlite(dir: string): Promise<void> {
  const path = join(dir, 'ledger.db');
  const t = performance.now();
  const raw = new Database(path, { fileMustExist: false });
  raw.pragma('synchronous = OFF'); // generation is set-up, not measured durability
  const rows = await generate(await openSqliteLedger(path), N);
  const insert = raw.prepare(`INSERT INTO dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map(() => '?').join(', ')})`);
  // the genesis rows were written through the store; the rest in one transaction
  raw.transaction(() => {
    for (const v of rows) insert.run(...v);
  })();
  console.log(`SQLite: generated ${N.toLocaleString('en-US')} chained events (${headsNote()}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const batch = raw.prepare<[number, number], StoredLogRow>(`SELECT ${LOG_COLUMNS.join(', ')} FROM dot_action_log WHERE seq > ? ORDER BY seq LIMIT ?`);
  const baseline = (): number => {
    const t0 = performance.now();
    let after = 0;
    let seen = 0;
    let sink = '';
    for (;;) {
      const rows = batch.all(after, BATCH);
      for (const r of rows) sink = hashStored(r);
      seen += rows.length;
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < BATCH) break;
      after = Number(last.seq);
    }
    if (seen !== N || sink === '') throw new Error('baseline did not read every row');
    return performance.now() - t0;
  };
  const base: number[] = [];
  const ours: number[] = [];
  const cli: number[] = [];
  for (let k = 0; k < RUNS; k += 1) {
    base.push(baseline());
    const ledger = await openSqliteLedger(path, { create: false, verify: { workerUrl: WORKER } });
    ours.push(await timeVerify(ledger, N));
    await ledger.close();
    cli.push(timeCli(path, N));
  }
  raw.close();
  report('SQLite', N, base, ours, cli, 500_000);
}

/** Prints the three figures (medians) and judges them against the goals. */
function report(ledger: string, n: number, base: number[], ours: number[], cli: number[], goalPerSec: number): void {
  const baseMs = median(base);
  const oursMs = median(ours);
  const cliMs = median(cli);
  console.log(`  (median of ${base.length} runs each)`);
  console.log(line('baseline read + sha256 per row', n, baseMs));
  console.log(line('verifyEvents() (what log verify runs)', n, oursMs));
  console.log(line('dotctl log verify (whole process)', n, cliMs));
  console.log(`  ratio ours/baseline                ${(baseMs / oursMs).toFixed(2)}x throughput (${(oursMs / baseMs).toFixed(2)}x time)`);
  const perSec = (n / cliMs) * 1000;
  judge({
    bench: 'ledger-verify',
    figure: `${ledger} dotctl log verify of ${n.toLocaleString('en-US')} events`,
    goal: `>= ${goalPerSec.toLocaleString('en-US')} events/s`,
    value: `${Math.round(perSec).toLocaleString('en-US')} events/s (${(cliMs / 1000).toFixed(2)} s)`,
    met: perSec >= goalPerSec,
  });
  judge({
    bench: 'ledger-verify',
    figure: `${ledger} verify time vs read + hash alone`,
    goal: '<= 1.5x',
    value: `${(oursMs / baseMs).toFixed(2)}x (${(oursMs / 1000).toFixed(2)} s vs ${(baseMs / 1000).toFixed(2)} s)`,
    met: oursMs / baseMs <= 1.5,
  });
}

async function benchPostgres(): Promise<void> {
  const db = await createScratchDb('bench_verify');
  try {
    const t = performance.now();
    const all = await generate(await openPostgresLedger(db.url), N_PG);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('BEGIN');
    let pending: (string | number | null)[][] = [];
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const params: (string | number | null)[] = [];
      const tuples = pending.map((vals) => `(${vals.map((v) => `$${params.push(v)}`).join(', ')})`);
      await client.query(`INSERT INTO dotctl.dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
      pending = [];
    };
    for (const v of all) {
      pending.push([...v]);
      if (pending.length === 2000) await flush();
    }
    await flush();
    await client.query('COMMIT');
    console.log(`PostgreSQL: generated ${N_PG.toLocaleString('en-US')} chained events (${headsNote()}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const baseline = async (): Promise<number> => {
      const t0 = performance.now();
      let after = 0;
      let seen = 0;
      for (;;) {
        const { rows } = await client.query<StoredLogRow>(`SELECT ${LOG_COLUMNS.join(', ')} FROM dotctl.dot_action_log WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, 5_000]);
        for (const r of rows) hashStored(r);
        seen += rows.length;
        const last = rows[rows.length - 1];
        if (last === undefined || rows.length < 5_000) break;
        after = Number(last.seq);
      }
      if (seen !== N_PG) throw new Error('baseline did not read every row');
      return performance.now() - t0;
    };
    const base: number[] = [];
    const ours: number[] = [];
    const cli: number[] = [];
    for (let k = 0; k < RUNS; k += 1) {
      base.push(await baseline());
      const ledger = await openPostgresLedger(db.url, { create: false, verify: { workerUrl: PG_WORKER } });
      ours.push(await timeVerify(ledger, N_PG));
      await ledger.close();
      cli.push(timeCli(db.url, N_PG));
    }
    await client.end();
    report('PostgreSQL', N_PG, base, ours, cli, 200_000);
  } finally {
    await db.drop();
  }
}

async function main(): Promise<void> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-bench-verify-'));
  try {
    await benchSqlite(dir);
    if (process.env.DOTCTL_BENCH_PG === '1') await benchPostgres();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
