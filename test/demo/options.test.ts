/**
 * The options of the seed on the incident database, at the level of the backup script: each
 * DOT is taken through the engine (propose → approve → apply, in process) on a scratch
 * incident, then the script it changed is run for real against PostgreSQL with its heartbeat
 * going to a loopback listener. The executor's own behaviour (steps, rollback, archives) is
 * tested in test/exec; this file asserts what the nightly backup does afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { admitDots, applyProposal, decideProposal, proposeBundle, type EngineOptions } from '../../src/engine.js';
import { auditBackupDir } from '../../src/exec/backup-audit.js';
import { KUMA_PATH, runBackupScript, type BackupScriptRun } from '../../src/cli/demo/backup-script.js';
import { startHeartbeatListener, type HeartbeatListener } from '../../src/cli/demo/heartbeat.js';
import { serverInfo } from '../../src/cli/demo/scratch.js';
import { createIncident, paramsFor, type Incident, type Person } from '../helpers/incident.js';
import { ADMIN_URL, adminClient } from '../helpers/pg.js';

const server = serverInfo(ADMIN_URL);
let listener: HeartbeatListener;

before(async () => {
  listener = await startHeartbeatListener();
});
after(async () => {
  await listener?.close();
});

function as(inc: Incident, who: Person): EngineOptions {
  return { dots: resolve('dots'), ledger: inc.ledger, target: inc.db.url, identities: inc.identities, key: who.key, proposalsDir: join(inc.dir, 'proposals') };
}

/** Proposes, approves and applies a bundle on the incident; returns the proposal id. */
async function applyBundle(inc: Incident, refs: readonly string[]): Promise<string> {
  const flags = await paramsFor(inc, refs, { verify_push_url: `${listener.url}/api/push/dotctl-post-verify` });
  const pairs = flags.filter((_, i) => i % 2 === 1);
  // the incident's two reviewers admit the catalogue first (a repeat admission is a no-op)
  for (const r of [inc.reviewer1, inc.reviewer2]) await admitDots(as(inc, r), 'all', null);
  const p = await proposeBundle(as(inc, inc.operator), refs, pairs);
  const d = await decideProposal(as(inc, inc.reviewer1), p.id, 'approve', null);
  assert.equal(d.gate.kind, 'allow', d.gate.unmet.map((u) => u.message).join('; '));
  const r = await applyProposal(as(inc, inc.operator), p.id);
  assert.equal(
    r.outcome,
    'applied',
    `${r.message}\n${r.steps
      .filter((s) => s.outcome === 'failed')
      .map((s) => `${s.name}: ${s.observed}`)
      .join('\n')}`,
  );
  return p.id;
}

function backup(inc: Incident, opts: { dbUser?: string; extra?: Record<string, string> } = {}): Promise<BackupScriptRun> {
  return runBackupScript({ script: inc.scriptPath, server, database: inc.db.name, dbUser: opts.dbUser ?? inc.dumpRole, backupDir: inc.backupDir, listener, extra: opts.extra });
}

const pushes = (b: BackupScriptRun): string[] => b.pushes.map((p) => `${p.path} ${p.status} ${p.msg}`);

/** The rows of one table's COPY block in a plain dump. */
function copyRows(sql: string, table: string): number {
  const start = sql.indexOf(`COPY ${table} `);
  if (start < 0) return -1;
  const body = sql.slice(sql.indexOf('\n', start) + 1, sql.indexOf('\n\\.\n', start));
  return body === '' ? 0 : body.split('\n').length;
}

describe('D (hardened script) and then C1 (exclude) on the incident database', () => {
  let inc: Incident;
  before(async () => {
    inc = await createIncident('demo_d');
    // The application's own data (Directus' tables, owned by the dump role): what a dump without
    // sandbox_tac still holds. Without it, C1's dump of an otherwise empty database is under the
    // script's 1 KiB floor and rightly counts as failed.
    const c = await adminClient(inc.db.name);
    try {
      await c.query(`CREATE TABLE public.directus_activity (id serial PRIMARY KEY, action text NOT NULL)`);
      await c.query(`INSERT INTO public.directus_activity (action) SELECT 'login ' || md5(g::text) FROM generate_series(1, 2000) g`);
      await c.query(`ALTER TABLE public.directus_activity OWNER TO "${inc.dumpRole}"`);
    } finally {
      await c.end();
    }
    await applyBundle(inc, ['D']);
    assert.match(await readFile(inc.scriptPath, 'utf8'), /^trap cleanup_on_error ERR$/m, 'the engine applied the hardening');
  });
  after(async () => {
    await inc?.cleanup();
  });

  test('a real failing dump (no USAGE on sandbox_tac) is caught: partial file removed, exit 1, DOWN pushed', async () => {
    const b = await backup(inc, { extra: { CHECK_USAGE: '0' } });
    assert.equal(b.run.exitCode, 1, b.run.stderr);
    assert.match(b.run.stderr, /permission denied for schema sandbox_tac/);
    assert.match(b.run.stderr, /partial dump removed: .*\.sql\.gz\.raw/);
    assert.deepEqual(b.created, [], 'neither the .sql.gz nor the .raw is left');
    assert.deepEqual(pushes(b), [`${KUMA_PATH} down backup_failed_rc1`]);
  });

  test('the USAGE pre-flight refuses before dumping: exit 2 naming the schema, nothing left, DOWN pushed', async () => {
    const b = await backup(inc);
    assert.equal(b.run.exitCode, 2, b.run.stderr);
    assert.match(b.run.stderr, new RegExp(`${inc.dumpRole} lacks USAGE on schema\\(s\\): sandbox_tac`));
    assert.deepEqual(b.created, []);
    assert.deepEqual(pushes(b), [`${KUMA_PATH} down backup_failed_rc2`]);
  });

  test('a good dump (as a role that reads everything) keeps the file, passes the audit and pushes UP', async () => {
    const b = await backup(inc, { dbUser: server.user });
    assert.equal(b.run.exitCode, 0, b.run.stderr);
    assert.deepEqual(b.created, [b.file.split('/').at(-1)], 'exactly the backup, no .raw');
    assert.ok((await stat(b.file)).size > 1024);
    const f = (await auditBackupDir(inc.backupDir)).files.find((x) => x.path === b.file);
    assert.equal(f?.verdict, 'good', f?.reasons.join('; '));
    assert.equal(copyRows(gunzipSync(await readFile(b.file)).toString('utf8'), 'sandbox_tac.unit_version'), 76);
    assert.deepEqual(pushes(b), [`${KUMA_PATH} up OK`]);
  });

  test('C1 applied on top of D: the script dumps with --exclude-schema and backs up as the dump role', async () => {
    await applyBundle(inc, ['C1']); // D is applied already: the companion is met through the ledger
    const script = await readFile(inc.scriptPath, 'utf8');
    assert.match(script, /^ {2}--exclude-schema=sandbox_tac \\$/m);
    assert.match(script, /AND n\.nspname <> 'sandbox_tac'/);
    const b = await backup(inc); // the dump role still has no USAGE on sandbox_tac
    assert.equal(b.run.exitCode, 0, b.run.stderr);
    assert.equal(b.created.length, 1);
    const sql = gunzipSync(await readFile(b.file)).toString('utf8');
    assert.match(sql, /PostgreSQL database dump complete/);
    assert.doesNotMatch(sql, /sandbox_tac/, 'the schema is left out of the dump');
    assert.equal(copyRows(sql, 'public.directus_activity'), 2000, "the application's data is in it");
    assert.equal((await auditBackupDir(inc.backupDir)).status, 'good');
    assert.deepEqual(pushes(b), [`${KUMA_PATH} up OK`]);
  });
});

describe('A + D on the incident database', () => {
  let inc: Incident;
  before(async () => {
    inc = await createIncident('demo_ad');
    // the incident first: the pre-hardening script leaves its 20-byte artefact
    const broken = await backup(inc);
    assert.notEqual(broken.run.exitCode, 0);
    assert.equal(broken.created.length, 1);
    assert.deepEqual(pushes(broken), []);
    await applyBundle(inc, ['A', 'D']);
  });
  after(async () => {
    await inc?.cleanup();
  });

  test('the backup succeeds end to end as the dump role: > 1 KiB, every row of sandbox_tac, audit good, UP', async () => {
    const b = await backup(inc);
    assert.equal(b.run.exitCode, 0, b.run.stderr);
    assert.equal(b.created.length, 1, `exactly the backup, no .raw: ${b.created.join(', ')}`);
    assert.ok((await stat(b.file)).size > 1024);
    const sql = gunzipSync(await readFile(b.file)).toString('utf8');
    for (const [table, rows] of [
      ['unit_version', 76],
      ['logical_unit', 76],
      ['publication_member', 76],
      ['section_type_vocab', 11],
      ['publication', 3],
    ] as const) {
      assert.equal(copyRows(sql, `sandbox_tac.${table}`), rows, table);
    }
    const a = await auditBackupDir(inc.backupDir);
    assert.equal(a.status, 'good');
    assert.equal(a.lastGood?.path, b.file);
    assert.equal(a.latestBroken?.bytes, 20, "the incident's artefact stays on record");
    assert.deepEqual(pushes(b), [`${KUMA_PATH} up OK`]);
  });

  test('a forced dump failure afterwards leaves no artefact, keeps the earlier backups and pushes DOWN', async () => {
    const b = await backup(inc, { extra: { PG_DUMP_CMD: 'false' } });
    assert.equal(b.run.exitCode, 1, b.run.stderr);
    assert.match(b.run.stderr, /backup failed \(rc=1\)/);
    assert.deepEqual(b.created, []);
    assert.deepEqual(b.removed, []);
    assert.deepEqual(pushes(b), [`${KUMA_PATH} down backup_failed_rc1`]);
  });
});
