/**
 * Append rate of the ledger vs the same rows inserted raw at the same durability.
 *
 *   npx tsx bench/ledger-append.ts [N]          (N, or env DOTCTL_BENCH_N; default 2000)
 *   DOTCTL_BENCH_PG=1 npx tsx bench/ledger-append.ts   also on a scratch PostgreSQL database
 *
 * Each side runs DOTCTL_BENCH_RUNS times (default 3) on a fresh file/database, interleaved;
 * figures are medians. Goal: appends at >= 0.8x the raw insert rate.
 *
 * SQLite baseline: better-sqlite3, WAL, synchronous=FULL, one autocommit INSERT (= one
 * transaction) per row of precomputed rows. Ours: `appendEvent` (BEGIN IMMEDIATE, read the head,
 * seal, insert, commit). PostgreSQL baseline: one autocommit INSERT per row over one connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sealEvent, type ChainHead } from '../src/ledger/chain.js';
import type { LogRow, NewLogEvent } from '../src/ledger/port.js';
import { LOG_COLUMNS, logRowValues } from '../src/ledger/rows.js';
import { openSqliteLedger, SQLITE_MIGRATIONS } from '../src/ledger/sqlite.js';
import { openPostgresLedger } from '../src/ledger/postgres.js';
import { createScratchDb } from '../test/helpers/pg.js';
import { judge, median, runsFromEnv } from './lib.js';

const N = Number(process.argv[2] ?? process.env.DOTCTL_BENCH_N ?? 2000);
const RUNS = runsFromEnv(3);

function event(i: number): NewLogEvent {
  return {
    at: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(),
    actor: i % 3 === 0 ? 'bob' : 'alice',
    event: 'step_passed',
    proposalId: `P-${Math.floor(i / 10)}`,
    dotId: 'DOT-PG-GRANT-SCHEMA',
    actionCode: 'DOT-PG-GRANT-DIRECTUS',
    proposalHash: 'a'.repeat(64),
    outcome: 'ok',
    detail: { step: 'diff', index: i % 7, sql: 'GRANT USAGE ON SCHEMA "sandbox_tac" TO "directus"', ms: 3 },
  };
}

function sealedRows(n: number): { row: LogRow; detailJson: string }[] {
  const out: { row: LogRow; detailJson: string }[] = [];
  let head: ChainHead | null = null;
  for (let i = 1; i <= n; i += 1) {
    const s = sealEvent(head, event(i));
    out.push(s);
    head = { seq: s.row.seq, hash: s.row.hash };
  }
  return out;
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')} rows/s`;
}

function report(label: string, n: number, baseRuns: number[], oursRuns: number[]): void {
  const baseMs = median(baseRuns);
  const oursMs = median(oursRuns);
  console.log(`${label}  (${n} appends, one transaction each; median of ${baseRuns.length})`);
  console.log(`  baseline raw INSERT   ${rate(n, baseMs).padStart(16)}   ${baseMs.toFixed(0)} ms`);
  console.log(`  ledger appendEvent    ${rate(n, oursMs).padStart(16)}   ${oursMs.toFixed(0)} ms`);
  console.log(`  ratio ours/baseline   ${(baseMs / oursMs).toFixed(2)}x throughput (${(oursMs / baseMs).toFixed(2)}x time)`);
  judge({
    bench: 'ledger-append',
    figure: `${label.split(' ')[0]} append rate vs raw INSERT`,
    goal: '>= 0.8x',
    value: `${(baseMs / oursMs).toFixed(2)}x (${rate(n, oursMs)} vs ${rate(n, baseMs)})`,
    met: baseMs / oursMs >= 0.8,
  });
}

async function benchSqlite(dir: string): Promise<void> {
  const rows = sealedRows(N);
  const base: number[] = [];
  const ours: number[] = [];
  for (let k = 0; k < RUNS; k += 1) {
    const rawDb = new Database(join(dir, `raw-${k}.db`));
    rawDb.pragma('journal_mode = WAL');
    rawDb.pragma('synchronous = FULL');
    for (const m of SQLITE_MIGRATIONS) rawDb.exec(m.sql);
    const insert = rawDb.prepare(`INSERT INTO dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map(() => '?').join(', ')})`);
    let t = performance.now();
    for (const r of rows) insert.run(...logRowValues(r.row, r.detailJson));
    base.push(performance.now() - t);
    rawDb.close();

    const ledger = await openSqliteLedger(join(dir, `ours-${k}`, 'ledger.db'));
    t = performance.now();
    for (let i = 1; i <= N; i += 1) await ledger.appendEvent(event(i));
    ours.push(performance.now() - t);
    await ledger.close();
  }
  report('SQLite (WAL, synchronous=FULL)', N, base, ours);
}

async function benchPostgres(): Promise<void> {
  const rows = sealedRows(N);
  const base: number[] = [];
  const ours: number[] = [];
  for (let k = 0; k < RUNS; k += 1) {
    const rawDb = await createScratchDb('bench_raw');
    const oursDb = await createScratchDb('bench_ours');
    try {
      // Same schema as the ledger's, created by the adapter, then written to raw.
      await (await openPostgresLedger(rawDb.url)).close();
      const client = new pg.Client({ connectionString: rawDb.url });
      await client.connect();
      const sql = `INSERT INTO dotctl.dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
      let t = performance.now();
      for (const r of rows) await client.query(sql, [...logRowValues(r.row, r.detailJson)]);
      base.push(performance.now() - t);
      await client.end();

      const ledger = await openPostgresLedger(oursDb.url);
      t = performance.now();
      for (let i = 1; i <= N; i += 1) await ledger.appendEvent(event(i));
      ours.push(performance.now() - t);
      await ledger.close();
    } finally {
      await rawDb.drop();
      await oursDb.drop();
    }
  }
  report('PostgreSQL (local, default synchronous_commit)', N, base, ours);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-bench-append-'));
  try {
    await benchSqlite(dir);
    if (process.env.DOTCTL_BENCH_PG === '1') await benchPostgres();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
