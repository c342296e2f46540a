/**
 * What the executor does when things go wrong, through the CLI against a real PostgreSQL: a
 * post-verify that fails before or after COMMIT, a rollback that fails too, a rehearsal that
 * must leave no trace, a target that drifted since the proposal, hostile parameter values, and
 * a step that waits on a lock another session holds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { hasStackTrace } from '../helpers/cli.js';
import { paramFlags } from '../helpers/incident.js';
import { adminClient } from '../helpers/pg.js';
import { createWalk, listDir, privileges, replaceIn, schemaRows, sha256, testCatalogue, type Walk } from './harness.js';

const NOTHING = 'usage=false readable=0 default_acls=0';
const A_POST_VERIFY_SQL = `    sql: SELECT has_schema_privilege(:'dump_role', :'schema', 'USAGE')::text AS has_usage
    expect: { kind: value, equals: "true" }`;
const A_SMOKE = `    timeout_ms: 600000
    expect: { exit_code: 0 }`;

describe('a failing post-verify leaves nothing behind', () => {
  let w: Walk;
  let original = '';
  before(async () => {
    w = await createWalk('x_fail');
    original = await sha256(w.inc.scriptPath);
    // private catalogues: A's SQL post-verify expects the impossible; A's smoke pg_dump expects exit 3;
    // and one whose rollback SQL also fails
    await testCatalogue(w, 'dots-sqlfail', (dir) => replaceIn(join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'), A_POST_VERIFY_SQL, A_POST_VERIFY_SQL.replace('"true"', '"yes"')));
    await testCatalogue(w, 'dots-cmdfail', (dir) => replaceIn(join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'), A_SMOKE, A_SMOKE.replace('exit_code: 0', 'exit_code: 3')));
    await testCatalogue(w, 'dots-rbfail', async (dir) => {
      await replaceIn(join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'), A_SMOKE, A_SMOKE.replace('exit_code: 0', 'exit_code: 3'));
      await replaceIn(join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'), `sql: REVOKE USAGE ON SCHEMA :"schema" FROM :"dump_role"`, `sql: REVOKE USAGE ON SCHEMA no_such_schema FROM :"dump_role"`);
    });
  });
  after(async () => w?.inc.cleanup());

  const propose = async (dots: string): Promise<string> => {
    w.dots = join(w.inc.dir, dots);
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    return id;
  };

  test("SQL post-verify fails inside the transaction ⇒ exit 5, privileges untouched, D's patch undone", async () => {
    const id = await propose('dots-sqlfail');
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /post-verify "Dump role has USAGE on the schema" of DOT-PG-GRANT-SCHEMA failed: 1 row\(s\): true; rolled back, the target is as before/);
    assert.match(r.stdout, /\[ok {2}\] DOT-BACKUP-SCRIPT-HARDEN undo · undo: Add error trap/);
    assert.equal(await privileges(w, w.inc.dumpRole), NOTHING);
    assert.equal(await sha256(w.inc.scriptPath), original);
    assert.deepEqual(await listDir(join(w.inc.dir, 'scripts')), ['pg-backup.sh']);
    assert.equal(w.state(id), 'failed');
    const events = w.events(id).map((e) => e.event);
    assert.ok(events.includes('step_failed') && events.at(-1) === 'rolled_back', events.join(' '));
  });

  test('a command post-verify fails after COMMIT ⇒ the rollback sections run, exit 5, target as before', async () => {
    const id = await propose('dots-cmdfail');
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /post-verify "Smoke pg_dump of the schema as the dump role" of DOT-PG-GRANT-SCHEMA failed: exit 0.*; the DOTs' rollback ran and the target is as before/);
    assert.match(r.stdout, /DOT-PG-GRANT-SCHEMA rollback · Revoke USAGE on the schema — ok/);
    assert.equal(await privileges(w, w.inc.dumpRole), NOTHING);
    assert.equal(await sha256(w.inc.scriptPath), original);
    assert.equal(w.state(id), 'failed');
  });

  test('the rollback fails too ⇒ exit 6, needs_attention, and what is left to do is printed', async () => {
    const id = await propose('dots-rbfail');
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 6, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /the rollback failed too and needs a human/);
    assert.match(
      r.stdout,
      /left to do: DOT-PG-GRANT-SCHEMA: rollback SQL "Revoke USAGE on the schema" failed \(SQL error 3F000: schema "no_such_schema" does not exist\); nothing of DOT-PG-GRANT-SCHEMA's rollback SQL was committed/,
    );
    assert.equal(w.state(id), 'needs_attention');
    // A's grants stay (its rollback transaction was rolled back as a whole); D's rollback still ran
    assert.match(await privileges(w, w.inc.dumpRole), /^usage=true/);
    assert.equal(await sha256(w.inc.scriptPath), original);
    const ev = w.events(id).at(-1);
    assert.equal(ev?.event, 'rollback_failed');
    assert.equal((ev?.detail.left_to_do as string[] | undefined)?.length, 1);
    // clean up by hand for the next tests, as the human would
    await w.exec(
      `REVOKE ALL ON ALL TABLES IN SCHEMA sandbox_tac FROM "${w.inc.dumpRole}"; REVOKE ALL ON ALL SEQUENCES IN SCHEMA sandbox_tac FROM "${w.inc.dumpRole}"; REVOKE USAGE ON SCHEMA sandbox_tac FROM "${w.inc.dumpRole}"`,
    );
    await w.exec(
      `ALTER DEFAULT PRIVILEGES FOR ROLE "${w.inc.ownerRole}" IN SCHEMA sandbox_tac REVOKE SELECT ON TABLES FROM "${w.inc.dumpRole}"; ALTER DEFAULT PRIVILEGES FOR ROLE "${w.inc.ownerRole}" IN SCHEMA sandbox_tac REVOKE SELECT ON SEQUENCES FROM "${w.inc.dumpRole}"`,
    );
    assert.equal(await privileges(w, w.inc.dumpRole), NOTHING);
  });

  test('the ledger chain still verifies after all of it', () => {
    const v = w.cli(null, ['log', 'verify']);
    assert.equal(v.code, 0, v.stderr);
  });
});

describe('--dry-run leaves no trace', () => {
  let w: Walk;
  let before_: { privileges: string; script: string; backups: string[]; archive: string[]; rows: number | null };
  before(async () => {
    w = await createWalk('x_dry');
    before_ = {
      privileges: await privileges(w, w.inc.dumpRole),
      script: await sha256(w.inc.scriptPath),
      backups: await listDir(w.inc.backupDir),
      archive: await listDir(w.inc.archiveDir),
      rows: await schemaRows(w),
    };
  });
  after(async () => w?.inc.cleanup());

  const unchanged = async (): Promise<void> => {
    assert.equal(await privileges(w, w.inc.dumpRole), before_.privileges);
    assert.equal(await sha256(w.inc.scriptPath), before_.script);
    assert.deepEqual(await listDir(w.inc.backupDir), before_.backups);
    assert.deepEqual(await listDir(w.inc.archiveDir), before_.archive);
    assert.deepEqual(await listDir(join(w.inc.dir, 'scripts')), ['pg-backup.sh']);
    assert.equal(await schemaRows(w), before_.rows);
  };

  test('a reviewer rehearses A + D before any approval: every step runs, nothing changes, `rehearsed` is logged', async () => {
    const id = await w.propose(['A', 'D']);
    const r = w.cli(w.inc.reviewer1, ['apply', id, '--dry-run']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`rehearsal of ${id} passed; nothing was changed`));
    assert.match(r.stdout, /DOT-BACKUP-SCRIPT-HARDEN diff · Add error trap.* — rehearsed on a copy: patched /);
    assert.match(r.stdout, /DOT-PG-GRANT-SCHEMA post-verify · Dump role has USAGE on the schema — 1 row\(s\): true/);
    assert.match(r.stdout, /DOT-BACKUP-SCRIPT-HARDEN post-verify · A failing pg_dump fires the trap — exit 1/);
    assert.match(r.stdout, /rolled back \(rehearsal: nothing is kept\)/);
    await unchanged();
    assert.equal(w.state(id), 'proposed');
    const ev = w.events(id).filter((e) => e.event === 'rehearsed');
    assert.equal(ev.length, 1);
    assert.equal(ev[0]?.actor, 'rita');
    assert.equal(ev[0]?.outcome, 'rehearsed');
    // a rehearsal writes no step events and no state change: only proposed + rehearsed
    assert.deepEqual(
      w.events(id).map((e) => e.event),
      ['proposed', 'rehearsed'],
    );
  });

  test('C2 + D rehearsed: the archive is made and verified in a temp dir, the schema stays', async () => {
    const id = await w.propose(['C2', 'D']);
    const r = w.cli(w.inc.operator, ['apply', id, '--dry-run']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Pre-archive the schema — rehearsed: \d+ bytes, \d+ entries, 8 tables' data \(a temporary archive, deleted after the rehearsal\)/);
    assert.match(r.stdout, /post-verify · Archive is kept — .*: file, mode 0600/);
    assert.match(r.stdout, /Drop the schema — ok/);
    await unchanged();
  });

  test('a rehearsal whose post-verify fails says so (exit 5) and still changes nothing', async () => {
    w.dots = await testCatalogue(w, 'dots-dry-fail', (dir) => replaceIn(join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'), A_POST_VERIFY_SQL, A_POST_VERIFY_SQL.replace('"true"', '"yes"')));
    const id = await w.propose(['A', 'D']);
    const r = w.cli(w.inc.reviewer2, ['apply', id, '--dry-run']);
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /rehearsal failed: post-verify "Dump role has USAGE on the schema" of DOT-PG-GRANT-SCHEMA failed: 1 row\(s\): true; nothing was changed/);
    await unchanged();
    assert.equal(w.state(id), 'proposed');
  });
});

describe('drift since the proposal', () => {
  let w: Walk;
  let id = '';
  before(async () => {
    w = await createWalk('x_drift');
    id = await w.propose(['A', 'D']);
    w.approve(id);
  });
  after(async () => w?.inc.cleanup());

  test('USAGE granted by hand after proposing ⇒ exit 4 naming the check and the drift; nothing changed', async () => {
    const script = await sha256(w.inc.scriptPath);
    await w.exec(`GRANT USAGE ON SCHEMA sandbox_tac TO "${w.inc.dumpRole}"`);
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /pre-check "Dump role has no USAGE on the schema yet" of DOT-PG-GRANT-SCHEMA failed: saw 1 row\(s\): true, expected the single value false — the target drifted since the proposal was made \(it passed then\); nothing was changed/,
    );
    assert.equal(await sha256(w.inc.scriptPath), script);
    assert.equal(await privileges(w, w.inc.dumpRole), 'usage=true readable=0 default_acls=0');
    assert.equal(w.state(id), 'proposed');
    assert.equal(w.events(id).at(-1)?.outcome, 'check_failed');
  });

  test('once the drift is undone, the same approved proposal applies', async () => {
    await w.exec(`REVOKE USAGE ON SCHEMA sandbox_tac FROM "${w.inc.dumpRole}"`);
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(w.state(id), 'applied');
  });
});

describe('hostile parameter values never change statement structure', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('x_hostile');
    w.dots = await testCatalogue(w, 'dots-hostile');
  });
  after(async () => w?.inc.cleanup());

  test('an identifier with quotes and a statement is refused at propose (exit 2) naming the parameter; nothing stored', async () => {
    const r = w.cli(w.inc.operator, [
      'propose',
      'A',
      'D',
      ...paramFlags(w.inc, ['expected_host', 'database', 'owner_role', 'schema', 'backup_dir', 'script_path']),
      '-p',
      `dump_role=x"; DROP ROLE postgres; --`,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^dotctl: parameter dump_role \(identifier\) value .* is not a valid identifier .*; pass a valid value with -p dump_role=VALUE\n$/);
    assert.ok(!hasStackTrace(r.stderr));
    // refused before the ledger or the target was touched: this walk's ledger holds only its genesis registry and its signed head
    assert.deepEqual(
      w.events().map((e) => e.event),
      ['registry_genesis', 'head_signed'],
    );
    assert.equal(await w.scalar(`SELECT count(*)::int FROM pg_roles WHERE rolname = 'postgres'`), 1);
  });

  test('a text value with quotes, a semicolon, a statement and a psql reference reaches SQL as one literal', async () => {
    const note = `it's "quoted"'); DROP SCHEMA sandbox_tac CASCADE; -- \\ $$ $x$ :'schema' :"schema" E'\\x41'`;
    const id = w.proposeWith(['T1'], ['-p', `note=${note}`]);
    w.approve(id);
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await w.scalar(`SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'sandbox_tac'`), note);
    assert.equal(await schemaRows(w), 243);
    const md = await readFile(join(w.inc.dir, 'proposals', `${id}.md`), 'utf8');
    // the reviewed SQL shows one literal (E'' because of the backslash, which is doubled)
    assert.ok(
      md.includes(`COMMENT ON SCHEMA "sandbox_tac" IS E'it''s "quoted"''); DROP SCHEMA sandbox_tac CASCADE; -- \\\\ $$`),
      md
        .split('\n')
        .filter((l) => l.includes('COMMENT ON'))
        .join('\n'),
    );
  });
});

describe('session timeouts', () => {
  let w: Walk;
  let holder: pg.Client;
  before(async () => {
    w = await createWalk('x_lock');
    w.dots = await testCatalogue(w, 'dots-lock');
    holder = await adminClient(w.inc.db.name);
  });
  after(async () => {
    await holder?.end().catch(() => undefined);
    await w?.inc.cleanup();
  });

  test('a DDL step waiting on a lock another session holds fails within lock_timeout ⇒ exit 5, lock timeout named', async () => {
    const id = w.proposeWith(['T2'], []);
    w.approve(id);
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE sandbox_tac.publication IN ACCESS SHARE MODE');
    const started = Date.now();
    const r = w.cli(w.inc.operator2, ['apply', id]);
    const ms = Date.now() - started;
    await holder.query('ROLLBACK');
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /diff step "Add the column" of DOT-TEST-ADD-COLUMN failed: SQL error 55P03: canceling statement due to lock timeout \(lock_timeout is 300 ms: another session holds a lock/);
    assert.ok(ms < 10_000, `took ${ms} ms`);
    assert.equal(await w.scalar(`SELECT count(*)::int FROM pg_attribute WHERE attrelid = 'sandbox_tac.publication'::regclass AND attname = 'note'`), 0);
    assert.equal(w.state(id), 'failed');
  });
});
