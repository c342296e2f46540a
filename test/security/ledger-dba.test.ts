/**
 * The ledger DBA and the insider with the ledger file (threat model points 6 and the DBA row),
 * run as they would through the built CLI and a real PostgreSQL:
 *
 * - PostgreSQL: with `dotctl ledger roles`, operators connect as a writer login that can only
 *   read and append. As that login, rewriting a proposal's state, erasing a rejection with its
 *   log rows, TRUNCATE, disabling or dropping a trigger, replica mode, DDL — all refused, and
 *   `log verify` stays intact. Beside it: propose, approve, apply and verify through the writer
 *   work, and a ledger a login already owned (where that login could disable the triggers) is
 *   taken over.
 * - SQLite: the insider owns the file and can drop the triggers. Putting an applied proposal's
 *   state back to proposed (its state index, with or without the column) is named by
 *   `log verify` (exit 7), and the gate refuses to treat the proposal as proposed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createWalk, type Walk } from '../exec/harness.js';
import { hasStackTrace, runCli, type CliResult } from '../helpers/cli.js';
import { ensureGenesis } from '../helpers/genesis.js';
import { adminClient, createScratchDb, createScratchRole, dbUrl, dropScratchRoles, uniqueName, type ScratchDb } from '../helpers/pg.js';

/** The walk's CLI flags with `--ledger` replaced. */
function onLedger(w: Walk, ledger: string): void {
  const flags = w.inc.flags as string[];
  flags[flags.indexOf('--ledger') + 1] = ledger;
}

/** Runs `sql` as `url`'s login; resolves to the PostgreSQL error code it was refused with, or 'ok'. */
async function attempt(url: string, sql: string, values: unknown[] = []): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql, values);
    return 'ok';
  } catch (err) {
    return String((err as { code?: unknown }).code);
  } finally {
    await c.end();
  }
}

function expectExit(r: CliResult, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  if (code !== 0) {
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one sentence expected: ${r.stderr}`);
    assert.ok(!hasStackTrace(r.stderr), r.stderr);
  }
}

describe('the ledger DBA with the writer login (PostgreSQL ledger)', () => {
  let w: Walk;
  let ledgerDb: ScratchDb;
  const owner = uniqueName('lowner');
  const writer = uniqueName('lwriter');
  let writerUrl = '';
  let applied = '';
  let rejected = '';

  before(async () => {
    w = await createWalk('sec_dba');
    ledgerDb = await createScratchDb('dba_ledger');
    expectExit(runCli(['--ledger', ledgerDb.url, 'ledger', 'roles', '--owner-role', owner, '--writer-role', writer]), 0, 'ledger roles');
    writerUrl = dbUrl(ledgerDb.name, writer);
    onLedger(w, writerUrl);
    // the legitimate path, all of it through the writer login
    applied = await w.propose(['A', 'D']);
    rejected = await w.propose(['A', 'D']);
    w.approve(applied);
    expectExit(w.cli(w.inc.reviewer2, ['reject', rejected, '--reason', 'not before the owner agrees']), 0, 'reject through the writer');
    expectExit(w.cli(w.inc.operator2, ['apply', applied]), 0, 'apply through the writer');
  });
  after(async () => {
    await ledgerDb?.drop();
    await dropScratchRoles([owner, writer]);
    await w?.inc.cleanup();
  });

  test('through the writer login, propose, approve, apply and verify work (the legitimate path)', () => {
    assert.equal(w.state(applied), 'applied');
    assert.equal(w.state(rejected), 'proposed');
    expectExit(w.cli(null, ['log', 'verify']), 0, 'log verify');
    const refused = w.cli(w.inc.operator2, ['apply', rejected]);
    expectExit(refused, 3, 'apply of the rejected proposal');
    assert.match(refused.stderr, /raj rejected/);
  });

  test('as the writer, every rewrite is refused: state, a rejection and its log rows, TRUNCATE, triggers, replica mode, DDL', async () => {
    const before = w.events();
    const attacks: [string, string, unknown[]][] = [
      ['put the applied state back', `UPDATE dotctl.dot_proposal_states SET state = 'proposed' WHERE proposal_id = $1`, [applied]],
      ['rewrite the state column', `UPDATE dotctl.dot_proposals SET state = 'proposed' WHERE id = $1`, [applied]],
      ['erase the rejection decision', `DELETE FROM dotctl.dot_decisions WHERE proposal_id = $1 AND kind = 'reject'`, [rejected]],
      ['erase its log rows', `DELETE FROM dotctl.dot_action_log WHERE proposal_id = $1 AND event = 'rejected'`, [rejected]],
      ['erase its state rows', `DELETE FROM dotctl.dot_proposal_states WHERE proposal_id = $1`, [applied]],
      ['drop the newest rows', 'DELETE FROM dotctl.dot_action_log WHERE seq > 3', []],
      ['truncate the log', 'TRUNCATE dotctl.dot_action_log CASCADE', []],
      ['truncate the decisions', 'TRUNCATE dotctl.dot_decisions', []],
      ['truncate the state index', 'TRUNCATE dotctl.dot_proposal_states', []],
      ['disable the triggers', 'ALTER TABLE dotctl.dot_action_log DISABLE TRIGGER ALL', []],
      ['disable one trigger', 'ALTER TABLE dotctl.dot_decisions DISABLE TRIGGER dot_decisions_append_only', []],
      ['drop a trigger', 'DROP TRIGGER dot_proposal_states_append_only ON dotctl.dot_proposal_states', []],
      ['replace the trigger function', "CREATE OR REPLACE FUNCTION dotctl.refuse_change() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN OLD; END'", []],
      ['replica mode', 'SET session_replication_role = replica', []],
      ['become the owner', `SET ROLE "${owner}"`, []],
      ['drop a table', 'DROP TABLE dotctl.dot_decisions', []],
      ['alter a table', 'ALTER TABLE dotctl.dot_action_log ADD COLUMN note text', []],
      ['create a table in the ledger schema', 'CREATE TABLE dotctl.shadow (a int)', []],
      ['forge the schema version', "INSERT INTO dotctl.schema_version (version, description) VALUES (99, 'x')", []],
    ];
    const results = await Promise.all(attacks.map(async ([name, sql, values]) => [name, await attempt(writerUrl, sql, values)] as const));
    assert.deepEqual(
      results.filter(([, code]) => code !== '42501'),
      [],
      'these were not refused for lack of privilege (42501)',
    );
    assert.deepEqual(w.events(), before, 'the log changed');
    expectExit(w.cli(null, ['log', 'verify']), 0, 'log verify after the attacks');
    assert.equal(w.state(applied), 'applied');
    assert.match(w.cli(w.inc.operator2, ['apply', rejected]).stderr, /raj rejected/);
  });

  test('the refusals are privileges, not a broken setup: the owner role could have disabled a trigger', async () => {
    const c = await adminClient(ledgerDb.name);
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL ROLE "${owner}"`);
      await c.query('ALTER TABLE dotctl.dot_action_log DISABLE TRIGGER dot_action_log_append_only');
      await c.query('ROLLBACK');
      const login = (await c.query<{ rolcanlogin: boolean }>('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [owner])).rows[0];
      assert.equal(login?.rolcanlogin, false, 'the owner role must not be able to log in');
    } finally {
      await c.end();
    }
  });

  test('a ledger a login already owns (so it could disable the triggers) is taken over: made the writer, it no longer can; its history still verifies', async () => {
    const db = await createScratchDb('dba_takeover');
    const naive = await createScratchRole('naive', { login: true });
    const owner2 = uniqueName('lowner');
    try {
      const admin = await adminClient(db.name);
      try {
        await admin.query(`GRANT CREATE ON DATABASE "${db.name}" TO "${naive}"`);
      } finally {
        await admin.end();
      }
      const naiveUrl = dbUrl(db.name, naive);
      const flags = ['--dots', 'dots', '--ledger', naiveUrl, '--identities', w.inc.identities];
      ensureGenesis(naiveUrl, w.inc.identities);
      expectExit(runCli([...flags, '--key', w.inc.reviewer1.key, 'admit', '--all'], { cwd: process.cwd() }), 0, 'admit into a ledger the login creates');
      // the weakness: the login that created the ledger owns it
      assert.equal(await attempt(naiveUrl, 'BEGIN; ALTER TABLE dotctl.dot_action_log DISABLE TRIGGER ALL; ROLLBACK'), 'ok');
      expectExit(runCli(['--ledger', db.url, 'ledger', 'roles', '--owner-role', owner2, '--writer-role', naive]), 0, 'ledger roles over an existing ledger');
      assert.equal(await attempt(naiveUrl, 'ALTER TABLE dotctl.dot_action_log DISABLE TRIGGER ALL'), '42501');
      assert.equal(await attempt(naiveUrl, 'DELETE FROM dotctl.dot_admissions'), '42501');
      expectExit(runCli([...flags, 'log', 'verify']), 0, 'log verify as the new writer');
      expectExit(runCli([...flags, '--key', w.inc.reviewer2.key, 'admit', '--all']), 0, 'admit as the new writer');
    } finally {
      await db.drop();
      await dropScratchRoles([naive, owner2]);
    }
  });

  test('bad input is one sentence, exit 2, and creates nothing', async () => {
    const other = uniqueName('lowner');
    const fresh = uniqueName('lwriter');
    const cases: [ledger: string, writerRole: string, message: RegExp][] = [
      [join(w.inc.dir, 'ledger.db'), fresh, /not a postgres:\/\/ URL/],
      [ledgerDb.url, other, /--owner-role and --writer-role are both/],
      [ledgerDb.url, 'postgres', /--writer-role postgres exists with powers beyond appending/],
      [ledgerDb.url, 'pg_monitor', /starts with pg_/],
      [writerUrl, fresh, /must run as a superuser/],
    ];
    for (const [ledger, writerRole, message] of cases) {
      const r = runCli(['--ledger', ledger, 'ledger', 'roles', '--owner-role', other, '--writer-role', writerRole]);
      expectExit(r, 2, `${ledger} ${writerRole}`);
      assert.match(r.stderr, message);
    }
    const c = await adminClient();
    try {
      assert.equal((await c.query('SELECT 1 FROM pg_roles WHERE rolname = ANY($1)', [[other, fresh]])).rowCount, 0, 'a refused run created a role');
    } finally {
      await c.end();
    }
  });
});

describe('the insider with the SQLite ledger file forges a state', () => {
  let w: Walk;
  let id = '';
  let n = 0;

  before(async () => {
    w = await createWalk('sec_forge');
    id = await w.propose(['A', 'D']);
    w.approve(id);
    expectExit(w.cli(w.inc.operator2, ['apply', id]), 0, 'apply');
  });
  after(async () => {
    await w?.inc.cleanup();
  });

  /** A copy of the team's ledger file with `sql` run on it, the triggers dropped first as the file's owner can. */
  const forged = (sql: string): string => {
    n += 1;
    const copy = join(w.inc.dir, `forged-${n}.db`);
    copyFileSync(w.inc.ledger, copy);
    if (existsSync(`${w.inc.ledger}-wal`)) copyFileSync(`${w.inc.ledger}-wal`, `${copy}-wal`);
    const db = new Database(copy);
    try {
      const triggers = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").pluck().all() as string[];
      db.exec(`BEGIN; ${triggers.map((t) => `DROP TRIGGER "${t}";`).join(' ')} ${sql}; COMMIT;`);
    } finally {
      db.close();
    }
    return copy;
  };
  const on = (ledger: string, who: Walk['inc']['operator'] | null, args: string[]): CliResult => {
    const flags = [...w.inc.flags];
    flags[flags.indexOf('--ledger') + 1] = ledger;
    return runCli([...flags, ...(who ? ['--key', who.key] : []), ...args], { cwd: w.inc.dir });
  };

  test('untampered, the copy verifies and says applied (the control)', () => {
    const copy = forged('SELECT 1');
    expectExit(on(copy, null, ['log', 'verify']), 0, 'log verify');
    const st = on(copy, null, ['status', id, '--json']);
    expectExit(st, 0, 'status');
    assert.equal((JSON.parse(st.stdout) as { proposal: { state: string } }).proposal.state, 'applied');
  });

  const forgeries: [string, (id: string) => string][] = [
    [
      'the latest state row rewritten applied → proposed, and the column',
      (p) =>
        `UPDATE dot_proposal_states SET state = 'proposed' WHERE seq = (SELECT max(seq) FROM dot_proposal_states WHERE proposal_id = '${p}'); UPDATE dot_proposals SET state = 'proposed' WHERE id = '${p}'`,
    ],
    ['the state rows after proposed deleted', (p) => `DELETE FROM dot_proposal_states WHERE proposal_id = '${p}' AND prev_seq IS NOT NULL`],
    ['every state row deleted, so it looks like a legacy proposal stored as proposed', (p) => `DELETE FROM dot_proposal_states WHERE proposal_id = '${p}'`],
  ];
  for (const [name, sql] of forgeries) {
    test(`${name}: log verify exits 7 naming the proposal, and the gate does not treat it as proposed`, () => {
      const copy = forged(sql(id));
      const v = on(copy, null, ['log', 'verify']);
      expectExit(v, 7, 'log verify');
      assert.match(v.stderr, new RegExp(`proposal ${id} disagrees with the action log`));
      const apply = on(copy, w.inc.operator2, ['apply', id]);
      expectExit(apply, 7, 'apply of the forged proposal');
      assert.match(apply.stderr, new RegExp(`proposal ${id}\\b.*tampered`));
      const status = on(copy, null, ['status', id]);
      expectExit(status, 7, 'status of the forged proposal');
      const rows = new Database(copy, { readonly: true });
      try {
        const started = rows.prepare("SELECT count(*) FROM dot_action_log WHERE proposal_id = ? AND event = 'apply_started'").pluck().get(id);
        assert.equal(started, 1, 'the forged proposal was applied again');
      } finally {
        rows.close();
      }
    });
  }
});
