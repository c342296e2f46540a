/**
 * Fail closed, through the real CLI against a real target: when the ledger cannot be written
 * (an immutable SQLite file or directory — tests run as root, which file modes do not stop, so
 * `chattr +i` it is —, a PostgreSQL ledger that is down or read-only, a ledger that refuses the
 * event of a diff step as a full disk would), `dotctl apply` exits 7 in one line naming the
 * ledger and the target is exactly as before; once the ledger is back, the same apply completes.
 * (test/ledger/fail-closed.test.ts covers the adapters; this is the whole apply.)
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { hasStackTrace, type CliResult } from '../helpers/cli.js';
import { createIncident, paramsFor, type Incident } from '../helpers/incident.js';
import { adminClient, createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { dotctl } from './run.js';
import { ensureAdmitted } from '../helpers/admission.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The state of the target a failed apply must leave alone. */
async function targetState(inc: Incident): Promise<string> {
  const c = await adminClient(inc.db.name);
  try {
    const r = await c.query(
      `SELECT has_schema_privilege($1, 'sandbox_tac', 'USAGE')::text AS usage,
              (SELECT count(*) FROM pg_default_acl)::int AS default_acls,
              (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'sandbox_tac' AND has_table_privilege($1, c.oid, 'SELECT'))::int AS readable`,
      [inc.dumpRole],
    );
    const script = createHash('sha256').update(readFileSync(inc.scriptPath)).digest('hex');
    return `${JSON.stringify(r.rows[0])} script ${script.slice(0, 16)}`;
  } finally {
    await c.end();
  }
}

function chattr(flag: '+i' | '-i', path: string): void {
  const r = spawnSync('chattr', [flag, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chattr ${flag} ${path} failed: ${r.stderr}; the test needs a filesystem with immutable files (ext4, xfs)`);
}

/** An incident whose ledger is `ledger` (a SQLite path or a postgres:// URL). */
async function incident(label: string, ledger?: ScratchDb): Promise<{ inc: Incident; flags: string[] }> {
  const inc = await createIncident(label);
  cleanups.push(() => inc.cleanup());
  const flags = [...inc.flags];
  if (ledger) flags[flags.indexOf('--ledger') + 1] = ledger.url;
  return { inc, flags };
}

async function proposeApproved(inc: Incident, flags: readonly string[], refs: readonly string[]): Promise<string> {
  ensureAdmitted(flags, [inc.reviewer1, inc.reviewer2], inc.dir);
  const p = await dotctl([...flags, '--key', inc.operator.key, 'propose', ...refs, ...(await paramsFor(inc, refs)), '--json'], { cwd: inc.dir });
  assert.equal(p.code, 0, p.stderr);
  const id = (JSON.parse(p.stdout) as { id: string }).id;
  const a = await dotctl([...flags, '--key', inc.reviewer1.key, 'approve', id], { cwd: inc.dir });
  assert.equal(a.code, 0, a.stderr);
  return id;
}

function apply(inc: Incident, flags: readonly string[], id: string): Promise<CliResult> {
  return dotctl([...flags, '--key', inc.operator2.key, 'apply', id], { cwd: inc.dir, timeoutMs: 120_000 });
}

/** Exit 7 in one line that names the ledger, no stack trace. */
function assertLedgerRefusal(r: CliResult, ledgerShown: string): void {
  const show = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.equal(r.code, 7, show);
  assert.equal(hasStackTrace(r.stderr), false, show);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${show}`);
  assert.match(lines[0] ?? '', /^dotctl: cannot (open|write|read) the ledger /, show);
  assert.ok((lines[0] ?? '').includes(ledgerShown), `the message names ${ledgerShown}: ${show}`);
}

describe('fail closed: apply refuses when the ledger cannot be written, the target untouched', () => {
  test('SQLite ledger file immutable: exit 7, target unchanged; writable again, the apply completes', async () => {
    const { inc, flags } = await incident('rel_fc_file');
    const id = await proposeApproved(inc, flags, ['A', 'D']);
    const before = await targetState(inc);
    chattr('+i', inc.ledger);
    try {
      assertLedgerRefusal(await apply(inc, flags, id), inc.ledger);
      assert.equal(await targetState(inc), before, 'the target changed although the ledger could not be written');
    } finally {
      chattr('-i', inc.ledger);
    }
    const again = await apply(inc, flags, id);
    assert.equal(again.code, 0, again.stderr);
    assert.notEqual(await targetState(inc), before);
  });

  test('SQLite ledger directory immutable (no journal can be made): exit 7, target unchanged', async () => {
    const { inc, flags } = await incident('rel_fc_dir');
    const id = await proposeApproved(inc, flags, ['A', 'D']);
    const before = await targetState(inc);
    const dir = dirname(inc.ledger);
    chattr('+i', dir);
    try {
      const r = await apply(inc, flags, id);
      assertLedgerRefusal(r, inc.ledger);
      assert.equal(await targetState(inc), before);
    } finally {
      chattr('-i', dir);
    }
  });

  test('PostgreSQL ledger down: exit 7 naming it (no password), target unchanged', async () => {
    const ledger = await createScratchDb('rel_fc_pgdown');
    cleanups.push(() => ledger.drop());
    const { inc, flags } = await incident('rel_fc_pgdown', ledger);
    const id = await proposeApproved(inc, flags, ['A', 'D']);
    const before = await targetState(inc);
    const down = `postgres://dotctl:s3cret@127.0.0.1:1/${ledger.name}`;
    const f = [...flags];
    f[f.indexOf('--ledger') + 1] = down;
    const r = await apply(inc, f, id);
    assertLedgerRefusal(r, `postgres://dotctl:***@127.0.0.1:1/${ledger.name}`);
    assert.doesNotMatch(r.stderr, /s3cret/);
    assert.equal(await targetState(inc), before);
  });

  test('PostgreSQL ledger read-only (e.g. a standby): exit 7, target unchanged; writable again, the apply completes', async () => {
    const ledger = await createScratchDb('rel_fc_pgro');
    cleanups.push(() => ledger.drop());
    const { inc, flags } = await incident('rel_fc_pgro', ledger);
    const id = await proposeApproved(inc, flags, ['A', 'D']);
    const before = await targetState(inc);
    const setReadOnly = async (on: boolean): Promise<void> => {
      const c = await adminClient();
      try {
        await c.query(`ALTER DATABASE "${ledger.name}" SET default_transaction_read_only = ${on ? 'on' : 'off'}`);
      } finally {
        await c.end();
      }
    };
    await setReadOnly(true);
    try {
      const r = await apply(inc, flags, id);
      assertLedgerRefusal(r, ledger.name);
      assert.match(r.stderr, /read-only transaction/);
      assert.equal(await targetState(inc), before);
    } finally {
      await setReadOnly(false);
    }
    const again = await apply(inc, flags, id);
    assert.equal(again.code, 0, again.stderr);
  });

  test('the ledger refuses the event of a SQL diff step (a full disk): exit 7, the transaction rolled back; the ledger back, a re-apply completes', async () => {
    const { inc, flags } = await incident('rel_fc_full');
    const d = await proposeApproved(inc, flags, ['D']);
    const rd = await apply(inc, flags, d);
    assert.equal(rd.code, 0, rd.stderr);
    const id = await proposeApproved(inc, flags, ['A']);
    const before = await targetState(inc);
    const db = new Database(inc.ledger);
    db.exec(`CREATE TRIGGER test_disk_full BEFORE INSERT ON dot_action_log
               WHEN json_extract(NEW.detail, '$.section') = 'diff'
               BEGIN SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END`);
    db.close();
    const r = await apply(inc, flags, id);
    assertLedgerRefusal(r, inc.ledger);
    assert.match(r.stderr, /disk is full/);
    assert.equal(await targetState(inc), before, 'the GRANTs were committed although their events could not be written');
    const db2 = new Database(inc.ledger);
    db2.exec('DROP TRIGGER test_disk_full');
    db2.close();
    const again = await apply(inc, flags, id);
    assert.equal(again.code, 0, again.stderr);
    const verify = await dotctl([...flags, 'log', 'verify']);
    assert.equal(verify.code, 0, verify.stderr);
  });

  test('the ledger refuses the event of a patch step: the patch is undone before refusing', async () => {
    const { inc, flags } = await incident('rel_fc_patch');
    const id = await proposeApproved(inc, flags, ['D']);
    const before = await targetState(inc);
    const db = new Database(inc.ledger);
    db.exec(`CREATE TRIGGER test_disk_full BEFORE INSERT ON dot_action_log
               WHEN json_extract(NEW.detail, '$.section') = 'diff'
               BEGIN SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END`);
    db.close();
    const r = await apply(inc, flags, id);
    assertLedgerRefusal(r, inc.ledger);
    assert.equal(await targetState(inc), before, 'the script must not stay patched while no event says so');
  });
});
