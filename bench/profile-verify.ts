/**
 * Where `dotctl log verify` spends its time on a large SQLite ledger: generates N chained events
 * (default 1,000,000; env DOTCTL_BENCH_N), then
 *   1. times each stage of the verification separately, cumulatively, in this process (read the
 *      batches; + map to LogRow with JSON.parse of detail; + canonical JSON of the fields;
 *      + SHA-256; + the async iteration and checkRow that verifyChain adds), and
 *   2. times the prototype of the recommended fast path (bench/verify-prototype.ts), in this thread
 *      and split over 2 worker threads, and
 *   3. runs the built `dotctl log verify` under `node --cpu-prof` and prints the profile summary.
 *
 *   npx tsx bench/profile-verify.ts
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENESIS, canonicalRowFields, checkRow, CHAIN_START, hashRow, sealEvent, verifyChain, type ChainHead, type ChainProgress } from '../src/ledger/chain.js';
import { LOG_COLUMNS, logRowValues, toLogRow, type StoredLogRow } from '../src/ledger/rows.js';
import { openSqliteLedger } from '../src/ledger/sqlite.js';
import { printSummary } from './cpuprofile.js';
import { verifyParallel, verifyRange } from './verify-prototype.js';
import { BIN, ensureBuilt, ms, rate, run, verifyBenchEvent } from './lib.js';

const N = Number(process.env.DOTCTL_BENCH_N ?? 1_000_000);
const BATCH = 10_000;

ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'dotctl-prof-verify-'));
try {
  const path = join(dir, 'ledger.db');
  await (await openSqliteLedger(path)).close();
  const db = new Database(path);
  db.pragma('synchronous = OFF');
  const insert = db.prepare(`INSERT INTO dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map(() => '?').join(', ')})`);
  db.transaction(() => {
    let head: ChainHead | null = null;
    for (let i = 1; i <= N; i += 1) {
      const s = sealEvent(head, verifyBenchEvent(i));
      insert.run(...logRowValues(s.row, s.detailJson));
      head = { seq: s.row.seq, hash: s.row.hash };
    }
  })();
  const batch = db.prepare<[number, number], StoredLogRow>(`SELECT ${LOG_COLUMNS.join(', ')} FROM dot_action_log WHERE seq > ? ORDER BY seq LIMIT ?`);
  const scan = (perRow: (r: StoredLogRow) => unknown): number => {
    const t = performance.now();
    let after = 0;
    for (;;) {
      const rows = batch.all(after, BATCH);
      for (const r of rows) perRow(r);
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < BATCH) break;
      after = Number(last.seq);
    }
    return performance.now() - t;
  };
  console.log(`Stages of verifying ${N.toLocaleString('en-US')} events, each cumulative (in-process, after one warm-up scan):`);
  scan(() => undefined);
  const stages: [string, number][] = [
    ['read batches (better-sqlite3 .all)', scan(() => undefined)],
    ['+ toLogRow (JSON.parse of detail)', scan((r) => toLogRow(r))],
    ['+ canonicalRowFields', scan((r) => canonicalRowFields(toLogRow(r)))],
    [
      '+ sha256 (= hashRow)',
      scan((r) => {
        const l = toLogRow(r);
        return hashRow(l.prevHash, l);
      }),
    ],
    [
      '+ checkRow (links, seq, hash)',
      (() => {
        let p: ChainProgress = CHAIN_START;
        return scan((r) => {
          const s = checkRow(p, toLogRow(r));
          if (s.kind === 'ok') p = s.progress;
        });
      })(),
    ],
    [
      'baseline: join columns + one sha256',
      scan((r) => {
        let t = '';
        for (const c of LOG_COLUMNS) t += `${r[c] ?? ''}\n`;
        return createHash('sha256').update(t).digest('hex');
      }),
    ],
  ];
  for (const [label, t] of stages) console.log(`  ${label.padEnd(40)} ${ms(t).padStart(10)}   ${rate(N, t, 'rows').padStart(16)}`);
  const ledger = await openSqliteLedger(path, { create: false });
  const t = performance.now();
  const v = await verifyChain(ledger.iterateEvents());
  const full = performance.now() - t;
  await ledger.close();
  console.log(`  ${'verifyChain(iterateEvents()) as shipped'.padEnd(40)} ${ms(full).padStart(10)}   ${rate(N, full, 'rows').padStart(16)}   (${v.kind})`);
  db.close();
  for (let k = 0; k < 2; k += 1) {
    let t0 = performance.now();
    const one = verifyRange(path, 0, N);
    const oneMs = performance.now() - t0;
    console.log(`  ${'prototype fast path, 1 thread'.padEnd(40)} ${ms(oneMs).padStart(10)}   ${rate(N, oneMs, 'rows').padStart(16)}   (${one.bad === 0 && one.rows === N ? 'intact' : 'BROKEN'})`);
    t0 = performance.now();
    const par = await verifyParallel(path, N, 2, GENESIS);
    const parMs = performance.now() - t0;
    console.log(`  ${'prototype fast path, 2 worker threads'.padEnd(40)} ${ms(parMs).padStart(10)}   ${rate(N, parMs, 'rows').padStart(16)}   (${par.ok && par.rows === N ? 'intact' : 'BROKEN'})`);
  }

  const profDir = join(dir, 'prof');
  const r = run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, BIN, '--ledger', path, 'log', 'verify']);
  console.log(`\ndotctl log verify under --cpu-prof: ${ms(r.ms)} (exit ${r.code}) ${r.stdout.trim().slice(0, 60)}`);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file) printSummary(join(profDir, file), 25);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
