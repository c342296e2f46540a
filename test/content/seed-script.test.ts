/**
 * The incident of the seed (P9-G6), reproduced with the real backup script against a real
 * PostgreSQL, then fixed: examples/pg-backup.sh leaves a 20-byte gzip-valid empty file when the
 * dump role lacks USAGE on a schema; the same script with the DOT-BACKUP-SCRIPT-HARDEN diff
 * applied leaves nothing and pushes DOWN; after the GRANTs of option A it backs up again.
 * Also checks that every file in dots/ conforms to the DOT and law schemas.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { applyPatch, parsePatch, reversePatch } from 'diff';
import { parse } from 'yaml';
import { DotSchema, LawRegistrySchema, type Dot } from '../../src/catalogue/schema.js';
import { checkCatalogue } from '../../src/catalogue/load.js';
import { ADMIN_URL, adminClient, createScratchDb, createScratchRole, dropScratchRoles, type ScratchDb } from '../helpers/pg.js';
import { run } from './walk.js';

const ORIGINAL = 'examples/pg-backup.sh';
const HARDENED = 'examples/pg-backup.hardened.sh';
const HARDEN_DIFF = 'dots/DOT-BACKUP-SCRIPT-HARDEN.harden.diff';
const EXCLUDE_DIFF = 'dots/DOT-PG-BACKUP-EXCLUDE-SCHEMA.exclude.diff';
const DBUSER_DIFF = 'dots/DOT-PG-NEW-ROLE.dbuser.diff';
const SCHEMA = 'sandbox_tac';
const ROWS = 2000;

let db: ScratchDb | undefined;
let owner = '';
let dumpRole = '';
let tmp = '';
let server: Server | undefined;
let pushUrl = '';
/** URLs the fake Uptime Kuma received, in order. */
const pushes: string[] = [];

const pg = new URL(ADMIN_URL);
const PG_DUMP_CMD = `pg_dump -h ${pg.hostname} -p ${pg.port || '5432'}`;
const PSQL_CMD = `psql -h ${pg.hostname} -p ${pg.port || '5432'}`;

before(async () => {
  // Fail loudly, never skip: these are the tools the seed's scripts and DOTs rely on.
  for (const tool of [
    ['shellcheck', '--version'],
    ['pg_dump', '--version'],
    ['psql', '--version'],
    ['gzip', '--version'],
    ['curl', '--version'],
    ['patch', '--version'],
  ]) {
    const r = await run(tool);
    assert.equal(r.code, 0, `${tool[0]} is not usable: ${r.stderr}`);
  }
  (await adminClient()).end(); // throws with the command that starts PostgreSQL

  owner = await createScratchRole('owner');
  dumpRole = await createScratchRole('dump', { login: true });
  db = await createScratchDb('seed');
  const c = await adminClient(db.name);
  try {
    // seed §1: a schema owned by workflow_admin, with real data, and no grant to directus.
    await c.query(`CREATE SCHEMA ${SCHEMA} AUTHORIZATION "${owner}"`);
    await c.query(`SET ROLE "${owner}"`);
    await c.query(`CREATE TABLE ${SCHEMA}.unit_version (id serial PRIMARY KEY, body text NOT NULL)`);
    await c.query(`INSERT INTO ${SCHEMA}.unit_version (body) SELECT md5(random()::text) || md5(random()::text) FROM generate_series(1, ${ROWS})`);
    await c.query('RESET ROLE');
    // The application's own tables (owned by directus), so a dump without sandbox_tac is a real one.
    await c.query(`CREATE TABLE public.directus_activity (id serial PRIMARY KEY, action text NOT NULL, ts timestamptz NOT NULL DEFAULT now())`);
    await c.query(`INSERT INTO public.directus_activity (action) SELECT 'login ' || g FROM generate_series(1, ${ROWS}) g`);
    await c.query(`ALTER TABLE public.directus_activity OWNER TO "${dumpRole}"`);
  } finally {
    await c.end();
  }

  tmp = await mkdtemp(join(tmpdir(), 'dotctl-seed-'));
  server = createServer((req, res) => {
    pushes.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  pushUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/push/pg-backup-local`;
});

after(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (db) await db.drop();
  await dropScratchRoles([owner, dumpRole].filter(Boolean));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

let runs = 0;

/** Runs a backup script the way cron would, pointed at the scratch database; a fresh backup dir each time. */
async function backup(script: string, extra: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; dir: string; files: string[] }> {
  runs += 1;
  const dir = join(tmp, `backups-${runs}`);
  pushes.length = 0;
  const r = await run(['bash', script], {
    env: {
      ...process.env,
      PG_DUMP_CMD,
      PSQL_CMD,
      DB_USER: dumpRole,
      DB_NAME: db?.name ?? '',
      BACKUP_DIR: dir,
      KUMA_PUSH_URL: pushUrl,
      ...extra,
    },
  });
  const files = existsSync(dir) ? (await readdir(dir)).sort() : [];
  return { code: r.code, stderr: r.stderr, dir, files };
}

async function scriptFrom(name: string, text: string): Promise<string> {
  const path = join(tmp, name);
  await writeFile(path, text, { mode: 0o755 });
  return path;
}

function patched(source: string, diffText: string, reverse = false): string {
  const [p] = parsePatch(diffText);
  assert.ok(p, 'the diff holds one file');
  const out = applyPatch(source, reverse ? reversePatch(p) : p);
  assert.notEqual(out, false, 'the diff applies');
  return out as string;
}

test('the incident: the pre-hardening script leaves a 20-byte gzip-valid empty file and pushes nothing', async () => {
  const r = await backup(ORIGINAL);
  assert.notEqual(r.code, 0, 'the script must fail');
  assert.match(r.stderr, /permission denied for schema sandbox_tac/);
  assert.equal(r.files.length, 1, `one artefact is left behind: ${r.files.join(', ')}`);
  const file = join(r.dir, r.files[0] ?? '');
  assert.match(r.files[0] ?? '', /^directus_\d{4}-\d{2}-\d{2}_\d{4}\.sql\.gz$/);
  assert.equal((await stat(file)).size, 20, 'the artefact is a bare 20-byte gzip header (seed §2.1)');
  assert.equal((await run(['gzip', '-t', file])).code, 0, 'gzip -t calls it valid');
  assert.equal(gunzipSync(await readFile(file)).length, 0, 'its payload is empty');
  assert.deepEqual(pushes, [], 'no heartbeat at all: not UP, and no active DOWN either');
});

test('both scripts pass shellcheck and the hardening diff turns one into the other (diff library and patch(1))', async () => {
  const lint = await run(['shellcheck', ORIGINAL, HARDENED]);
  assert.equal(lint.code, 0, lint.stdout);
  const original = await readFile(ORIGINAL, 'utf8');
  const hardened = await readFile(HARDENED, 'utf8');
  const diffText = await readFile(HARDEN_DIFF, 'utf8');
  assert.equal(patched(original, diffText), hardened);
  assert.equal(patched(hardened, diffText, true), original, 'the rollback (reverse patch) restores the original');

  const copy = await scriptFrom('patch-check.sh', original);
  const dry = await run(['patch', '--dry-run', '--forward', copy, HARDEN_DIFF]);
  assert.equal(dry.code, 0, dry.stdout + dry.stderr);
  assert.doesNotMatch(dry.stdout, /offset|fuzz/, 'applies exactly where it was made');

  const lines = original.split('\n');
  assert.equal(lines[0], '#!/usr/bin/env bash');
  assert.equal(lines[7], 'set -euo pipefail');
  assert.equal(lines[8], 'umask 077');
  assert.equal(lines[11], 'DB_USER="${DB_USER:-directus}"', 'line 12 is the one option B edits');
});

test('hardened: the USAGE pre-flight refuses, names the schema, leaves nothing and pushes DOWN', async () => {
  const script = await scriptFrom('pg-backup.hardened.sh', patched(await readFile(ORIGINAL, 'utf8'), await readFile(HARDEN_DIFF, 'utf8')));
  const r = await backup(script);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /lacks USAGE on schema\(s\): sandbox_tac/);
  assert.deepEqual(r.files, [], 'no artefact left');
  assert.deepEqual(pushes, ['/api/push/pg-backup-local?status=down&msg=backup_failed_rc2']);
});

test('hardened: a failing pg_dump is caught by the trap — nothing left, DOWN pushed', async () => {
  const script = await scriptFrom('pg-backup.hardened.sh', patched(await readFile(ORIGINAL, 'utf8'), await readFile(HARDEN_DIFF, 'utf8')));
  const r = await backup(script, { CHECK_USAGE: '0' });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /permission denied for schema sandbox_tac/);
  assert.match(r.stderr, /partial dump removed/);
  assert.deepEqual(r.files, [], 'neither the .sql.gz nor the .raw is left');
  assert.deepEqual(pushes, ['/api/push/pg-backup-local?status=down&msg=backup_failed_rc1']);
});

test('option C1 on the hardened script: the excluded schema no longer breaks the backup', async () => {
  const hardened = await readFile(HARDENED, 'utf8');
  const exclude = await readFile(EXCLUDE_DIFF, 'utf8');
  const [p] = parsePatch(exclude);
  assert.equal(applyPatch(await readFile(ORIGINAL, 'utf8'), p ?? exclude), false, 'C1 is written against the hardened script: D first');
  const script = await scriptFrom('pg-backup.c1.sh', patched(hardened, exclude));
  assert.equal((await run(['shellcheck', script])).code, 0);
  assert.equal(patched(await readFile(script, 'utf8'), exclude, true), hardened, 'the rollback removes the flag again');

  const r = await backup(script);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.files.length, 1);
  const file = join(r.dir, r.files[0] ?? '');
  const sql = gunzipSync(await readFile(file)).toString('utf8');
  assert.match(sql, /PostgreSQL database dump complete/);
  assert.doesNotMatch(sql, /sandbox_tac/, 'the schema is left out');
  assert.deepEqual(pushes, ['/api/push/pg-backup-local?status=up&msg=OK&ping=']);
});

test('option B: the DB_USER patch applies to both scripts', async () => {
  const diffText = await readFile(DBUSER_DIFF, 'utf8');
  for (const path of [ORIGINAL, HARDENED]) {
    const out = patched(await readFile(path, 'utf8'), diffText);
    assert.equal(out.split('\n')[11], 'DB_USER="${DB_USER:-backup_role}"', path);
  }
});

test('after the GRANTs of option A the hardened script backs up again: > 1 KiB, gzip valid, UP pushed', async () => {
  const c = await adminClient(db?.name);
  try {
    await c.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO "${dumpRole}"`);
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${SCHEMA} TO "${dumpRole}"`);
    await c.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${SCHEMA} TO "${dumpRole}"`);
  } finally {
    await c.end();
  }
  const r = await backup(HARDENED);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.files.length, 1, `exactly the backup, no .raw left: ${r.files.join(', ')}`);
  const file = join(r.dir, r.files[0] ?? '');
  assert.ok((await stat(file)).size > 1024, 'a real dump');
  assert.equal((await run(['gunzip', '-t', file])).code, 0);
  const sql = gunzipSync(await readFile(file)).toString('utf8');
  assert.match(sql, /COPY sandbox_tac\.unit_version \(id, body\) FROM stdin;/);
  assert.equal(sql.split('\n').filter((l) => /^\d+\t[0-9a-f]{64}$/.test(l)).length, ROWS, 'every row is in the dump');
  assert.deepEqual(pushes, ['/api/push/pg-backup-local?status=up&msg=OK&ping=']);
});

test('hardened: a failed retry in the same minute as a good run leaves the good backup alone (seed §2.1, the 13:53 retry)', async () => {
  const dir = join(tmp, 'same-minute');
  const file = join(dir, 'directus_2026-04-27_1353.sql.gz');
  const good = await backup(HARDENED, { BACKUP_DIR: dir, BACKUP_FILE: file });
  assert.equal(good.code, 0, good.stderr);
  const before = await readFile(file);
  const retry = await backup(HARDENED, { BACKUP_DIR: dir, BACKUP_FILE: file, PG_DUMP_CMD: 'false', CHECK_USAGE: '0' });
  assert.equal(retry.code, 1);
  assert.deepEqual(await readFile(file), before, 'the verified backup of the earlier run is untouched');
  assert.deepEqual((await readdir(dir)).sort(), ['directus_2026-04-27_1353.sql.gz'], 'no .raw or .partial left');
  assert.deepEqual(pushes, ['/api/push/pg-backup-local?status=down&msg=backup_failed_rc1']);
});

test('every DOT and the law registry conform to the schemas; cited laws, companions and diff files exist', async () => {
  const names = (await readdir('dots')).sort();
  const lawsText = await readFile('dots/laws.yaml', 'utf8');
  assert.equal(lawsText.split('\n')[0], '# yaml-language-server: $schema=../schemas/laws.schema.json');
  const laws = LawRegistrySchema.safeParse(parse(lawsText));
  assert.ok(laws.success, JSON.stringify(laws.error?.issues));
  const lawIds = new Set(laws.data.laws.map((l) => l.id));
  assert.deepEqual([...lawIds].sort(), ['CONST-IRREVERSIBLE', 'Đ32', 'Đ33', 'Đ35', 'Đ37§5', 'Đ39'].sort());

  const dots = new Map<string, Dot>();
  for (const name of names.filter((n) => n.endsWith('.yaml') && n !== 'laws.yaml')) {
    const text = await readFile(join('dots', name), 'utf8');
    assert.equal(text.split('\n')[0], '# yaml-language-server: $schema=../schemas/dot.schema.json', name);
    const r = DotSchema.safeParse(parse(text));
    assert.ok(r.success, `${name}: ${JSON.stringify(r.error?.issues)}`);
    assert.equal(name, `${r.data.id}.yaml`);
    dots.set(r.data.id, r.data);
  }
  assert.deepEqual([...dots.values()].map((d) => `${d.option} ${d.id} ${d.action_code} ${d.risk}`).sort(), [
    'A DOT-PG-GRANT-SCHEMA DOT-PG-GRANT-DIRECTUS reversible',
    'B DOT-PG-NEW-ROLE DOT-PG-NEW-BACKUP-ROLE reversible',
    'C1 DOT-PG-BACKUP-EXCLUDE-SCHEMA DOT-PG-EXCLUDE-SCHEMA reversible',
    'C2 DOT-PG-DROP-SCHEMA DOT-PG-DROP-SCHEMA irreversible',
    'D DOT-BACKUP-SCRIPT-HARDEN DOT-PG-BACKUP-HARDEN reversible',
    'undefined DOT-GDRIVE-BACKUP-EXCLUDE-SCHEMA DOT-GDRIVE-EXCLUDE-SCHEMA reversible',
    'undefined DOT-GDRIVE-SCRIPT-HARDEN DOT-GDRIVE-BACKUP-HARDEN reversible',
    'undefined DOT-PG-RESTORE-DRILL DOT-PG-RESTORE-DRILL reversible',
  ]);
  // the off-site script's C1 needs its own D, as C1 needs D; the drill and the hardenings need nothing
  const companionsOf: Record<string, string[]> = {
    'DOT-GDRIVE-BACKUP-EXCLUDE-SCHEMA': ['DOT-GDRIVE-SCRIPT-HARDEN'],
    'DOT-GDRIVE-SCRIPT-HARDEN': [],
    'DOT-PG-RESTORE-DRILL': [],
  };
  for (const dot of dots.values()) {
    for (const law of dot.laws) assert.ok(lawIds.has(law), `${dot.id} cites unknown law ${law}`);
    for (const c of dot.companions) assert.ok(dots.has(c), `${dot.id} names unknown companion ${c}`);
    if (dot.option === undefined) assert.deepEqual(dot.companions, companionsOf[dot.id], dot.id);
    else if (dot.option !== 'D') assert.deepEqual(dot.companions, ['DOT-BACKUP-SCRIPT-HARDEN'], `${dot.id}: D is the required companion (seed §4)`);
    for (const step of [...dot.diff, ...dot.rollback]) {
      if (step.kind === 'patch' && step.diff_file) assert.ok(names.includes(step.diff_file), `${dot.id}: missing ${step.diff_file}`);
    }
  }
  // The engine's own validation (cross-file checks, psql parameter references, law requirements).
  const whole = await checkCatalogue('dots');
  assert.equal(whole.kind, 'valid', whole.kind === 'invalid' ? whole.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('\n') : '');
});
