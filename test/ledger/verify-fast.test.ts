/**
 * The fast `log verify` (raw rows, stored text hashed as stored, ranges over worker threads)
 * must give exactly the verdict of `verifyChain(iterateEvents())` on every ledger, intact or
 * tampered: same row, reason, message and counts. Tampering here is what someone with file
 * access could do, including forging a row whose hash is computed over its stored
 * (non-canonical) text, the one row a naive fast path would accept and verifyChain refuses.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { canonicalJson, sha256Hex } from '../../src/model/canonical.js';
import { sealEvent, verifyChain, type ChainHead } from '../../src/ledger/chain.js';
import { isCanonicalObjectText } from '../../src/ledger/canonical-text.js';
import { LOG_COLUMNS, logRowValues } from '../../src/ledger/rows.js';
import { openSqliteLedger } from '../../src/ledger/sqlite.js';
import { openPostgresLedger } from '../../src/ledger/postgres.js';
import { createScratchDb } from '../helpers/pg.js';
import { runCli } from '../helpers/cli.js';
import { runWorker, workerUrl } from '../../src/ledger/verify-parallel.js';
import { ev, seedPostgresLog } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'dotctl-verify-fast-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('canonical text scanner', () => {
  const canonical = [
    {},
    { a: 1 },
    { sql: 'GRANT USAGE ON SCHEMA "s" TO "r"', n: -1.5, big: 1e21, tiny: 1e-7, t: true, f: false, z: null },
    { nested: { b: [1, 'two', { c: [] }], a: {} }, é: 'ü', '😀': 'x\ty\n\u0001\u007f\u2028' },
    { '10': 1, '9': 2, A: 3, a: 4, __proto__x: 5 },
  ];
  test('accepts what canonicalJson writes', () => {
    for (const v of canonical) assert.ok(isCanonicalObjectText(canonicalJson(v)), canonicalJson(v));
  });

  test('never accepts a text that canonicalJson would write differently', () => {
    const texts = [
      '{"a":1 }',
      '{ "a":1}',
      '{"b":1,"a":2}',
      '{"a":1,"a":2}',
      '{"a":1.0}',
      '{"a":-0}',
      '{"a":1e2}',
      '{"a":01}',
      '{"a":"\\u0041"}',
      '{"a":"\\/"}',
      '{"a":"\\u000a"}',
      '{"a":"\\u001F"}',
      '{"a":"\\ud800"}',
      '{"a":1E+21}',
      '{"a":12345678901234567890}',
      '{"a":1e400}',
      '[]',
      '"x"',
      '{"a\\u0062":1}',
      '{"a":"\ud800"}',
      '{"a":tru}',
      '{"a":[1,]}',
      '{"a":1,}',
      '{}x',
      '{"a":"x',
      '{"a":"\u0001"}',
      '{"__proto__":1}',
      '{"a":0.10}',
      '{"a":-}',
    ];
    // plus every one-character edit of the canonical texts
    for (const v of canonical) {
      const t = canonicalJson(v);
      for (let i = 0; i < t.length; i += 1) {
        for (const c of [' ', '0', '"', '\\', ',', '}', 'e', '.', '-']) texts.push(t.slice(0, i) + c + t.slice(i + 1), t.slice(0, i) + c + t.slice(i));
        texts.push(t.slice(0, i) + t.slice(i + 1));
      }
    }
    for (const t of texts) {
      if (!isCanonicalObjectText(t)) continue;
      const v: unknown = JSON.parse(t);
      assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), t);
      assert.equal(canonicalJson(v), t, `accepted a non-canonical text: ${t}`);
    }
  });
});

const N = 3_000;
// the built workers (tests run after `npm run build`): Node 20 cannot start a .ts worker
const LIB_WORKER = new URL('../../dist/ledger/verify-worker.js', import.meta.url);
const CLI_WORKER = new URL('../../dist/cli/verify-worker.js', import.meta.url);

/** A SQLite ledger of n chained rows written in bulk; its triggers dropped so tests can tamper. */
async function seeded(n = N, name = 'seed.db'): Promise<string> {
  const path = join(dir, name);
  await (await openSqliteLedger(path)).close();
  const db = new Database(path);
  const insert = db.prepare(`INSERT INTO dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map(() => '?').join(', ')})`);
  db.transaction(() => {
    let head: ChainHead | null = null;
    for (let i = 1; i <= n; i += 1) {
      const s = sealEvent(head, ev({ i, detail: { i, sql: `GRANT "r${i % 7}"`, ms: i % 13, nested: { k: [i, 'é'] } } }));
      insert.run(...logRowValues(s.row, s.detailJson));
      head = { seq: s.row.seq, hash: s.row.hash };
    }
  })();
  db.exec('DROP TRIGGER dot_action_log_no_update; DROP TRIGGER dot_action_log_no_delete');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return path;
}

/** The row's stored hash recomputed over its stored text, as a forger who read the fast path would. */
function forgeHash(db: Database.Database, seq: number): void {
  const r = db.prepare(`SELECT ${LOG_COLUMNS.join(', ')} FROM dot_action_log WHERE seq = ?`).get(seq) as Record<string, string | number | null>;
  const s = (v: unknown): string => (v === null ? 'null' : JSON.stringify(v));
  const input = `${r.prev_hash}\n{"action_code":${s(r.action_code)},"actor":${s(r.actor)},"at":${s(r.at)},"detail":${r.detail},"dot_id":${s(r.dot_id)},"event":${s(r.event)},"outcome":${s(r.outcome)},"proposal_hash":${s(r.proposal_hash)},"proposal_id":${s(r.proposal_id)},"seq":${r.seq}}`;
  db.prepare('UPDATE dot_action_log SET hash = ? WHERE seq = ?').run(sha256Hex(input), seq);
}

const TAMPERINGS: Record<string, string | ((db: Database.Database) => void)> = {
  intact: '',
  'detail value edited (middle)': `UPDATE dot_action_log SET detail = '{"i":1}' WHERE seq = 1500`,
  'detail re-spaced, same value (verifyChain accepts it)': `UPDATE dot_action_log SET detail = replace(detail, ',', ', ') WHERE seq = 10`,
  'detail keys reordered, same value': `UPDATE dot_action_log SET detail = '{"sql":"GRANT \\"r1\\"","i":8,"ms":8,"nested":{"k":[8,"é"]}}' WHERE seq = 8`,
  'row deleted at a range boundary': 'DELETE FROM dot_action_log WHERE seq = 1000',
  'row deleted at the front': 'DELETE FROM dot_action_log WHERE seq = 1',
  'last row deleted (a shorter chain that holds)': `DELETE FROM dot_action_log WHERE seq = ${N}`,
  'prev_hash edited (first row of a range)': `UPDATE dot_action_log SET prev_hash = hash WHERE seq = 1001`,
  'genesis replaced': `UPDATE dot_action_log SET prev_hash = 'x' WHERE seq = 1`,
  'actor stored as a number': `UPDATE dot_action_log SET actor = 42 WHERE seq = 2999`,
  'detail not JSON': `UPDATE dot_action_log SET detail = 'oops' WHERE seq = 2001`,
  'a row with seq 0 slipped in (verifyChain reads from seq 1 on)': `PRAGMA ignore_check_constraints = ON; INSERT INTO dot_action_log SELECT 0, at, actor, event, proposal_id, dot_id, action_code, proposal_hash, outcome, detail, prev_hash, hash FROM dot_action_log WHERE seq = 5`,
  'forged: re-spaced detail hashed as stored': (db) => {
    db.exec(`UPDATE dot_action_log SET detail = replace(detail, ':', ' : ') WHERE seq = 1700`);
    forgeHash(db, 1700);
  },
  'forged at the head: re-spaced detail hashed as stored': (db) => {
    db.exec(`UPDATE dot_action_log SET detail = replace(detail, ':', ' : ') WHERE seq = ${N}`);
    forgeHash(db, N);
  },
  'forged: time set back at the first row of a range, hashed as stored': (db) => {
    db.exec(`UPDATE dot_action_log SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 1001`);
    forgeHash(db, 1001);
  },
  'forged: time set back in the middle of a range, hashed as stored': (db) => {
    db.exec(`UPDATE dot_action_log SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 1500`);
    forgeHash(db, 1500);
  },
  'forged: escaped key hashed as stored': (db) => {
    db.exec(`UPDATE dot_action_log SET detail = replace(detail, '"ms"', '"m\\u0073"') WHERE seq = 400`);
    forgeHash(db, 400);
  },
};

describe("fast verify gives verifyChain's verdict on SQLite", () => {
  let seed = '';
  for (const [name, tamper] of Object.entries(TAMPERINGS)) {
    test(name, async () => {
      if (seed === '') seed = await seeded();
      const path = join(dir, `case-${Object.keys(TAMPERINGS).indexOf(name)}.db`);
      copyFileSync(seed, path);
      const db = new Database(path);
      if (typeof tamper === 'function') tamper(db);
      else if (tamper !== '') db.exec(tamper);
      db.close();
      const reference = await (async () => {
        const l = await openSqliteLedger(path, { create: false });
        try {
          return await verifyChain(l.iterateEvents());
        } finally {
          await l.close();
        }
      })();
      if (name.includes('time set back')) assert.equal(reference.kind === 'broken' && reference.reason, 'time_backwards', name);
      if (name !== 'intact' && !name.includes('same value') && !name.includes('shorter') && !name.includes('seq 0')) assert.equal(reference.kind, 'broken', name);
      for (const verify of [{ workers: 1 }, { workers: 3, parallelFrom: 0, workerUrl: LIB_WORKER }, { workers: 4, parallelFrom: 0, workerUrl: CLI_WORKER }]) {
        const l = await openSqliteLedger(path, { create: false, verify });
        try {
          assert.deepEqual(await l.verifyEvents(), reference, `${name} with ${JSON.stringify(verify)}`);
        } finally {
          await l.close();
        }
      }
    });
  }

  test('the worker of the library build and of the bundled CLI each check their range', async () => {
    if (seed === '') seed = await seeded();
    assert.equal(workerUrl(), null, 'from source there is no .js worker next to the module');
    for (const url of [LIB_WORKER, CLI_WORKER]) {
      const whole = await runWorker(url, { path: seed, from: 0, to: null, batch: 1000 });
      assert.equal(whole.clean, true, url.href);
      assert.equal(whole.rows, N);
      const part = await runWorker(url, { path: seed, from: 1000, to: 2000, batch: 300 });
      assert.deepEqual([part.clean, part.rows, part.first?.seq, part.last?.seq], [true, 1000, 1001, 2000]);
    }
  });
});

test('the built CLI verifies a ledger large enough for worker threads, and names a row edited in a later range', async () => {
  const path = await seeded(100_000, 'large.db');
  const ok = runCli(['--ledger', path, 'log', 'verify']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^dot_action_log intact: 100000 rows, head [0-9a-f]{64}/);
  const db = new Database(path);
  db.exec(`UPDATE dot_action_log SET actor = 'mallory' WHERE seq = 75000`);
  db.close();
  const bad = runCli(['--ledger', path, 'log', 'verify', '--json']);
  assert.equal(bad.code, 7, bad.stderr);
  assert.deepEqual(JSON.parse(bad.stdout), {
    kind: 'broken',
    rows: 74_999,
    seq: 75_000,
    reason: 'hash_mismatch',
    message: 'row 75000 was edited after it was written (its content no longer matches its hash)',
  });
});

describe("fast verify gives verifyChain's verdict on PostgreSQL", () => {
  const cases: Record<string, string> = {
    intact: '',
    'detail value edited': `UPDATE dotctl.dot_action_log SET detail = '{"i":1}' WHERE seq = 1500`,
    'detail re-spaced, same value (verifyChain accepts it)': `UPDATE dotctl.dot_action_log SET detail = replace(detail, ',', ', ') WHERE seq = 10`,
    'row deleted at a batch boundary': 'DELETE FROM dotctl.dot_action_log WHERE seq = 1001',
    'genesis replaced': `UPDATE dotctl.dot_action_log SET prev_hash = 'x' WHERE seq = 1`,
    'last row edited': `UPDATE dotctl.dot_action_log SET actor = 'mallory' WHERE seq = ${N}`,
  };
  let db: Awaited<ReturnType<typeof createScratchDb>> | null = null;
  let admin: pg.Client | null = null;
  after(async () => {
    await admin?.end();
    await db?.drop();
  });
  for (const [name, tamper] of Object.entries(cases)) {
    test(name, async () => {
      if (db === null) {
        db = await createScratchDb('verify_fast');
        await (await openPostgresLedger(db.url)).close();
        admin = new pg.Client({ connectionString: db.url });
        await admin.connect();
        await seedPostgresLog(admin, N);
      }
      const c = admin as pg.Client;
      await c.query('DELETE FROM dotctl.dot_action_log');
      await c.query('INSERT INTO dotctl.dot_action_log SELECT * FROM dotctl.seed_copy');
      if (tamper !== '') await c.query(tamper);
      const url = (db as { url: string }).url;
      const ref = await openPostgresLedger(url, { create: false });
      const reference = await verifyChain(ref.iterateEvents()).finally(() => ref.close());
      if (name !== 'intact' && !name.includes('same value')) assert.equal(reference.kind, 'broken', name);
      for (const batchSize of [1000, 5000]) {
        const l = await openPostgresLedger(url, { create: false, batchSize });
        try {
          assert.deepEqual(await l.verifyEvents(), reference, `${name}, batches of ${batchSize}`);
        } finally {
          await l.close();
        }
      }
    });
  }
});
