/**
 * Walks the five seed DOTs step by step against a real PostgreSQL (SQL through psql, commands as
 * argv), to prove their content does what the seed says: every hard stop and pre-check passes on
 * the incident's state, the diff changes it, the post-verify proves the change, the rollback
 * returns to the reviewed state — and the checks that guard against a wrong state do refuse it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dot, Section } from '../../src/catalogue/schema.js';
import { adminClient, createScratchDb, createScratchRole, dropScratchRoles, uniqueName, type ScratchDb } from '../helpers/pg.js';
import { DOTS_DIR, failures, psql, readDot, run, runStep, walkSection, type StepOutcome, type WalkTarget } from './walk.js';

const SCHEMA = 'sandbox_tac';
const ROWS = 2000;
const PASSWORD_ENV = 'DOTCTL_SECRET_BACKUP_ROLE_PASSWORD';

let db: ScratchDb | undefined;
let owner = '';
let dumpRole = '';
let backupRole = '';
let tmp = '';
let backupDir = '';
let archiveDir = '';

before(async () => {
  for (const tool of ['shellcheck', 'pg_dump', 'pg_restore', 'psql', 'patch']) {
    const r = await run([tool, '--version']);
    assert.equal(r.code, 0, `${tool} is not usable: ${r.stderr}`);
  }
  owner = await createScratchRole('owner');
  dumpRole = await createScratchRole('dump', { login: true });
  backupRole = uniqueName('backup'); // created by DOT-PG-NEW-ROLE itself
  db = await createScratchDb('walk');
  const c = await adminClient(db.name);
  try {
    await c.query(`CREATE TABLE public.directus_activity (id serial PRIMARY KEY, action text NOT NULL)`);
    await c.query(`INSERT INTO public.directus_activity (action) SELECT 'login ' || g FROM generate_series(1, 100) g`);
    await c.query(`ALTER TABLE public.directus_activity OWNER TO "${dumpRole}"`);
  } finally {
    await c.end();
  }
  await createIncidentSchema();
  tmp = await mkdtemp(join(tmpdir(), 'dotctl-walk-'));
  backupDir = join(tmp, 'backups');
  archiveDir = join(tmp, 'archive');
  await mkdir(backupDir, { mode: 0o700 });
  await mkdir(archiveDir, { mode: 0o700 });
  process.env[PASSWORD_ENV] = 'walk-secret-Pa55';
});

after(async () => {
  delete process.env[PASSWORD_ENV];
  if (db) await db.drop();
  await dropScratchRoles([owner, dumpRole, backupRole].filter(Boolean));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** seed §1.3: the schema, owned by workflow_admin, with tables, functions, a trigger and data; no grant to the dump role. */
async function createIncidentSchema(): Promise<void> {
  const c = await adminClient(db?.name);
  try {
    await c.query(`CREATE SCHEMA ${SCHEMA} AUTHORIZATION "${owner}"`);
    await c.query(`SET ROLE "${owner}"`);
    await c.query(`CREATE TABLE ${SCHEMA}.logical_unit (id serial PRIMARY KEY, code text NOT NULL UNIQUE)`);
    await c.query(
      `CREATE TABLE ${SCHEMA}.unit_version (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, unit_id int NOT NULL REFERENCES ${SCHEMA}.logical_unit (id), body text NOT NULL, touched timestamptz)`,
    );
    await c.query(`CREATE FUNCTION ${SCHEMA}.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.touched := now(); RETURN NEW; END$$`);
    await c.query(`CREATE TRIGGER unit_version_touch BEFORE INSERT ON ${SCHEMA}.unit_version FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.touch()`);
    await c.query(`INSERT INTO ${SCHEMA}.logical_unit (code) SELECT 'u' || g FROM generate_series(1, 10) g`);
    await c.query(`INSERT INTO ${SCHEMA}.unit_version (unit_id, body) SELECT 1 + g % 10, md5(g::text) FROM generate_series(1, ${ROWS}) g`);
    await c.query('RESET ROLE');
  } finally {
    await c.end();
  }
}

async function admin(sql: string): Promise<void> {
  const c = await adminClient(db?.name);
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Parameter values: the DOT's defaults, overridden for the scratch target. */
function target(dot: Dot, overrides: Record<string, string> = {}): WalkTarget {
  const scratch: Record<string, string> = {
    expected_host: hostname(),
    schema: SCHEMA,
    dump_role: dumpRole,
    owner_role: owner,
    database: db?.name ?? '',
    backup_dir: backupDir,
    archive_dir: archiveDir,
    ...overrides,
  };
  const params: Record<string, string> = {};
  for (const [name, p] of Object.entries(dot.params)) {
    const v = p.type === 'secret' ? process.env[p.env ?? ''] : (scratch[name] ?? (p.default === undefined ? undefined : String(p.default)));
    assert.ok(v !== undefined, `no value for parameter ${name} of ${dot.id}`);
    params[name] = v;
  }
  return { database: db?.name ?? '', params };
}

async function passes(dot: Dot, t: WalkTarget, sections: readonly Section[]): Promise<StepOutcome[]> {
  const all: StepOutcome[] = [];
  for (const s of sections) {
    const o = await walkSection(dot, s, t, true);
    assert.equal(failures(o), '', `${dot.id} ${s} must pass`);
    all.push(...o);
  }
  return all;
}

async function failingSteps(dot: Dot, t: WalkTarget, section: Section): Promise<string[]> {
  return (await walkSection(dot, section, t, true)).filter((o) => !o.ok).map((o) => o.name);
}

async function scriptCopy(from: string, name: string): Promise<string> {
  const path = join(tmp, name);
  await copyFile(from, path);
  await chmod(path, 0o755);
  return path;
}

test('A (DOT-PG-GRANT-SCHEMA): grants make the dump pass, the rollback returns to the reviewed state', async () => {
  const dot = await readDot('DOT-PG-GRANT-SCHEMA');
  const t = target(dot);
  await passes(dot, t, ['hard_stops', 'pre_check']);
  assert.deepEqual(
    await failingSteps(dot, t, 'post_verify'),
    [
      'Dump role has USAGE on the schema',
      'No table the dump role cannot read',
      'No sequence the dump role cannot read',
      'Default privileges cover tables and sequences',
      'Smoke pg_dump of the schema as the dump role',
    ],
    'before the diff, the post-verify sees the incident',
  );
  await passes(dot, t, ['diff', 'post_verify']);

  // A table created later by the owner is readable too (default privileges, seed §4.1 cons).
  await admin(`SET ROLE "${owner}"; CREATE TABLE ${SCHEMA}.change_set (id bigserial PRIMARY KEY); RESET ROLE`);
  await passes(dot, t, ['post_verify']);
  await admin(`DROP TABLE ${SCHEMA}.change_set`);

  await passes(dot, t, ['rollback']);
  await passes(dot, t, ['pre_check']); // symmetric: the same state the proposal was reviewed against
});

test('B (DOT-PG-NEW-ROLE): the backup role is created, dumps everything, and is dropped again', async () => {
  const dot = await readDot('DOT-PG-NEW-ROLE');
  const script = await scriptCopy('examples/pg-backup.sh', 'b-pg-backup.sh');

  // The static patch names backup_role, so the guard refuses any other name...
  const guard = dot.pre_check.find((s) => s.name === 'Role name matches the script patch');
  assert.ok(guard);
  assert.equal((await runStep('pre_check', guard, target(dot, { role_name: backupRole, script_path: script }))).ok, false);
  // ...and the seed's own name is refused, as PostgreSQL itself would.
  const reserved = dot.pre_check.find((s) => s.name === 'Role name is not reserved');
  assert.ok(reserved);
  assert.equal((await runStep('pre_check', reserved, target(dot, { role_name: 'pg_backup_role', script_path: script }))).ok, false);
  const create = await psql(db?.name ?? '', 'CREATE ROLE pg_backup_role', {});
  assert.match(create.error, /role name "pg_backup_role" is reserved/);

  // Walk it with a scratch role (role names are cluster-wide): the one static name, in the
  // patch and its guard, is rewritten consistently to the scratch name.
  const diffText = (await readFile(join(DOTS_DIR, 'DOT-PG-NEW-ROLE.dbuser.diff'), 'utf8')).replaceAll('backup_role', backupRole);
  const rename = (steps: Dot['diff']): Dot['diff'] =>
    steps.map((s) => {
      if (s.kind === 'patch') return { ...s, diff: diffText, diff_file: undefined };
      if (s === guard && s.kind === 'sql') return { ...s, expect: { kind: 'value' as const, equals: backupRole } };
      return s;
    });
  const scratchDot: Dot = { ...dot, pre_check: rename(dot.pre_check), diff: rename(dot.diff), rollback: rename(dot.rollback) };
  const t = target(dot, { role_name: backupRole, script_path: script });

  await passes(scratchDot, t, ['hard_stops', 'pre_check', 'diff', 'post_verify']);
  assert.match(await readFile(script, 'utf8'), new RegExp(`^DB_USER="\\$\\{DB_USER:-${backupRole}\\}"$`, 'm'));
  await passes(scratchDot, t, ['rollback']);
  assert.equal(await readFile(script, 'utf8'), await readFile('examples/pg-backup.sh', 'utf8'));
  assert.deepEqual((await psql(db?.name ?? '', `SELECT 1 FROM pg_roles WHERE rolname = :'r'`, { r: backupRole })).rows, []);
});

test('C1 (DOT-PG-BACKUP-EXCLUDE-SCHEMA): needs D first, excludes the schema, reverts cleanly', async () => {
  const dot = await readDot('DOT-PG-BACKUP-EXCLUDE-SCHEMA');
  // Written against the hardened script: without D first, the patch does not apply.
  const unhardened = await scriptCopy('examples/pg-backup.sh', 'c1-unhardened.sh');
  assert.deepEqual(await failingSteps(dot, target(dot, { script_path: unhardened }), 'diff'), ['Add --exclude-schema to pg_dump']);
  assert.equal(await readFile(unhardened, 'utf8'), await readFile('examples/pg-backup.sh', 'utf8'), 'nothing changed');

  const script = await scriptCopy('examples/pg-backup.hardened.sh', 'c1-pg-backup.sh');
  const t = target(dot, { script_path: script });
  // The dump role still has no USAGE on sandbox_tac: the smoke dump passes only because of the exclusion.
  await passes(dot, t, ['hard_stops', 'pre_check', 'diff', 'post_verify']);
  await passes(dot, t, ['rollback']);
  assert.equal(await readFile(script, 'utf8'), await readFile('examples/pg-backup.hardened.sh', 'utf8'));
});

test('C2 (DOT-PG-DROP-SCHEMA): refuses dependents and exposure, archives, drops, restores', async () => {
  const dot = await readDot('DOT-PG-DROP-SCHEMA');
  const t = target(dot);
  const dependency = 'No outside object depends on the schema';
  const exposure = 'Schema is not exposed through Directus';

  // The Directus catalog does not exist on this target: the exposure check still runs.
  await passes(dot, t, ['hard_stops', 'pre_check']);

  // seed §1.5: an object outside the schema that CASCADE would take with it.
  await admin(`CREATE VIEW public.unit_report AS SELECT u.id FROM ${SCHEMA}.unit_version u`);
  await admin(`CREATE TABLE public.unit_ref (unit_id int REFERENCES ${SCHEMA}.logical_unit (id))`);
  assert.deepEqual(await failingSteps(dot, t, 'pre_check'), [dependency]);
  const offending = (await walkSection(dot, 'pre_check', t, true)).find((o) => o.name === dependency)?.detail ?? '';
  assert.match(offending, /rule \\"_RETURN\\" on public\.unit_report/, 'the view');
  assert.match(offending, /table constraint unit_ref_unit_id_fkey on public\.unit_ref/);
  await admin('DROP VIEW public.unit_report; DROP TABLE public.unit_ref');

  // seed §1.6: a Directus collection bound to one of its tables.
  await admin(`CREATE TABLE public.directus_collections (collection varchar(64) PRIMARY KEY)`);
  await admin(`ALTER TABLE public.directus_collections OWNER TO "${dumpRole}"`);
  await admin(`INSERT INTO public.directus_collections VALUES ('directus_users'), ('unit_version')`);
  assert.deepEqual(await failingSteps(dot, t, 'pre_check'), [exposure]);
  await admin(`DELETE FROM public.directus_collections WHERE collection = 'unit_version'`);
  await passes(dot, t, ['pre_check']);

  await passes(dot, t, ['diff', 'post_verify']);
  await passes(dot, t, ['rollback']);
  const count = await psql(db?.name ?? '', `SELECT count(*) FROM ${SCHEMA}.unit_version`, {});
  assert.deepEqual(count.rows, [[String(ROWS)]], 'every row is back from the archive');
  // The archive is never overwritten by a second run.
  assert.deepEqual(await failingSteps(dot, t, 'pre_check'), ['No archive of the schema yet']);
  await rm(join(archiveDir, `${SCHEMA}_archive.dump`));
});

test('D (DOT-BACKUP-SCRIPT-HARDEN): the post-verify tells the hardened script from the old one', async () => {
  const dot = await readDot('DOT-BACKUP-SCRIPT-HARDEN');
  const script = await scriptCopy('examples/pg-backup.sh', 'd-pg-backup.sh');
  const t = target(dot, { script_path: script });

  await chmod(script, 0o757);
  assert.deepEqual(await failingSteps(dot, t, 'hard_stops'), ['Backup script is safe to patch']);
  await chmod(script, 0o755);
  await passes(dot, t, ['hard_stops', 'pre_check']);

  // The unhardened script fails the rehearsal the incident's way: a 20-byte file stays.
  const before = await failingSteps(dot, t, 'post_verify');
  assert.ok(before.includes('A failing pg_dump fires the trap'), before.join(', '));
  assert.ok(before.includes('No artefact left by the failed run'), before.join(', '));
  const leftover = join(backupDir, 'dotctl-post-verify.sql.gz');
  assert.equal((await stat(leftover)).size, 20);
  await rm(leftover);

  await passes(dot, t, ['diff', 'post_verify']);
  assert.equal(await readFile(script, 'utf8'), await readFile('examples/pg-backup.hardened.sh', 'utf8'));
  assert.equal((await stat(script)).mode & 0o777, 0o755, 'the patch keeps the mode');
  await passes(dot, t, ['rollback']);
  assert.equal(await readFile(script, 'utf8'), await readFile('examples/pg-backup.sh', 'utf8'));
});
