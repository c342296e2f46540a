/**
 * Append rate of the ledger vs the same rows inserted raw at the same durability.
 *
 *   npx tsx bench/ledger-append.ts [N]          (N, or env DOTCTL_BENCH_N; default 2000)
 *   DOTCTL_BENCH_PG=1 npx tsx bench/ledger-append.ts   also on a scratch PostgreSQL database
 *
 * Each side runs DOTCTL_BENCH_RUNS times (default 3) on a fresh file/database, interleaved;
 * figures are medians. Goal: rows at >= 0.8x the raw insert rate.
 *
 * Ours is what commands do: each "command" appends GROUP events through the signing wrapper
 * (engine/signed-head.ts), which ends them with a `head_signed` row (an Ed25519 signature over
 * the head), so the rows include the signed heads. The baseline inserts the same number of rows
 * of the same sizes, precomputed, one durable transaction per row, as ours writes them.
 * SQLite baseline: better-sqlite3, WAL, synchronous=FULL, one autocommit INSERT per row; ours:
 * `appendEvent` (BEGIN IMMEDIATE, read the head, seal, insert, commit). PostgreSQL baseline: one
 * autocommit INSERT per row over one connection; ours: `appendEvent`'s single-statement insert
 * sealed on the head it last wrote.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { generateKeyPairSync } from 'node:crypto';
import { sealEvent, type ChainHead } from '../src/ledger/chain.js';
import type { LedgerStore, LogRow, NewLogEvent } from '../src/ledger/port.js';
import { LOG_COLUMNS, logRowValues } from '../src/ledger/rows.js';
import { openSqliteLedger } from '../src/ledger/sqlite.js';
import { openPostgresLedger } from '../src/ledger/postgres.js';
import { headSignedEvent, withSignedHead } from '../src/engine/signed-head.js';
import type { SigningKey } from '../src/gate/keys.js';
import { createScratchDb } from '../test/helpers/pg.js';
import { judge, median, runsFromEnv } from './lib.js';

const N = Number(process.argv[2] ?? process.env.DOTCTL_BENCH_N ?? 2000);
const RUNS = runsFromEnv(3);
/** events per command; each command's rows end with one signed head */
const GROUP = 4;
const COMMANDS = Math.ceil(N / GROUP);
/** rows written per run: the events and one head per command */
const ROWS = COMMANDS * (GROUP + 1);

const pair = generateKeyPairSync('ed25519');
const KEY: SigningKey = {
  file: 'bench',
  privateKey: pair.privateKey,
  publicKey: `ed25519:${pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')}`,
};

/** What commands do: GROUP events, then the signed head, per command. */
async function appendAsCommands(ledger: LedgerStore): Promise<void> {
  for (let c = 0; c < COMMANDS; c += 1) {
    await withSignedHead(
      ledger,
      async () => KEY,
      async (l) => {
        for (let g = 1; g <= GROUP; g += 1) await l.appendEvent(event(c * GROUP + g));
      },
    );
  }
}

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

/** The rows ours writes (events and heads), sealed in advance for the raw baseline. */
function sealedRows(): { row: LogRow; detailJson: string }[] {
  const out: { row: LogRow; detailJson: string }[] = [];
  let head: ChainHead | null = null;
  const add = (e: NewLogEvent): LogRow => {
    const s = sealEvent(head, e);
    out.push(s);
    head = { seq: s.row.seq, hash: s.row.hash, at: s.row.at };
    return s.row;
  };
  for (let c = 0; c < COMMANDS; c += 1) {
    let last: LogRow | null = null;
    for (let g = 1; g <= GROUP; g += 1) last = add(event(c * GROUP + g));
    // the head as the wrapper writes it, signed alike (the ledger id: the first row's hash)
    if (last) add(headSignedEvent(out[0]?.row.hash ?? last.hash, last, KEY));
  }
  return out;
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')} rows/s`;
}

function report(label: string, n: number, baseRuns: number[], oursRuns: number[]): void {
  const baseMs = median(baseRuns);
  const oursMs = median(oursRuns);
  console.log(`${label}  (${n} rows: ${COMMANDS} commands of ${GROUP} events and a signed head; one transaction per row; median of ${baseRuns.length})`);
  console.log(`  baseline raw INSERT   ${rate(n, baseMs).padStart(16)}   ${baseMs.toFixed(0)} ms`);
  console.log(`  ledger appendEvent    ${rate(n, oursMs).padStart(16)}   ${oursMs.toFixed(0)} ms`);
  console.log(`  ratio ours/baseline   ${(baseMs / oursMs).toFixed(2)}x throughput (${(oursMs / baseMs).toFixed(2)}x time)`);
  judge({
    bench: 'ledger-append',
    figure: `${label.split(' ')[0]} append rate (signed heads included) vs raw INSERT`,
    goal: '>= 0.8x',
    value: `${(baseMs / oursMs).toFixed(2)}x (${rate(n, oursMs)} vs ${rate(n, baseMs)})`,
    met: baseMs / oursMs >= 0.8,
  });
}

async function benchSqlite(dir: string): Promise<void> {
  const rows = sealedRows();
  const base: number[] = [];
  const ours: number[] = [];
  for (let k = 0; k < RUNS; k += 1) {
    // the ledger's own schema, made by the adapter, then written to raw
    await (await openSqliteLedger(join(dir, `raw-${k}.db`))).close();
    const rawDb = new Database(join(dir, `raw-${k}.db`));
    rawDb.pragma('journal_mode = WAL');
    rawDb.pragma('synchronous = FULL');
    const insert = rawDb.prepare(`INSERT INTO dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map(() => '?').join(', ')})`);
    let t = performance.now();
    for (const r of rows) insert.run(...logRowValues(r.row, r.detailJson));
    base.push(performance.now() - t);
    rawDb.close();

    const ledger = await openSqliteLedger(join(dir, `ours-${k}`, 'ledger.db'));
    t = performance.now();
    await appendAsCommands(ledger);
    ours.push(performance.now() - t);
    await ledger.close();
  }
  report('SQLite (WAL, synchronous=FULL)', ROWS, base, ours);
}

async function benchPostgres(): Promise<void> {
  const rows = sealedRows();
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
      await appendAsCommands(ledger);
      ours.push(performance.now() - t);
      await ledger.close();
    } finally {
      await rawDb.drop();
      await oursDb.drop();
    }
  }
  report('PostgreSQL (local, default synchronous_commit)', ROWS, base, ours);
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
