/**
 * The second script of the seed (§2.3, §3.5), backup-to-gdrive.sh, through its own D and C1 DOTs
 * on a scratch incident, as apply-dots.test.ts does for pg-backup.sh: the script as it was fails
 * at step 1 the same way (a 20-byte "valid" gzip left in staging, steps 2–5, the upload and the
 * heartbeat never run); DOT-GDRIVE-SCRIPT-HARDEN makes it fail loudly and leave nothing;
 * DOT-GDRIVE-BACKUP-EXCLUDE-SCHEMA makes it back up (and "upload", with UPLOAD_CMD=cp into a
 * local directory) without sandbox_tac; rollbacks restore the original bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { hostname } from 'node:os';
import { createWalk, listDir, modeOf, run, sha256, type Walk } from './harness.js';

const ORIGINAL = resolve('examples/backup-to-gdrive.sh');
const HARDENED = resolve('examples/backup-to-gdrive.hardened.sh');

interface Gdrive {
  readonly script: string;
  readonly work: string;
  readonly offsite: string;
  readonly uploads: string;
  readonly config: string;
}

/** The script's environment for the incident's dump role, without Docker, Qdrant or rclone. */
function env(w: Walk, g: Gdrive, stamp: string, extra: Record<string, string> = {}): Record<string, string> {
  const u = new URL(w.inc.db.url);
  const server = `-h ${u.hostname} -p ${u.port || '5432'}`;
  return {
    PG_DUMP_CMD: `pg_dump ${server}`,
    PSQL_CMD: `psql ${server}`,
    DB_USER: w.inc.dumpRole,
    DB_NAME: w.inc.db.name,
    WORK_DIR: g.work,
    STAMP: stamp,
    UPLOADS_DIR: g.uploads,
    CONFIG_DIR: g.config,
    SCRIPTS_DIR: join(w.inc.dir, 'scripts'),
    QDRANT_URL: '',
    UPLOAD_CMD: 'cp',
    UPLOAD_DEST: g.offsite,
    KUMA_PUSH_URL: 'http://127.0.0.1:9/dotctl-test',
    ...extra,
  };
}

/** `-p` flags of the off-site DOTs for this incident. */
function flags(w: Walk, g: Gdrive, names: readonly string[]): string[] {
  const all: Record<string, string> = {
    gdrive_script_path: g.script,
    gdrive_work_dir: g.work,
    expected_host: hostname(),
    schema: 'sandbox_tac',
    dump_role: w.inc.dumpRole,
    database: w.inc.db.name,
  };
  return names.flatMap((n) => ['-p', `${n}=${all[n]}`]);
}

function applied(w: Walk, id: string): void {
  const r = w.cli(w.inc.operator2, ['apply', id]);
  assert.equal(r.code, 0, `apply failed:\n${r.stdout}\n${r.stderr}`);
  assert.equal(w.state(id), 'applied');
}

describe('backup-to-gdrive.sh: broken → hardened (its D) → without sandbox_tac (its C1)', () => {
  let w: Walk;
  let g: Gdrive;
  let original = '';
  let hardenId = '';
  let excludeId = '';
  before(async () => {
    w = await createWalk('x_gd');
    g = {
      script: join(w.inc.dir, 'scripts', 'backup-to-gdrive.sh'),
      work: join(w.inc.dir, 'gdrive'),
      offsite: join(w.inc.dir, 'offsite'),
      uploads: join(w.inc.dir, 'uploads'),
      config: join(w.inc.dir, 'config'),
    };
    await copyFile(ORIGINAL, g.script);
    await chmod(g.script, 0o755);
    for (const d of [g.work, g.offsite, g.uploads, g.config]) await mkdir(d);
    original = await sha256(g.script);
    // the application's own data (owned by the dump role), so a dump without sandbox_tac is a real one
    await w.exec(`CREATE TABLE public.directus_activity (id serial PRIMARY KEY, action text NOT NULL)`);
    await w.exec(`INSERT INTO public.directus_activity (action) SELECT md5(g::text) FROM generate_series(1, 300) g`);
    await w.exec(`ALTER TABLE public.directus_activity OWNER TO "${w.inc.dumpRole}"`);
  });
  after(async () => w?.inc.cleanup());

  test('the reconstruction: #!/bin/bash, set -euo pipefail at line 9, pg_dump | gzip at step 1, the heartbeat at line 139, the upload through UPLOAD_CMD', async () => {
    const lines = (await readFile(ORIGINAL, 'utf8')).split('\n');
    assert.equal(lines[0], '#!/bin/bash');
    assert.equal(lines[8], 'set -euo pipefail');
    assert.match(lines[138] ?? '', /^curl -fsS --max-time 10 "\$\{KUMA_PUSH_URL\}\?status=up/);
    assert.match(lines.join('\n'), /1\/5 PostgreSQL dump[\s\S]*\| gzip -9 > "\$STAGING\/postgresql-directus\.sql\.gz"/);
    assert.match(lines.join('\n'), /UPLOAD_CMD="\$\{UPLOAD_CMD:-rclone copy\}"/);
    const sc = run(['shellcheck', ORIGINAL]);
    assert.equal(sc.code, 0, sc.stdout);
  });

  test('before: step 1 fails as the seed says; a 20-byte "valid" gzip stays in staging; steps 2–5, the upload and the heartbeat never run', async () => {
    const r = run(['bash', g.script], env(w, g, 'broken'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /permission denied for schema sandbox_tac/);
    const left = join(g.work, 'staging_broken', 'postgresql-directus.sql.gz');
    assert.equal((await stat(left)).size, 20);
    assert.equal(run(['gzip', '-t', left]).code, 0, 'gzip -t calls it valid');
    assert.doesNotMatch(r.stdout, /2\/5|upload|DONE/);
    assert.deepEqual(await readdir(g.offsite), []);
  });

  test('its D: propose (the broken artefact is in the evidence) → approve → apply; the script is exactly the hardened one, mode kept', async () => {
    hardenId = w.proposeWith(['DOT-GDRIVE-SCRIPT-HARDEN'], flags(w, g, ['gdrive_script_path', 'gdrive_work_dir', 'expected_host']));
    const md = await readFile(join(w.inc.dir, 'proposals', `${hardenId}.md`), 'utf8');
    assert.match(md, /\| Broken artefacts in the staging directories \| passed \| exit 0: .*20 B \S*staging_broken\/postgresql-directus\.sql\.gz/);
    w.approve(hardenId);
    applied(w, hardenId);
    assert.equal(await sha256(g.script), await sha256(HARDENED));
    assert.equal(await modeOf(g.script), '755');
    assert.deepEqual(await listDir(join(w.inc.dir, 'scripts')), ['backup-to-gdrive.sh', 'pg-backup.sh'], 'no temp file left next to the script');
  });

  test('hardened: the dump role without USAGE fails loudly (exit 2, naming sandbox_tac) and leaves no staging directory; a failing pg_dump fires the trap', async () => {
    const r = run(['bash', g.script], env(w, g, 'hardened'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${w.inc.dumpRole} lacks USAGE on schema\\(s\\): sandbox_tac`));
    assert.match(r.stderr, /backup failed \(rc=2\)/);
    const f = run(['bash', g.script], env(w, g, 'forced', { PG_DUMP_CMD: 'false', CHECK_USAGE: '0' }));
    assert.equal(f.code, 1);
    assert.match(f.stderr, /staging directory removed: .*staging_forced/);
    const names = await readdir(g.work);
    assert.ok(!names.includes('staging_hardened') && !names.includes('staging_forced'), names.join(', '));
    assert.deepEqual(await readdir(g.offsite), []);
  });

  test('its C1 (D applied as its companion): the dump excludes sandbox_tac, all five steps run, the bundle is uploaded and holds a real dump', async () => {
    excludeId = w.proposeWith(['DOT-GDRIVE-BACKUP-EXCLUDE-SCHEMA'], flags(w, g, ['schema', 'dump_role', 'database', 'gdrive_script_path', 'expected_host']));
    w.approve(excludeId);
    applied(w, excludeId);
    assert.match(await readFile(g.script, 'utf8'), /^ {2}--exclude-schema=sandbox_tac \\$/m);
    const r = run(['bash', g.script], env(w, g, 'good'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /5\/5 OK[\s\S]*upload OK[\s\S]*DONE archive=incomex_good\.tar/);
    assert.deepEqual(await readdir(g.offsite), ['incomex_good.tar']);
    const list = run(['tar', '-tf', join(g.offsite, 'incomex_good.tar')]);
    assert.match(list.stdout, /\.\/postgresql-directus\.sql\.gz/);
    const out = join(w.inc.dir, 'extract');
    await mkdir(out);
    assert.equal(run(['tar', '-xf', join(g.offsite, 'incomex_good.tar'), '-C', out]).code, 0);
    const dump = gunzipSync(await readFile(join(out, 'postgresql-directus.sql.gz'))).toString('utf8');
    assert.match(dump, /COPY public\.directus_activity /);
    assert.doesNotMatch(dump, /sandbox_tac/);
    assert.match(dump, /-- PostgreSQL database dump complete/);
  });

  test('rollbacks: C1, then D, put the original bytes back', async () => {
    const c1 = w.cli(w.inc.operator2, ['rollback', excludeId]);
    assert.equal(c1.code, 0, `${c1.stdout}\n${c1.stderr}`);
    assert.equal(await sha256(g.script), await sha256(HARDENED));
    const d = w.cli(w.inc.operator2, ['rollback', hardenId]);
    assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
    assert.equal(await sha256(g.script), original);
  });
});
