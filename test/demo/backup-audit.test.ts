/**
 * The backup audit check (seed §2.1 lesson): a dump whose gzip is valid but whose payload is
 * empty is a failed backup. A directory like the seed's (eight nightly dumps growing in size,
 * then the two 20-byte ones) must give the seed's last good, first broken, latest broken and
 * window; the pure judge is tested on small builders; the CLI command on real files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { auditBackupDir, judgeBackups, judgeBackup, timeFromName, type BackupFileFacts } from '../../src/exec/backup-audit.js';
import { runCli, hasStackTrace } from '../helpers/cli.js';

const TRAILER = '\n--\n-- PostgreSQL database dump complete\n--\n\n';

/** A plain-format dump of `rows` rows, as pg_dump writes one. */
function dumpText(rows: number): string {
  const lines = ['--', '-- PostgreSQL database dump', '--', '', 'CREATE TABLE public.directus_activity (id integer NOT NULL, action text);', 'COPY public.directus_activity (id, action) FROM stdin;'];
  for (let i = 1; i <= rows; i += 1) lines.push(`${i}\tlogin ${(i * 2654435761) % 1000003}`);
  lines.push('\\.');
  return lines.join('\n') + TRAILER;
}

/** The seed's §2.1 table (times UTC): eight good nights, the broken night, the manual retry. */
const SEED: readonly { name: string; at: string; rows: number | null }[] = [
  { name: 'directus_2026-04-19_0000.sql.gz', at: '2026-04-19T00:00:40Z', rows: 1000 },
  { name: 'directus_2026-04-20_0000.sql.gz', at: '2026-04-20T00:00:41Z', rows: 1100 },
  { name: 'directus_2026-04-21_0000.sql.gz', at: '2026-04-21T00:00:43Z', rows: 1200 },
  { name: 'directus_2026-04-22_0000.sql.gz', at: '2026-04-22T00:00:44Z', rows: 1300 },
  { name: 'directus_2026-04-23_0000.sql.gz', at: '2026-04-23T00:01:02Z', rows: 1400 },
  { name: 'directus_2026-04-24_0000.sql.gz', at: '2026-04-24T00:00:47Z', rows: 1500 },
  { name: 'directus_2026-04-25_0000.sql.gz', at: '2026-04-25T00:00:49Z', rows: 1600 },
  { name: 'directus_2026-04-26_0000.sql.gz', at: '2026-04-26T00:00:51Z', rows: 1700 },
  { name: 'directus_2026-04-27_0000.sql.gz', at: '2026-04-27T00:00:06Z', rows: null },
  { name: 'directus_2026-04-27_1353.sql.gz', at: '2026-04-27T13:53:48Z', rows: null },
];
/** When the report was written (≈41 h after the last good dump, seed §2.2). */
const REPORT_TIME = new Date('2026-04-27T17:00:51Z');

let dir = '';

async function writeDump(d: string, name: string, payload: string | Buffer, at: string): Promise<string> {
  const path = join(d, name);
  // gzip of an empty stream is the 20-byte header the incident left behind
  await writeFile(path, gzipSync(typeof payload === 'string' ? Buffer.from(payload) : payload, { level: 9 }));
  const t = new Date(at);
  await utimes(path, t, t);
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dotctl-audit-'));
  for (const f of SEED) await writeDump(dir, f.name, f.rows === null ? '' : dumpText(f.rows), f.at);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the seed §2.1 backup directory', () => {
  test('the 20-byte files are what gzip -t calls valid', async () => {
    for (const f of SEED.filter((x) => x.rows === null)) {
      const path = join(dir, f.name);
      assert.equal((await readFile(path)).length, 20, `${f.name} is a bare gzip header`);
      assert.equal(spawnSync('gzip', ['-t', path]).status, 0, 'gzip -t passes it: the trap of the incident');
    }
  });

  test("last good, first broken, latest broken and the window are the seed's", async () => {
    const a = await auditBackupDir(dir, { now: REPORT_TIME });
    assert.equal(a.files.length, 10);
    assert.deepEqual(
      a.files.map((f) => f.name),
      SEED.map((f) => f.name),
      'oldest first',
    );
    assert.deepEqual(
      a.files.map((f) => f.verdict),
      [...Array(8).fill('good'), 'broken', 'broken'],
    );
    const sizes = a.files.slice(0, 8).map((f) => f.bytes);
    assert.deepEqual(
      sizes,
      [...sizes].sort((x, y) => x - y),
      'the good dumps grow night by night',
    );
    assert.ok(sizes.every((s) => s > 1024));
    for (const f of a.files.slice(8)) {
      assert.equal(f.bytes, 20);
      assert.equal(f.gzipValid, true);
      assert.equal(f.payloadBytes, 0);
      assert.match(f.reasons.join(), /payload is 0 bytes/);
    }
    assert.equal(a.status, 'broken');
    assert.equal(a.lastGood?.name, 'directus_2026-04-26_0000.sql.gz');
    assert.equal(a.lastGood?.at, '2026-04-26T00:00:51.000Z');
    assert.equal(a.firstBroken?.name, 'directus_2026-04-27_0000.sql.gz');
    assert.equal(a.latestBroken?.name, 'directus_2026-04-27_1353.sql.gz');
    assert.equal(a.brokenCount, 2);
    // seed §2.2: "Time without good backup: ≈37–41h"
    assert.equal(a.windowToLatestBrokenHours, 37.88); // 00:00:51 → 13:53:48 the next day
    assert.equal(a.windowHours, 41); // to the time of the report
    assert.equal(a.hoursSinceLastGood, 41);
  });

  test("the name's timestamp orders the dumps when the mtimes were lost (a copy without -p)", async () => {
    const copy = await mkdtemp(join(tmpdir(), 'dotctl-audit-copy-'));
    try {
      for (const f of [...SEED].reverse()) await writeDump(copy, f.name, f.rows === null ? '' : dumpText(f.rows), '2026-05-01T09:00:00Z');
      const a = await auditBackupDir(copy, { now: REPORT_TIME, timeFrom: 'name' });
      assert.ok(a.files.every((f) => f.timeSource === 'name'));
      assert.equal(a.lastGood?.name, 'directus_2026-04-26_0000.sql.gz');
      assert.equal(a.firstBroken?.name, 'directus_2026-04-27_0000.sql.gz');
      assert.equal(a.latestBroken?.name, 'directus_2026-04-27_1353.sql.gz');
      assert.equal(a.windowToLatestBrokenHours, 37.88); // 00:00 → 13:53 by the names
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  test('dotctl audit-backups prints the verdict and exits 4 while the newest backup is broken', () => {
    const r = runCli(['audit-backups', dir]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stdout, /20 B\s+valid\s+0 B\s+BROKEN\s+directus_2026-04-27_1353\.sql\.gz/);
    assert.match(r.stdout, /last good: +2026-04-26 00:00:51 UTC, directus_2026-04-26_0000\.sql\.gz/);
    assert.match(r.stdout, /first broken: +2026-04-27 00:00:06 UTC, directus_2026-04-27_0000\.sql\.gz/);
    assert.match(r.stdout, /latest broken: +2026-04-27 13:53:48 UTC, directus_2026-04-27_1353\.sql\.gz/);
    assert.match(r.stdout, /without a good backup: [\d.]+ h .*\(37\.88 h to the latest broken dump\)/);
    const j = runCli(['audit-backups', dir, '--json']);
    assert.equal(j.code, 4);
    const a = JSON.parse(j.stdout) as { status: string; last_good: { name: string }; window_to_latest_broken_hours: number };
    assert.equal(a.status, 'broken');
    assert.equal(a.last_good.name, 'directus_2026-04-26_0000.sql.gz');
    assert.equal(a.window_to_latest_broken_hours, 37.88);
  });

  test('after a good dump the newest backup is good again (exit 0), and the outage stays on record', async () => {
    const recovered = await mkdtemp(join(tmpdir(), 'dotctl-audit-ok-'));
    try {
      for (const f of SEED) await writeDump(recovered, f.name, f.rows === null ? '' : dumpText(f.rows), f.at);
      await writeDump(recovered, 'directus_2026-04-28_0000.sql.gz', dumpText(1800), '2026-04-28T00:00:50Z');
      const r = runCli(['audit-backups', recovered]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /newest backup: good/);
      const a = await auditBackupDir(recovered, { now: REPORT_TIME });
      assert.equal(a.lastGood?.name, 'directus_2026-04-28_0000.sql.gz');
      assert.equal(a.firstBroken, null, 'no outage now');
      assert.equal(a.latestBroken?.name, 'directus_2026-04-27_1353.sql.gz');
      assert.equal(a.windowHours, null);
    } finally {
      await rm(recovered, { recursive: true, force: true });
    }
  });

  test('a missing directory is bad input (exit 2, one line); an empty one has no backup (exit 4)', async () => {
    const missing = runCli(['audit-backups', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the backup directory .*nope \(ENOENT\)/);
    assert.ok(!hasStackTrace(missing.stderr));
    const empty = await mkdtemp(join(tmpdir(), 'dotctl-audit-empty-'));
    try {
      const r = runCli(['audit-backups', empty]);
      assert.equal(r.code, 4);
      assert.match(r.stdout, /no \*\.sql\.gz dumps .*there is no backup/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('judging (pure)', () => {
  const facts = (name: string, mtime: string, gzip: BackupFileFacts['gzip'], bytes = 5000): BackupFileFacts => ({ name, path: `/b/${name}`, bytes, mtime, gzip });
  const good = (payloadBytes = 60_000) => ({ kind: 'valid' as const, payloadBytes, tail: TRAILER });

  test('a gzip cut short (full disk) is broken although it is large', () => {
    const v = judgeBackup(facts('directus_2026-04-27_0000.sql.gz', '2026-04-27T00:00:00Z', { kind: 'invalid', payloadBytes: 4_000_000, message: 'unexpected end of file' }, 900_000));
    assert.equal(v.verdict, 'broken');
    assert.equal(v.gzipValid, false);
    assert.match(v.reasons.join(), /not intact \(unexpected end of file\)/);
  });

  test('a payload without pg_dump\'s "dump complete" line is broken', () => {
    const v = judgeBackup(facts('x_2026-04-27_0000.sql.gz', '2026-04-27T00:00:00Z', { kind: 'valid', payloadBytes: 10, tail: 'CREATE TABLE' }));
    assert.equal(v.verdict, 'broken');
    assert.match(v.reasons.join(), /cut short/);
  });

  test('a payload beyond the limit is not proven good', () => {
    const v = judgeBackup(facts('x_2026-04-27_0000.sql.gz', '2026-04-27T00:00:00Z', { kind: 'over_limit', payloadBytes: 1025 }));
    assert.equal(v.verdict, 'broken');
    assert.equal(v.gzipValid, null);
  });

  test('no good backup at all: the window runs from the first broken dump', () => {
    const a = judgeBackups(
      '/b',
      [facts('a.sql.gz', '2026-04-27T00:00:00Z', { kind: 'valid', payloadBytes: 0, tail: '' }, 20), facts('b.sql.gz', '2026-04-27T06:00:00Z', { kind: 'valid', payloadBytes: 0, tail: '' }, 20)],
      '2026-04-27T12:00:00Z',
    );
    assert.equal(a.lastGood, null);
    assert.equal(a.firstBroken?.name, 'a.sql.gz');
    assert.equal(a.latestBroken?.name, 'b.sql.gz');
    assert.equal(a.windowHours, 12);
    assert.equal(a.hoursSinceLastGood, null);
  });

  test('an earlier outage is reported as latest broken but not as the current one', () => {
    const a = judgeBackups(
      '/b',
      [
        facts('a.sql.gz', '2026-04-25T00:00:00Z', good()),
        facts('b.sql.gz', '2026-04-26T00:00:00Z', { kind: 'valid', payloadBytes: 0, tail: '' }, 20),
        facts('c.sql.gz', '2026-04-27T00:00:00Z', good()),
      ],
      '2026-04-27T01:00:00Z',
    );
    assert.equal(a.status, 'good');
    assert.equal(a.lastGood?.name, 'c.sql.gz');
    assert.equal(a.firstBroken, null);
    assert.equal(a.latestBroken?.name, 'b.sql.gz');
    assert.equal(a.hoursSinceLastGood, 1);
  });

  test('no dumps: status none', () => {
    assert.equal(judgeBackups('/b', [], '2026-04-27T00:00:00Z').status, 'none');
  });

  test('timestamps in names: HHMM or HHMMSS, read as UTC; impossible dates have none', () => {
    assert.equal(timeFromName('directus_2026-04-27_1353.sql.gz'), '2026-04-27T13:53:00.000Z');
    assert.equal(timeFromName('directus_2026-04-27_135348.sql.gz'), '2026-04-27T13:53:48.000Z');
    assert.equal(timeFromName('directus_2026-02-30_0000.sql.gz'), null);
    assert.equal(timeFromName('directus.sql.gz'), null);
  });
});
