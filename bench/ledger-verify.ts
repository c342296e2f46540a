/**
 * `log verify` rate on a large ledger vs just reading the rows and hashing them.
 *
 *   npx tsx bench/ledger-verify.ts [N]          (N, or env DOTCTL_BENCH_N; default 1,000,000)
 *   DOTCTL_BENCH_PG=1 …                          also on a scratch PostgreSQL database (N_PG, env
 *                                                DOTCTL_BENCH_N_PG; default 200,000)
 *
 * The ledger is generated fast: rows sealed in memory and inserted in bulk in one transaction.
 * Baseline: the same keyset batches read raw, each row's columns hashed once with SHA-256 (no
 * JSON, no chain logic). Ours: the adapter's iterateEvents into verifyChain, which is what
 * `dotctl log verify` runs; the real CLI is also timed end to end (start-up included).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sealEvent, verifyChain, type ChainHead } from '../src/ledger/chain.js';
import type { LedgerStore, NewLogEvent } from '../src/ledger/port.js';
import { LOG_COLUMNS, logRowValues, type StoredLogRow } from '../src/ledger/rows.js';
import { openSqliteLedger } from '../src/ledger/sqlite.js';
import { openPostgresLedger } from '../src/ledger/postgres.js';
import { createScratchDb } from '../test/helpers/pg.js';

const N = Number(process.argv[2] ?? process.env.DOTCTL_BENCH_N ?? 1_000_000);
const N_PG = Number(process.env.DOTCTL_BENCH_N_PG ?? 200_000);
const BATCH = 10_000;
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function event(i: number): NewLogEvent {
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

/** Seals n rows in chain order and hands each to `insert`. */
function generate(n: number, insert: (values: readonly (string | number | null)[]) => void): void {
  let head: ChainHead | null = null;
  for (let i = 1; i <= n; i += 1) {
    const s = sealEvent(head, event(i));
    insert(logRowValues(s.row, s.detailJson));
    head = { seq: s.row.seq, hash: s.row.hash };
  }
}

/** The baseline's work per row: one SHA-256 over its column values as stored. */
function hashStored(r: StoredLogRow): string {
  const h = createHash('sha256');
  for (const c of LOG_COLUMNS) h.update(String(r[c] ?? '')).update('\n');
  return h.digest('hex');
}

function line(label: string, n: number, ms: number): string {
  return `  ${label.padEnd(34)} ${`${Math.round((n / ms) * 1000).toLocaleString('en-US')} events/s`.padStart(18)}   ${(ms / 1000).toFixed(2)} s`;
}

async function timeVerify(ledger: LedgerStore, n: number): Promise<number> {
  const t = performance.now();
  const v = await verifyChain(ledger.iterateEvents());
  const ms = performance.now() - t;
  if (v.kind !== 'intact' || v.rows !== n) throw new Error(`verify did not see an intact chain of ${n}: ${JSON.stringify(v)}`);
  return ms;
}

function timeCli(spec: string, n: number): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--ledger', spec, 'log', 'verify'], { encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0 || !r.stdout.startsWith(`dot_action_log intact: ${n} rows`)) {
    throw new Error(`dotctl log verify failed (${r.status}): ${r.stdout}${r.stderr}`);
  }
  return ms;
}

async function benchSqlite(dir: string): Promise<void> {
  const path = join(dir, 'ledger.db');
  await (await openSqliteLedger(path)).close();
  const raw = new Database(path);
  let t = performance.now();
  raw.pragma('synchronous = OFF'); // generation is set-up, not measured durability
  const insert = raw.prepare(`INSERT INTO dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map(() => '?').join(', ')})`);
  raw.transaction(() => generate(N, (v) => insert.run(...v)))();
  console.log(`SQLite: generated ${N.toLocaleString('en-US')} chained events in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const batch = raw.prepare<[number, number], StoredLogRow>(
    `SELECT ${LOG_COLUMNS.join(', ')} FROM dot_action_log WHERE seq > ? ORDER BY seq LIMIT ?`,
  );
  t = performance.now();
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
  const baseMs = performance.now() - t;
  raw.close();
  if (seen !== N || sink === '') throw new Error('baseline did not read every row');

  const ledger = await openSqliteLedger(path, { create: false });
  const oursMs = await timeVerify(ledger, N);
  await ledger.close();
  const cliMs = timeCli(path, N);

  console.log(line('baseline read + sha256 per row', N, baseMs));
  console.log(line('verifyChain(iterateEvents())', N, oursMs));
  console.log(line('dotctl log verify (whole process)', N, cliMs));
  console.log(`  ratio ours/baseline                ${(baseMs / oursMs).toFixed(2)}x throughput (${(oursMs / baseMs).toFixed(2)}x time)`);
}

async function benchPostgres(): Promise<void> {
  const db = await createScratchDb('bench_verify');
  try {
    await (await openPostgresLedger(db.url)).close();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let t = performance.now();
    await client.query('BEGIN');
    let pending: (string | number | null)[][] = [];
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const params: (string | number | null)[] = [];
      const tuples = pending.map((vals) => `(${vals.map((v) => (params.push(v), `$${params.length}`)).join(', ')})`);
      await client.query(`INSERT INTO dotctl.dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
      pending = [];
    };
    const all: (string | number | null)[][] = [];
    generate(N_PG, (v) => all.push([...v]));
    for (const v of all) {
      pending.push(v);
      if (pending.length === 2000) await flush();
    }
    await flush();
    await client.query('COMMIT');
    console.log(`PostgreSQL: generated ${N_PG.toLocaleString('en-US')} chained events in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    let after = 0;
    let seen = 0;
    for (;;) {
      const { rows } = await client.query<StoredLogRow>(
        `SELECT ${LOG_COLUMNS.join(', ')} FROM dotctl.dot_action_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
        [after, 5_000],
      );
      for (const r of rows) hashStored(r);
      seen += rows.length;
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < 5_000) break;
      after = Number(last.seq);
    }
    const baseMs = performance.now() - t;
    await client.end();
    if (seen !== N_PG) throw new Error('baseline did not read every row');

    const ledger = await openPostgresLedger(db.url, { create: false });
    const oursMs = await timeVerify(ledger, N_PG);
    await ledger.close();
    const cliMs = timeCli(db.url, N_PG);
    console.log(line('baseline read + sha256 per row', N_PG, baseMs));
    console.log(line('verifyChain(iterateEvents())', N_PG, oursMs));
    console.log(line('dotctl log verify (whole process)', N_PG, cliMs));
    console.log(`  ratio ours/baseline                ${(baseMs / oursMs).toFixed(2)}x throughput (${(oursMs / baseMs).toFixed(2)}x time)`);
  } finally {
    await db.drop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-bench-verify-'));
  try {
    await benchSqlite(dir);
    if (process.env.DOTCTL_BENCH_PG === '1') await benchPostgres();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
