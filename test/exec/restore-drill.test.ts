/**
 * The restore drill (DOT-PG-RESTORE-DRILL) and the law that makes C2 wait for it, through the
 * built CLI on a real PostgreSQL: with only the seed's 20-byte dumps the drill fails (exit 4)
 * and C2 is refused (exit 3, naming CONST-IRREVERSIBLE and the drill); with a real dump but live
 * row counts beyond the tolerance the drill fails again and its scratch database is gone; once
 * the counts agree the drill passes, records the restore's duration and size, and C2 applies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { drillShortfall } from '../../src/gate/decide.js';
import { judgeCounts, restrictedScript } from '../../src/exec/restore-drill.js';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { GateRequirements } from '../../src/catalogue/laws.js';
import { adminClient } from '../helpers/pg.js';
import { createWalk, pgFlags, run, schemaRows, type Walk } from './harness.js';

/** A plain pg_dump of the incident's database, gzipped into the backup directory as the script names its files. */
async function goodDump(w: Walk, name: string): Promise<void> {
  const plain = join(w.inc.dir, `${name}.sql`);
  const r = run(['pg_dump', ...pgFlags(w), '--no-owner', '--no-acl', '-f', plain]);
  assert.equal(r.code, 0, r.stderr);
  await writeFile(join(w.inc.backupDir, name), gzipSync(await readFile(plain)));
}

/** Databases whose name is `name` on the test server (0 or 1). */
async function databasesNamed(name: string): Promise<number> {
  const c = await adminClient();
  try {
    return Number((await c.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [name])).rows[0].n);
  } finally {
    await c.end();
  }
}

describe('restore drill before C2', () => {
  let w: Walk;
  let drill = '';
  let c2 = '';
  before(async () => {
    w = await createWalk('x_drill');
    // the seed's two broken nights: gzip headers around nothing (20 bytes, gzip -t says valid)
    for (const n of ['directus_2026-04-27_0000.sql.gz', 'directus_2026-04-27_1353.sql.gz']) await writeFile(join(w.inc.backupDir, n), gzipSync(Buffer.alloc(0)));
  });
  after(async () => w?.inc.cleanup());

  test('with only 20-byte dumps the drill fails: exit 4, nothing to restore, the proposal stays proposed', async () => {
    drill = await w.propose(['DOT-PG-RESTORE-DRILL']);
    w.approve(drill);
    const r = w.cli(w.inc.operator2, ['apply', drill]);
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /no good dump to restore in .*: 2 dump\(s\), none good \(newest: directus_2026-04-27_1353\.sql\.gz: the decompressed payload is 0 bytes/);
    assert.equal(w.state(drill), 'proposed');
  });

  test('C2 without a passing drill is refused at apply: exit 3, one sentence naming the law and the way out; the schema stays', async () => {
    c2 = await w.propose(['C2', 'D']);
    w.approve(c2, true);
    const r = w.cli(w.inc.operator2, ['apply', c2]);
    assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stderr,
      /apply of P-\S+ refused: CONST-IRREVERSIBLE requires a restore drill that passed on this target within 24 h before an irreversible change, and none ever passed here; apply a restore drill \(DOT-PG-RESTORE-DRILL\) on this target first/,
    );
    assert.doesNotMatch(r.stderr, /and \d+ more/);
    assert.equal(await schemaRows(w), 243);
    assert.equal(w.state(c2), 'proposed');
    const st = JSON.parse(w.cli(null, ['status', c2, '--json']).stdout) as { gate: { unmet: { kind: string }[] } };
    assert.deepEqual(
      st.gate.unmet.map((u) => u.kind),
      ['restore_drill_missing'],
    );
  });

  test('a real dump, but the live database moved on beyond the tolerance: exit 4 naming the table, the scratch database dropped', async () => {
    await goodDump(w, 'directus_2026-04-28_0000.sql.gz');
    await w.exec(`INSERT INTO sandbox_tac.section_type_vocab (code, label) SELECT 'x' || g, 'extra' FROM generate_series(1, 20) g`);
    const r = w.cli(w.inc.operator2, ['apply', drill]);
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 table\(s\) differ from the live database by more than 5 %: sandbox_tac\.section_type_vocab restored 11, live 31/);
    const failed = w.events(drill).filter((e) => e.event === 'step_failed' && e.detail.kind === 'restore_drill');
    const scratch = String(failed.at(-1)?.detail.scratch_database);
    assert.match(scratch, /^dotctl_drill_[0-9a-f]{12}$/);
    assert.equal(failed.at(-1)?.detail.dropped, true);
    assert.equal(await databasesNamed(scratch), 0);
    assert.equal(w.state(drill), 'proposed');
    await w.exec(`DELETE FROM sandbox_tac.section_type_vocab WHERE label = 'extra'`);
  });

  test('the drill passes on the good dump (newer broken dumps passed over): restore time and size in the log, scratch dropped', async () => {
    // the broken retry is the newest file: the drill restores the good one before it
    await writeFile(join(w.inc.backupDir, 'directus_2026-04-28_1353.sql.gz'), gzipSync(Buffer.alloc(0)));
    const r = w.cli(w.inc.operator2, ['apply', drill]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /restored directus_2026-04-28_0000\.sql\.gz .* into dotctl_drill_[0-9a-f]{12} in \d+\.\d s: \d+ tables, 243 rows/);
    assert.match(r.stdout, /1 newer dump\(s\) passed over \(directus_2026-04-28_1353\.sql\.gz/);
    assert.equal(w.state(drill), 'applied');
    const passed = w.events(drill).find((e) => e.event === 'step_passed' && e.detail.kind === 'restore_drill');
    assert.equal(passed?.detail.dump, 'directus_2026-04-28_0000.sql.gz');
    assert.equal(typeof passed?.detail.restore_ms, 'number');
    assert.ok(Number(passed?.detail.restored_bytes) > 0);
    assert.ok(Number(passed?.detail.dump_bytes) > 1024);
    assert.equal(passed?.detail.rows, 243);
    assert.equal(passed?.detail.dropped, true);
    assert.equal(await databasesNamed(String(passed?.detail.scratch_database)), 0);
  });

  test('the same C2 proposal now applies: archive, drop, verify (exit 0)', async () => {
    const r = w.cli(w.inc.operator2, ['apply', c2]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await schemaRows(w), null);
  });
});

describe('a dump is data: the backslash commands of a planted dump never run', () => {
  let w: Walk;
  let marker = '';
  let planted = '';
  before(async () => {
    w = await createWalk('x_drill_attack');
    marker = join(w.inc.dir, 'pwned');
    // someone who can write to the backup directory plants a "dump" that passes the audit
    // (gzip intact, "dump complete" at the end) and holds psql meta-commands: a shell command,
    // and a reconnect to the live database to change it
    const plain = join(w.inc.dir, 'plain.sql');
    assert.equal(run(['pg_dump', ...pgFlags(w), '--no-owner', '--no-acl', '-f', plain]).code, 0);
    const dump = await readFile(plain, 'utf8');
    planted = `\\! touch ${marker}\n\\connect ${w.inc.db.name}\nCREATE TABLE public.pwned (x int);\n${dump}`;
    await writeFile(join(w.inc.backupDir, 'directus_2026-04-28_0000.sql.gz'), gzipSync(planted));
  });
  after(async () => w?.inc.cleanup());

  test('the attack: fed to psql as it is, the planted dump runs its shell command', async () => {
    const u = new URL(w.inc.db.url);
    const scratch = join(w.inc.dir, 'attack-proof');
    const r = run(['psql', '-X', '-q', '-h', u.hostname, '-p', u.port || '5432', '-U', 'postgres', '-d', 'postgres', '-c', `\\! touch ${scratch}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(scratch), true, 'psql runs \\! commands unless restricted');
  });

  test('the drill refuses it: exit 4 naming the restricted backslash command; no shell command ran, the live database is unchanged', async () => {
    const id = await w.propose(['DOT-PG-RESTORE-DRILL']);
    w.approve(id);
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /the restore of directus_2026-04-28_0000\.sql\.gz into dotctl_drill_[0-9a-f]{12} failed .*backslash commands are restricted/);
    assert.equal(existsSync(marker), false, 'the planted shell command ran');
    assert.equal(await w.scalar(`SELECT count(*)::int FROM pg_class WHERE relname = 'pwned'`), 0);
  });

  test("the guard: psql's own \\restrict first, the dump's \\restrict and \\unrestrict lines dropped, bytes kept across chunk boundaries", async () => {
    const text = "-- head\n\\restrict abc123\nSELECT 'é';\n\\unrestrict abc123\n";
    const chunks = [Buffer.from(text).subarray(0, 7), Buffer.from(text).subarray(7, 19), Buffer.from(text).subarray(19)];
    const parts: Buffer[] = [];
    for await (const c of Readable.from(chunks).pipe(restrictedScript())) parts.push(c as Buffer);
    const out = Buffer.concat(parts).toString('utf8');
    assert.match(out, /^\\restrict [0-9a-f]{48}\n-- head\nSELECT 'é';\n$/);
  });
});

describe('the restore-drill law, judged on the trusted time (pure)', () => {
  const req = { restoreDrillHours: 24, sources: { restore_drill_hours: ['CONST-IRREVERSIBLE'] } } as unknown as GateRequirements;
  const drill = { proposalId: 'P-20260428-abcdef', at: '2026-04-28T10:00:00.000Z' };

  test('a drill 23 h old lets it through; 24 h old does not, naming the last drill', () => {
    assert.equal(drillShortfall(req, drill, '2026-04-29T09:00:00.000Z'), null);
    const late = drillShortfall(req, drill, '2026-04-29T10:00:00.000Z');
    assert.match(late?.message ?? '', /CONST-IRREVERSIBLE requires a restore drill .* the last one \(P-20260428-abcdef, 2026-04-28T10:00:00\.000Z\) is older; apply a restore drill/);
  });

  test('no drill at all is refused even before the trusted time is known; without the law nothing is asked', () => {
    assert.equal(drillShortfall(req, null, null)?.kind, 'restore_drill_missing');
    assert.equal(drillShortfall(req, drill, null), null);
    assert.equal(drillShortfall(req, undefined, '2026-04-29T10:00:00.000Z'), null, 'not looked up: not judged');
    assert.equal(drillShortfall({ sources: {} } as unknown as GateRequirements, null, '2026-04-29T10:00:00.000Z'), null);
  });

  test('row counts: within the tolerance passes, beyond it and a table missing from the dump do not', () => {
    assert.deepEqual(judgeCounts([{ table: 'a.t', restored: 100, live: 104 }], 5), []);
    assert.deepEqual(judgeCounts([{ table: 'a.t', restored: 100, live: 110 }], 5), ['a.t restored 100, live 110']);
    assert.deepEqual(judgeCounts([{ table: 'a.t', restored: null, live: 3 }], 5), ['a.t restored not in the dump, live 3']);
    assert.deepEqual(judgeCounts([{ table: 'a.t', restored: null, live: 0 }], 0), []);
  });
});
