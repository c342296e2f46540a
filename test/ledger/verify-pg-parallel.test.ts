/**
 * `log verify` of a PostgreSQL ledger over worker threads, each on its own connection in the
 * caller's exported snapshot: whatever range a tampered row falls in (the second worker's, a
 * seam between two ranges, the last range), the verdict is exactly verifyChain's and names the
 * row's seq; a worker that cannot run (no script, no connection) costs speed, never the verdict.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sha256Hex } from '../../src/model/canonical.js';
import { verifyChain } from '../../src/ledger/chain.js';
import { LOG_COLUMNS } from '../../src/ledger/rows.js';
import { openPostgresLedger } from '../../src/ledger/postgres.js';
import { createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { seedPostgresLog } from './helpers.js';

const N = 3_000;
// the built workers (tests run after `npm run build`): Node 20 cannot start a .ts worker
const LIB_WORKER = new URL('../../dist/ledger/verify-pg-worker.js', import.meta.url);
const CLI_WORKER = new URL('../../dist/cli/verify-pg-worker.js', import.meta.url);
const NO_WORKER = new URL('../../dist/ledger/no-such-worker.js', import.meta.url);

/** Recomputes a row's hash over its stored text, as a forger who read the fast path would. */
const FORGE = (seq: number): string => `UPDATE dotctl.dot_action_log SET hash = encode(sha256(convert_to(prev_hash || chr(10) || '{"action_code":' || coalesce(to_json(action_code)::text, 'null')
  || ',"actor":' || coalesce(to_json(actor)::text, 'null') || ',"at":' || coalesce(to_json(at)::text, 'null') || ',"detail":' || detail || ',"dot_id":' || coalesce(to_json(dot_id)::text, 'null')
  || ',"event":' || coalesce(to_json(event)::text, 'null') || ',"outcome":' || coalesce(to_json(outcome)::text, 'null') || ',"proposal_hash":' || coalesce(to_json(proposal_hash)::text, 'null')
  || ',"proposal_id":' || coalesce(to_json(proposal_id)::text, 'null') || ',"seq":' || seq || '}', 'UTF8')), 'hex') WHERE seq = ${seq}`;

// With 3 workers over 3,000 rows the ranges are (0, 1000], (1000, 2000], (2000, …).
const CASES: Record<string, string[]> = {
  intact: [],
  'row edited in the second range': [`UPDATE dotctl.dot_action_log SET actor = 'mallory' WHERE seq = 1500`],
  'row forged in the second range, hashed as stored': [`UPDATE dotctl.dot_action_log SET detail = replace(detail, ':', ' : ') WHERE seq = 1500`, FORGE(1500)],
  'row deleted at the seam of two ranges': ['DELETE FROM dotctl.dot_action_log WHERE seq = 1001'],
  'first row of the second range relinked': [`UPDATE dotctl.dot_action_log SET prev_hash = hash WHERE seq = 1001`],
  'time set back at the first row of the third range, hashed as stored': [`UPDATE dotctl.dot_action_log SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 2001`, FORGE(2001)],
  'last row edited': [`UPDATE dotctl.dot_action_log SET actor = 'mallory' WHERE seq = ${N}`],
  'last row deleted (a shorter chain that holds)': [`DELETE FROM dotctl.dot_action_log WHERE seq = ${N}`],
};

describe("parallel verify of a PostgreSQL ledger gives verifyChain's verdict", () => {
  let db: ScratchDb;
  let admin: pg.Client;
  before(async () => {
    db = await createScratchDb('verify_pg_parallel');
    await (await openPostgresLedger(db.url)).close();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await seedPostgresLog(admin, N);
  });
  after(async () => {
    await admin?.end();
    await db?.drop();
  });

  for (const [name, tamper] of Object.entries(CASES)) {
    test(name, async () => {
      await admin.query('DELETE FROM dotctl.dot_action_log');
      await admin.query('INSERT INTO dotctl.dot_action_log SELECT * FROM dotctl.seed_copy');
      for (const sql of tamper) await admin.query(sql);
      const ref = await openPostgresLedger(db.url, { create: false });
      const reference = await verifyChain(ref.iterateEvents()).finally(() => ref.close());
      if (name !== 'intact' && !name.includes('shorter')) assert.equal(reference.kind, 'broken', name);
      if (name.startsWith('row') && name.includes('second range')) assert.equal(reference.kind === 'broken' && reference.seq, 1500, name);
      const ways = [
        { workers: 1 },
        { workers: 3, parallelFrom: 0, workerUrl: LIB_WORKER },
        { workers: 2, parallelFrom: 0, workerUrl: CLI_WORKER },
        { workers: 3, parallelFrom: 0, workerUrl: NO_WORKER },
      ];
      for (const verify of ways) {
        const l = await openPostgresLedger(db.url, { create: false, verify });
        try {
          assert.deepEqual(await l.verifyEvents(), reference, `${name} with ${JSON.stringify(verify)}`);
        } finally {
          await l.close();
        }
      }
    });
  }

  test('the forger’s hash is the one the fast path computes (the forged cases test what they claim)', async () => {
    const r = (await admin.query(`SELECT ${LOG_COLUMNS.join(', ')} FROM dotctl.seed_copy WHERE seq = 7`)).rows[0] as Record<string, string | null>;
    const s = (v: unknown): string => (v === null ? 'null' : JSON.stringify(v));
    const input = `${r.prev_hash}\n{"action_code":${s(r.action_code)},"actor":${s(r.actor)},"at":${s(r.at)},"detail":${r.detail},"dot_id":${s(r.dot_id)},"event":${s(r.event)},"outcome":${s(r.outcome)},"proposal_hash":${s(r.proposal_hash)},"proposal_id":${s(r.proposal_id)},"seq":${r.seq}}`;
    await admin.query('CREATE TEMP TABLE forge_probe AS SELECT * FROM dotctl.seed_copy WHERE seq = 7');
    const forged = (await admin.query(`${FORGE(7).replace('dotctl.dot_action_log', 'forge_probe')} RETURNING hash`)).rows[0] as { hash: string };
    assert.equal(forged.hash, sha256Hex(input));
    assert.equal(forged.hash, r.hash, 'an untouched row re-hashes to its stored hash');
  });
});
