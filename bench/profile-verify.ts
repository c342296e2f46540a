/**
 * Where `dotctl log verify` spends its time on a large SQLite ledger with signed heads: generates
 * N events (default 1,000,000; env DOTCTL_BENCH_N) as bench/verify-ledger.ts makes them (a
 * genesis registry, a signed head after every DOTCTL_BENCH_HEAD_EVERY rows), then
 *   1. times each part of the verification on its own, in this process, wall and CPU time (all
 *      threads): the chain (worker threads), the proposal-state checks, the registry and head
 *      reads, Ed25519 verification of every head on one thread, and the whole verifySignedLog;
 *   2. times the CLI's start-up (log verify of a ledger of three rows) and the CLI itself, and
 *   3. runs the built `dotctl log verify` under `node --cpu-prof` and prints the profile summary.
 *
 *   npx tsx bench/profile-verify.ts
 */
import { verify } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LOG_COLUMNS } from '../src/ledger/rows.js';
import { openSqliteLedger } from '../src/ledger/sqlite.js';
import { verifySignedLog } from '../src/engine/signed-history.js';
import { readRegistry } from '../src/engine/registry.js';
import { headStatement } from '../src/gate/signature.js';
import { publicKeyObject } from '../src/gate/identities.js';
import { printSummary } from './cpuprofile.js';
import { BIN, ensureBuilt, ms, rate, run } from './lib.js';
import { HEAD_EVERY, benchKeys, initBenchLedger, signedRows } from './verify-ledger.js';

const N = Number(process.env.DOTCTL_BENCH_N ?? 1_000_000);
const WORKER = new URL('../dist/ledger/verify-worker.js', import.meta.url);

/** A signed bench ledger of n rows at `path`. */
async function makeLedger(path: string, n: number): Promise<void> {
  const store = await openSqliteLedger(path);
  const keys = benchKeys();
  await initBenchLedger(store, keys);
  const [head] = await store.readEvents({ limit: 1 });
  const [first] = await store.readEvents({ seqs: [1] });
  await store.close();
  if (!head || !first) throw new Error('no genesis');
  const db = new Database(path);
  db.pragma('synchronous = OFF');
  const insert = db.prepare(`INSERT INTO dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map(() => '?').join(', ')})`);
  db.transaction(() => {
    for (const v of signedRows({ seq: head.seq, hash: head.hash }, first.hash, n, keys)) insert.run(...v);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Runs `fn`, printing its wall and CPU time (CPU: every thread of this process). */
async function part(label: string, fn: () => Promise<string> | string): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const what = await fn();
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  console.log(`  ${label.padEnd(44)} ${ms(wall).padStart(9)} wall ${ms((cpu.user + cpu.system) / 1000).padStart(9)} CPU   ${what}`);
}

ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'dotctl-prof-verify-'));
try {
  const path = join(dir, 'ledger.db');
  await makeLedger(path, N);
  console.log(`Parts of verifying ${N.toLocaleString('en-US')} events (a signed head after every ${HEAD_EVERY} rows), in-process:`);
  const l = await openSqliteLedger(path, { create: false, readonly: true, verify: { workerUrl: WORKER } });
  await part('chain: verifyEvents (worker threads)', async () => {
    const v = await l.verifyEvents?.();
    return `${v?.kind}, ${v?.rows} rows`;
  });
  await part('proposal states: checkProposalStates', async () => String(await l.checkProposalStates?.()));
  await part('registry: readRegistry (3 reads by event)', async () => `${(await readRegistry(l)).entries.length} registry`);
  const heads = await l.readEvents({ event: 'head_signed' });
  await part('heads: readEvents head_signed', async () => `${(await l.readEvents({ event: 'head_signed' })).length} heads`);
  const [first] = await l.readEvents({ seqs: [1] });
  await part('Ed25519: every head verified, one thread', () => {
    let ok = 0;
    const keys = new Map<string, ReturnType<typeof publicKeyObject>>();
    for (const h of heads) {
      const d = h.detail as { covers_seq: number; covers_hash: string; key: string; signature: string };
      let k = keys.get(d.key);
      if (!k) {
        k = publicKeyObject(d.key);
        keys.set(d.key, k);
      }
      const claim = { ledgerId: first?.hash ?? '', seq: d.covers_seq, hash: d.covers_hash, actor: h.actor, at: h.at };
      if (verify(null, headStatement(claim), k, Buffer.from(d.signature, 'base64'))) ok += 1;
    }
    return `${ok} of ${heads.length} verify`;
  });
  await part('all of log verify: verifySignedLog', async () => (await verifySignedLog(l)).kind);
  await l.close();

  const tiny = join(dir, 'tiny.db');
  await makeLedger(tiny, 3);
  const start = run(process.execPath, [BIN, '--ledger', tiny, 'log', 'verify']);
  console.log(`\n  CLI start-up (log verify of a 3-row ledger)      ${ms(start.ms).padStart(9)} wall`);
  const cli = run(process.execPath, [BIN, '--ledger', path, 'log', 'verify']);
  console.log(`  dotctl log verify (whole process)               ${ms(cli.ms).padStart(9)} wall   ${rate(N, cli.ms, 'events')}  (exit ${cli.code})`);

  const profDir = join(dir, 'prof');
  const r = run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, BIN, '--ledger', path, 'log', 'verify']);
  console.log(`\ndotctl log verify under --cpu-prof: ${ms(r.ms)} (exit ${r.code}) ${r.stdout.trim().slice(0, 60)}`);
  for (const file of readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))) printSummary(join(profDir, file), 12);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
