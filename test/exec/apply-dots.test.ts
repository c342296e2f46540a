/**
 * The five seed DOTs applied for real through the CLI — propose (olga), approve (rita; rita and
 * raj for the irreversible C2), apply by another operator (omar) — each on a fresh scratch
 * incident, asserting the effect a user would check by hand afterwards: the privilege, a real
 * pg_dump that now works, the script's bytes and a real run of it, the archive and the restore.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { uniqueName } from '../helpers/pg.js';
import { createWalk, listDir, modeOf, passDrill, pgFlags, privateDots, privileges, replaceIn, run, scramMatches, schemaRows, sha256, type Walk } from './harness.js';

/** The incident's dump role runs the backup script against the test server (no Docker). */
function scriptEnv(w: Walk, file: string): Record<string, string> {
  const u = new URL(w.inc.db.url);
  const server = `-h ${u.hostname} -p ${u.port || '5432'}`;
  return {
    PG_DUMP_CMD: `pg_dump ${server}`,
    PSQL_CMD: `psql ${server}`,
    DB_USER: w.inc.dumpRole,
    DB_NAME: w.inc.db.name,
    BACKUP_DIR: w.inc.backupDir,
    BACKUP_FILE: join(w.inc.backupDir, file),
    KUMA_PUSH_URL: 'http://127.0.0.1:9/dotctl-test',
  };
}

/** Data in public owned by the dump role, so a dump without sandbox_tac is still a real backup (> 1 KiB). */
async function addAppData(w: Walk): Promise<void> {
  await w.exec(`CREATE TABLE public.directus_activity (id serial PRIMARY KEY, action text NOT NULL)`);
  await w.exec(`INSERT INTO public.directus_activity (action) SELECT md5(g::text) FROM generate_series(1, 300) g`);
  await w.exec(`ALTER TABLE public.directus_activity OWNER TO "${w.inc.dumpRole}"`);
}

function applied(w: Walk, id: string): void {
  const r = w.cli(w.inc.operator2, ['apply', id]);
  assert.equal(r.code, 0, `apply failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, new RegExp(`${id} applied: `));
  assert.equal(w.state(id), 'applied');
  assert.equal(w.events(id).filter((e) => e.event === 'applied').length, 1);
}

describe('A + D: grant the dump role read access, harden the script', () => {
  let w: Walk;
  let id = '';
  let original = '';
  before(async () => {
    w = await createWalk('x_ad');
    original = await sha256(w.inc.scriptPath);
  });
  after(async () => w?.inc.cleanup());

  test('before: pg_dump of sandbox_tac as the dump role fails the way the seed says', () => {
    const r = run(['pg_dump', ...pgFlags(w), `--role=${w.inc.dumpRole}`, '-n', 'sandbox_tac', '-f', '/dev/null']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /permission denied for schema sandbox_tac/);
  });

  test('propose → approve → apply by another operator: exit 0', async () => {
    id = await w.propose(['A', 'D']);
    w.approve(id);
    applied(w, id);
  });

  test('the dump role has USAGE and a pg_dump of the schema as that role now succeeds with its data', async () => {
    assert.equal(await w.scalar(`SELECT has_schema_privilege($1, 'sandbox_tac', 'USAGE')`, [w.inc.dumpRole]), true);
    const r = run(['pg_dump', ...pgFlags(w), `--role=${w.inc.dumpRole}`, '-n', 'sandbox_tac', '--no-owner']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /COPY sandbox_tac\.unit_version /);
    assert.match(r.stdout, /SELECT pg_catalog\.setval\('sandbox_tac\.publication_id_seq', 3, true\)/);
  });

  test('a table created later by the owner is readable too (default privileges)', async () => {
    await w.exec(`SET ROLE "${w.inc.ownerRole}"; CREATE TABLE sandbox_tac.added_later (id serial PRIMARY KEY); RESET ROLE`);
    const r = run(['pg_dump', ...pgFlags(w), `--role=${w.inc.dumpRole}`, '-n', 'sandbox_tac', '-f', '/dev/null']);
    assert.equal(r.code, 0, r.stderr);
    await w.exec(`DROP TABLE sandbox_tac.added_later`);
  });

  test('the script is hardened, mode kept', async () => {
    const text = await readFile(w.inc.scriptPath, 'utf8');
    assert.match(text, /^trap cleanup_on_error ERR$/m);
    assert.equal(await modeOf(w.inc.scriptPath), '755');
  });

  test('applying it again is refused: a proposal is applied once (exit 3)', () => {
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /is applied; only a proposed \(or interrupted\) proposal can be applied/);
  });

  test('dotctl rollback revokes every grant and restores the original script bytes', async () => {
    const r = w.cli(w.inc.operator2, ['rollback', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await privileges(w, w.inc.dumpRole), 'usage=false readable=0 default_acls=0');
    assert.equal(await sha256(w.inc.scriptPath), original);
    assert.equal(w.state(id), 'rolled_back');
  });
});

describe('B + D: a dedicated backup role whose password comes from the environment', () => {
  let w: Walk;
  let id = '';
  let role = '';
  const password = `pw-${Math.random().toString(36).slice(2)}-'q"`;
  const env = { DOTCTL_SECRET_BACKUP_ROLE_PASSWORD: password };
  const outputs: string[] = [];
  before(async () => {
    w = await createWalk('x_bd');
    role = uniqueName('backup');
    w.inc.extraRoles.push(role); // cluster-wide: dropped by cleanup whatever happens
    // the seed's static patch writes backup_role (and a pre-check pins it); a private catalogue
    // with a unique name keeps concurrent test runs on this server apart
    w.dots = await privateDots(w, 'dots-b', async (dir) => {
      await replaceIn(join(dir, 'DOT-PG-NEW-ROLE.yaml'), 'expect: { kind: value, equals: backup_role }', `expect: { kind: value, equals: ${role} }`);
      await replaceIn(join(dir, 'DOT-PG-NEW-ROLE.dbuser.diff'), '+DB_USER="${DB_USER:-backup_role}"', `+DB_USER="\${DB_USER:-${role}}"`);
    });
  });
  after(async () => w?.inc.cleanup());

  test('an apply without the secret in the environment is refused naming the variable (exit 2), nothing changes', async () => {
    id = await w.propose(['B', 'D'], { role_name: role });
    w.approve(id);
    const r = w.cli(w.inc.operator2, ['apply', id], { DOTCTL_SECRET_BACKUP_ROLE_PASSWORD: undefined });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /secret parameter password needs the environment variable DOTCTL_SECRET_BACKUP_ROLE_PASSWORD/);
    assert.equal(await w.scalar(`SELECT count(*)::int FROM pg_roles WHERE rolname = $1`, [role]), 0);
    assert.equal(w.state(id), 'proposed');
  });

  test('apply: the role exists, can log in, is a member of pg_read_all_data, with the password from the env', async () => {
    const r = w.cli(w.inc.operator2, ['apply', id], env);
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await w.scalar(`SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, [role]), true);
    assert.equal(await w.scalar(`SELECT pg_has_role($1, 'pg_read_all_data', 'MEMBER')`, [role]), true);
    const verifier = String(await w.scalar(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [role]));
    assert.ok(scramMatches(verifier, password), `the stored verifier ${verifier.slice(0, 30)}… is not of the env password`);
    assert.ok(!scramMatches(verifier, 'something else'));
  });

  test('a pg_dump logged in as the new role dumps everything, sandbox_tac included', () => {
    const flags = pgFlags(w);
    flags[flags.indexOf('-U') + 1] = role;
    const r = run(['pg_dump', ...flags, '--no-password', '--no-owner'], { PGPASSWORD: password });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /COPY sandbox_tac\.logical_unit /);
  });

  test('the script dumps as the new role', async () => {
    assert.match(await readFile(w.inc.scriptPath, 'utf8'), new RegExp(`^DB_USER="\\$\\{DB_USER:-${role}\\}"$`, 'm'));
  });

  test('the registry entry (Đ37 §5) is in the applied event', () => {
    const ev = w.events(id).find((e) => e.event === 'applied');
    assert.deepEqual(
      (ev?.detail.registry as Record<string, unknown>[] | undefined)?.map((x) => [x.dot, x.artefact, x.name]),
      [['DOT-PG-NEW-ROLE', 'role', role]],
    );
    assert.match(String((ev?.detail.registry as { purpose: string }[] | undefined)?.[0]?.purpose), /nightly logical backup/);
  });

  test('the password appears nowhere: not in the ledger file, the proposals, the log or any output', async () => {
    const st = w.cli(null, ['status', id, '--json']);
    const log = w.cli(null, ['log', '--json']);
    outputs.push(st.stdout, log.stdout);
    const ledgerBytes = await readFile(w.inc.ledger);
    const files = [w.inc.ledger, ...(await readdir(join(w.inc.dir, 'proposals'))).map((f) => join(w.inc.dir, 'proposals', f))];
    assert.ok(files.length >= 3);
    for (const f of files) assert.ok(!(await readFile(f)).includes(Buffer.from(password)), `${f} holds the password`);
    for (const suffix of ['-wal', '-journal']) {
      const extra = await readFile(w.inc.ledger + suffix).catch(() => null);
      if (extra) assert.ok(!extra.includes(Buffer.from(password)), `ledger${suffix} holds the password`);
    }
    assert.ok(ledgerBytes.length > 0);
    for (const o of outputs) assert.ok(!o.includes(password), 'an output holds the password');
  });

  test('dotctl rollback drops the role and puts the script back', async () => {
    const r = w.cli(w.inc.operator2, ['rollback', id], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await w.scalar(`SELECT count(*)::int FROM pg_roles WHERE rolname = $1`, [role]), 0);
    assert.ok(!(await readFile(w.inc.scriptPath, 'utf8')).includes(role));
  });
});

describe('C1 + D: leave sandbox_tac out of the backup', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('x_c1');
    await addAppData(w);
  });
  after(async () => w?.inc.cleanup());

  test('before: the unhardened script fails and leaves the seed\'s 20-byte "valid" gzip behind', async () => {
    const r = run(['bash', w.inc.scriptPath], scriptEnv(w, 'before.sql.gz'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /permission denied for schema sandbox_tac/);
    assert.equal((await stat(join(w.inc.backupDir, 'before.sql.gz'))).size, 20);
    await chmod(join(w.inc.backupDir, 'before.sql.gz'), 0o600);
  });

  test('apply C1 + D: the script excludes the schema; a real run succeeds and its dump lacks sandbox_tac', async () => {
    const id = await w.propose(['C1', 'D']);
    w.approve(id);
    applied(w, id);
    const text = await readFile(w.inc.scriptPath, 'utf8');
    assert.match(text, /^ {2}--exclude-schema=sandbox_tac \\$/m);
    const r = run(['bash', w.inc.scriptPath], scriptEnv(w, 'after.sql.gz'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK size=\d+ bytes, gzip integrity verified/);
    const dump = gunzipSync(await readFile(join(w.inc.backupDir, 'after.sql.gz'))).toString('utf8');
    assert.match(dump, /COPY public\.directus_activity /);
    assert.doesNotMatch(dump, /sandbox_tac/);
  });
});

describe('C2 + D: archive and drop sandbox_tac (irreversible), then restore it', () => {
  let w: Walk;
  let id = '';
  const archive = (): string => join(w.inc.archiveDir, 'sandbox_tac_archive.dump');
  before(async () => {
    w = await createWalk('x_c2');
  });
  after(async () => w?.inc.cleanup());

  test('apply after two approvals and a passing restore drill: the archive exists (0600, sha256 in the log), the schema is gone', async () => {
    assert.equal(await schemaRows(w), 243);
    await passDrill(w);
    id = await w.propose(['C2', 'D']);
    w.approve(id, true);
    applied(w, id);
    assert.equal(await schemaRows(w), null);
    assert.equal(await modeOf(archive()), '600');
    const logged = w.events(id).find((e) => e.event === 'step_passed' && e.detail.kind === 'archive');
    assert.equal(logged?.detail.sha256, await sha256(archive()));
    assert.equal(logged?.detail.table_data, 8);
    const toc = run(['pg_restore', '--list', archive()]);
    assert.equal(toc.code, 0, toc.stderr);
    assert.equal((toc.stdout.match(/ TABLE DATA sandbox_tac /g) ?? []).length, 8);
  });

  test('a rollback is gated: a reviewer may not run it (exit 3)', () => {
    const r = w.cli(w.inc.reviewer1, ['rollback', id]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /rita is not an operator and may not roll back/);
  });

  test('rollback, five hours later (past the 4 h approval TTL), restores the schema from the archive with all 243 rows and its owner', async () => {
    // the dual control of the restore is judged as of the apply, so expired approvals do not lock it out
    const { rollbackProposal } = await import('../../src/engine.js');
    const later = new Date(Date.now() + 5 * 3_600_000);
    const r = await rollbackProposal({ dots: resolve('dots'), ledger: w.inc.ledger, target: w.inc.db.url, identities: w.inc.identities, key: w.inc.operator2.key, now: () => later }, id);
    assert.equal(r.outcome, 'rolled_back', r.message);
    assert.ok(
      r.steps.some((st) => /restored \d+ entries from .*sandbox_tac_archive\.dump/.test(st.observed)),
      JSON.stringify(r.steps),
    );
    assert.equal(await schemaRows(w), 243);
    assert.equal(await w.scalar(`SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'sandbox_tac'`), w.inc.ownerRole);
    assert.equal(await w.scalar(`SELECT sandbox_tac.unit_count()`), '76');
    assert.equal(w.state(id), 'rolled_back');
  });
});

describe('D alone: harden the script, then roll it back to the original bytes', () => {
  let w: Walk;
  let id = '';
  let original = '';
  before(async () => {
    w = await createWalk('x_d');
    original = await sha256(w.inc.scriptPath);
  });
  after(async () => w?.inc.cleanup());

  test('apply: the script is exactly the hardened version, mode 755 kept', async () => {
    id = await w.propose(['D']);
    w.approve(id);
    applied(w, id);
    assert.equal(await sha256(w.inc.scriptPath), await sha256(resolve('examples/pg-backup.hardened.sh')));
    assert.equal(await modeOf(w.inc.scriptPath), '755');
    assert.deepEqual(await listDir(join(w.inc.dir, 'scripts')), ['pg-backup.sh'], 'no temp file left next to the script');
  });

  test('the hardened script, run as the dump role without USAGE, fails loudly and leaves no file', async () => {
    const before = await listDir(w.inc.backupDir);
    const r = run(['bash', w.inc.scriptPath], scriptEnv(w, 'night.sql.gz'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${w.inc.dumpRole} lacks USAGE on schema\\(s\\): sandbox_tac`));
    assert.deepEqual(await listDir(w.inc.backupDir), before);
  });

  test('dotctl rollback restores the original bytes', async () => {
    const r = w.cli(w.inc.operator2, ['rollback', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await sha256(w.inc.scriptPath), original);
    assert.equal(await modeOf(w.inc.scriptPath), '755');
  });
});
