/**
 * `dotctl test`, the rollback proof, through the built CLI on a real incident: each of the five
 * seed DOTs passes (C2 through its archive restore, B creating and dropping a cluster-wide role),
 * the real target and script are never touched, the result is logged as `tested` bound to the
 * DOT's content hash, and a DOT whose rollback forgets a default privilege fails with a readable
 * difference.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, copyFile, readFile, writeFile, chmod } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { createIncident, paramsFor, type Incident } from '../helpers/incident.js';
import { adminClient, uniqueName } from '../helpers/pg.js';

let inc: Incident;
let scriptSha = '';
const sha = async (p: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');

before(async () => {
  inc = await createIncident('proof');
  scriptSha = await sha(inc.scriptPath);
});
after(async () => inc?.cleanup());

function dotctl(args: readonly string[], dots = resolve('dots'), env: Record<string, string> = {}): ReturnType<typeof runCli> {
  return runCli(['--dots', dots, '--ledger', inc.ledger, '--identities', inc.identities, '--target', inc.db.url, '--key', inc.operator.key, ...args], { cwd: inc.dir, env });
}

async function privateDots(label: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(inc.dir, label);
  await cp(resolve('dots'), dir, { recursive: true });
  await edit(dir);
  return dir;
}

async function replaceIn(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  assert.ok(text.includes(from), `${file} should contain ${from}`);
  await writeFile(file, text.replace(from, to));
}

async function targetUntouched(): Promise<void> {
  const c = await adminClient(inc.db.name);
  try {
    const r = await c.query(`SELECT has_schema_privilege($1, 'sandbox_tac', 'USAGE') AS usage, (SELECT count(*)::int FROM pg_default_acl) AS defacl`, [inc.dumpRole]);
    assert.equal(r.rows[0]?.usage, false, 'the real target was changed');
    assert.equal(r.rows[0]?.defacl, 0, 'the real target got default privileges');
  } finally {
    await c.end();
  }
  assert.equal(await sha(inc.scriptPath), scriptSha, 'the real script was changed');
}

for (const ref of ['A', 'D', 'C2'] as const) {
  test(`dotctl test ${ref}: the rollback restores the before-state and the DOT applies again (exit 0)`, async () => {
    const r = dotctl(['test', ref, ...(await paramsFor(inc, [ref]))]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok {3}compare: the rollback restored the before-state exactly/);
    assert.match(r.stdout, /ok {3}apply again/);
    assert.match(r.stdout, /PASSED/);
    await targetUntouched();
  });
}

test("dotctl test C1 on an already hardened script (its diff applies to D's result)", async () => {
  const hardened = join(inc.dir, 'scripts', 'hardened.sh');
  await copyFile(resolve('examples/pg-backup.hardened.sh'), hardened);
  await chmod(hardened, 0o755);
  const before = await sha(hardened);
  const r = dotctl(['test', 'C1', ...(await paramsFor(inc, ['C1'], { script_path: hardened }))]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /1 file\(s\) compared/);
  assert.equal(await sha(hardened), before, 'dotctl test patched the real script');
});

test('dotctl test B: the cluster-wide role is created and dropped again; none is left on the server', async () => {
  const role = uniqueName('proofrole');
  inc.extraRoles.push(role);
  const dots = await privateDots('dots-b', async (dir) => {
    await replaceIn(join(dir, 'DOT-PG-NEW-ROLE.yaml'), 'expect: { kind: value, equals: backup_role }', `expect: { kind: value, equals: ${role} }`);
    await replaceIn(join(dir, 'DOT-PG-NEW-ROLE.dbuser.diff'), '+DB_USER="${DB_USER:-backup_role}"', `+DB_USER="\${DB_USER:-${role}}"`);
  });
  const r = dotctl(['test', 'B', ...(await paramsFor(inc, ['B'], { role_name: role }))], dots, { DOTCTL_SECRET_BACKUP_ROLE_PASSWORD: 'pw-proof' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const c = await adminClient();
  try {
    assert.equal((await c.query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [role])).rows[0]?.n, 0);
  } finally {
    await c.end();
  }
});

test('a rollback that forgets a default privilege fails (exit 4) naming what is left behind', async () => {
  const dots = await privateDots('dots-forgetful', async (dir) => {
    await replaceIn(
      join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'),
      `  - kind: sql
    name: Drop default SELECT on future tables
    sql: ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA :"schema" REVOKE SELECT ON TABLES FROM :"dump_role"
`,
      '',
    );
  });
  const r = dotctl(['test', 'A', ...(await paramsFor(inc, ['A']))], dots);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stdout, /FAIL compare: 1 difference\(s\) from the before-state/);
  assert.ok(r.stdout.includes(`+ default privileges for ${inc.ownerRole} in schema sandbox_tac on tables: left behind after the rollback (acl=${inc.dumpRole}=r/${inc.ownerRole})`), r.stdout);
  assert.match(r.stdout, /FAILED/);
  await targetUntouched();
});

test('each result is in the action log as "tested", bound to the DOT\'s content hash', async () => {
  const r = runCli(['--ledger', inc.ledger, 'log', '--event', 'tested', '--json'], { cwd: inc.dir });
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l)) as { dot_id: string; outcome: string; actor: string; detail: { content_hash: string } }[];
  const a = rows.filter((x) => x.dot_id === 'DOT-PG-GRANT-SCHEMA');
  assert.deepEqual(
    a.map((x) => x.outcome),
    ['passed', 'failed'],
  );
  assert.notEqual(a[0]?.detail.content_hash, a[1]?.detail.content_hash, 'the forgetful variant is other content');
  const adm = runCli(['--dots', resolve('dots'), '--ledger', inc.ledger, 'admissions', 'A', '--json'], { cwd: inc.dir });
  assert.equal(adm.code, 0, adm.stderr);
  const status = JSON.parse(adm.stdout) as { statuses: { content_hash: string }[] };
  assert.equal(a[0]?.detail.content_hash, status.statuses[0]?.content_hash);
  assert.equal(a[0]?.actor, 'olga');
});
