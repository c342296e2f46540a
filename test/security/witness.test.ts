/**
 * The ledger head, witnessed outside the ledger (threat model point 6), attacked as an insider
 * with the ledger file and as a ledger DBA would: the newest rows deleted, history rewritten and
 * re-hashed, a private copy of the ledger used to apply, another ledger swapped in, a checkpoint
 * outlived by a truncation. Each time the chain alone still verifies (the attack works on it);
 * the target's witness and the checkpoint do not, and apply / rollback refuse with exit 7 before
 * anything changes. Beside them the legitimate path: apply, rollback, `log verify --target`, a
 * checkpoint that verifies. Built CLI, real PostgreSQL target, SQLite and PostgreSQL ledgers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { createWalk, type Walk } from '../exec/harness.js';
import { hasStackTrace, runCli, type CliResult } from '../helpers/cli.js';
import { adminClient, createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { canonicalJson } from '../../src/model/canonical.js';
import { hashRow } from '../../src/ledger/chain.js';
import { openSqliteLedger } from '../../src/ledger/sqlite.js';
import { encodePublicKey } from '../../src/gate/identities.js';

/** Asserts exit 7 with one sentence on stderr matching `why`, and no stack trace. */
function refused(r: CliResult, why: RegExp, what: string): void {
  assert.equal(r.code, 7, `${what}: expected exit 7, got ${r.code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, why, what);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one sentence: ${r.stderr}`);
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
}

function ok(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
}

const verifyTarget = (w: Walk, extra: string[] = []): CliResult => w.cli(null, ['log', 'verify', ...extra]);
/** `dotctl args…` with the walk's flags but no --target (so `log verify` does not compare the target). */
function noTarget(w: Walk, args: readonly string[]): CliResult {
  const f = [...w.inc.flags];
  f.splice(f.indexOf('--target'), 2);
  return runCli([...f, ...args], { cwd: w.inc.dir });
}

/** `log verify` without the target: what the chain alone says. */
const chainOnly = (w: Walk): CliResult => noTarget(w, ['log', 'verify']);

/** Points the walk at another ledger (a path or URL); returns the old one. */
function useLedger(w: Walk, ledger: string): string {
  const f = w.inc.flags as string[];
  const i = f.indexOf('--ledger') + 1;
  const old = f[i]!;
  f[i] = ledger;
  return old;
}

const ledgerPath = (w: Walk): string => w.inc.flags[w.inc.flags.indexOf('--ledger') + 1]!;

/** The ledger's id as the witness names it: the hash of its first row. */
function ledgerId(w: Walk): string {
  const first = w.events()[0] as unknown as { seq: number; hash: string };
  assert.equal(first.seq, 1);
  return first.hash;
}

async function witnessRows(w: Walk): Promise<{ ledger_id: string; proposal_id: string; event: string; head_seq: string; head_hash: string }[]> {
  if ((await w.scalar(`SELECT to_regclass('dotctl.witness') IS NOT NULL`)) !== true) return [];
  const c = await adminClient(w.inc.db.name);
  try {
    return (await c.query('SELECT ledger_id, proposal_id, event, head_seq::text, head_hash FROM dotctl.witness ORDER BY at, head_seq')).rows;
  } finally {
    await c.end();
  }
}

const usage = async (w: Walk): Promise<unknown> => w.scalar(`SELECT has_schema_privilege($1, 'sandbox_tac', 'USAGE')`, [w.inc.dumpRole]);

/** A SQLite ledger file, as an insider with the file handles it. */
function withFile<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A consistent copy of a SQLite ledger (what `.backup` gives). */
async function copyLedger(from: string, to: string): Promise<void> {
  const db = new Database(from, { readonly: true });
  try {
    await db.backup(to);
  } finally {
    db.close();
  }
}

async function restoreLedger(backup: string, path: string): Promise<void> {
  for (const suffix of ['', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
  await copyLedger(backup, path);
}

/** Deletes every row from `seq` on, dropping the trigger first as anyone holding the file can. */
function truncateFile(path: string, seq: number): void {
  withFile(path, (db) => {
    for (const t of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[]) db.exec(`DROP TRIGGER "${t.name}"`);
    db.prepare('DELETE FROM dot_action_log WHERE seq >= ?').run(seq);
    // the derived-state index too, or the ledger itself would name the cut
    db.prepare('DELETE FROM dot_proposal_states WHERE seq >= ?').run(seq);
  });
}

/** Rewrites row `seq`'s detail and re-hashes every row after it: a consistent, different chain. */
async function rehashFile(path: string, seq: number): Promise<void> {
  const ledger = await openSqliteLedger(path, { create: false });
  const rows = [...(await ledger.readEvents())];
  await ledger.close();
  withFile(path, (db) => {
    db.exec('DROP TRIGGER dot_action_log_no_update');
    const update = db.prepare('UPDATE dot_action_log SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?');
    let prev = rows.find((r) => r.seq === seq - 1)?.hash ?? '';
    for (const r of rows.filter((x) => x.seq >= seq)) {
      const detail = r.seq === seq ? { ...r.detail, comment: 'rewritten by the insider' } : r.detail;
      const hash = hashRow(prev, { ...r, detail, prevHash: prev });
      update.run(canonicalJson(detail), prev, hash, r.seq);
      prev = hash;
    }
  });
}

describe('the ledger head witnessed in the target (SQLite ledger)', () => {
  let w: Walk;
  let team = '';
  const backup = (name: string): string => join(w.inc.dir, name);
  before(async () => {
    w = await createWalk('sec_wit');
    team = ledgerPath(w);
  });
  after(async () => {
    await w?.inc.cleanup();
  });

  test('legitimate path: a rehearsal writes nothing; apply and rollback are witnessed in their transaction; log verify --target and a checkpoint verify', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    ok(w.cli(w.inc.operator2, ['apply', id, '--dry-run']), 'rehearsal');
    assert.equal(await w.scalar(`SELECT to_regclass('dotctl.witness') IS NULL`), true, 'a rehearsal created the witness');
    ok(w.cli(w.inc.operator2, ['apply', id]), 'apply');
    const rows = await witnessRows(w);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.ledger_id, ledgerId(w));
    assert.equal(rows[0]?.proposal_id, id);
    const applied = w.events(id).find((e) => e.event === 'applied');
    assert.deepEqual(applied?.detail.witnessed_head, { seq: Number(rows[0]?.head_seq), hash: rows[0]?.head_hash, event: 'apply' });
    // the witness is append-only, and any role may dump it (a whole-database pg_dump keeps working)
    await assert.rejects(w.exec('DELETE FROM dotctl.witness'), /append-only/);
    const dump = spawnSync('pg_dump', ['--schema=dotctl', '--file=/dev/null', '-h', '127.0.0.1', '-U', 'postgres', `--role=${w.inc.dumpRole}`, w.inc.db.name], { encoding: 'utf8' });
    assert.equal(dump.status, 0, dump.stderr);

    const v = verifyTarget(w);
    ok(v, 'verify --target after apply');
    assert.match(v.stdout, /witness agrees with this ledger \(1 witnessed/);
    ok(w.cli(w.inc.operator, ['rollback', id]), 'rollback');
    assert.deepEqual(
      (await witnessRows(w)).map((r) => r.event),
      ['apply', 'rollback'],
    );
    const json = verifyTarget(w, ['--json']);
    ok(json, 'verify --target --json');
    const verdict = JSON.parse(json.stdout) as { kind: string; target: { witness_rows: number; problems: unknown[]; ledger_id: string } };
    assert.equal(verdict.kind, 'intact');
    assert.equal(verdict.target.witness_rows, 2);
    assert.deepEqual(verdict.target.problems, []);

    const cp = backup('legit.checkpoint.json');
    ok(w.cli(w.inc.auditor, ['log', 'checkpoint', '--out', cp]), 'checkpoint');
    const saved = JSON.parse(await readFile(cp, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(saved).sort(), ['at', 'hash', 'ledger_id', 'public_key', 'seq', 'signature', 'signer']);
    assert.equal(saved.signer, w.inc.auditor.name);
    const checked = noTarget(w, ['log', 'verify', '--checkpoint', cp]);
    ok(checked, 'verify --checkpoint');
    assert.match(checked.stdout, /still contains that head/);
  });

  test('tail truncation after an apply: the chain still verifies, but the next apply is refused (exit 7) and verify --target / --checkpoint name it', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    // approved before the apply, so the truncation leaves it: the gate lets it through, the witness does not
    const next = await w.propose(['A', 'D']);
    w.approve(next);
    ok(w.cli(w.inc.operator2, ['apply', id]), 'apply');
    const cp = backup('before-truncation.checkpoint.json');
    ok(w.cli(w.inc.auditor, ['log', 'checkpoint', '--out', cp]), 'checkpoint');
    await copyLedger(team, backup('team-1.db'));
    const started = w.events(id).find((e) => e.event === 'apply_started')!.seq;
    // the insider erases the apply from the ledger
    truncateFile(team, started);
    ok(chainOnly(w), 'the chain alone cannot see a truncated tail');
    const rows = w.events().length;
    refused(w.cli(w.inc.operator2, ['apply', next]), /the ledger ends at seq \d+: its newest rows were removed \(tail truncation\)/, 'the next apply on a truncated ledger');
    assert.equal(w.events().length, rows, 'the refusal wrote to the ledger');
    // the rollback of the erased apply: refused by the witness, or already by the gate (what it derives the state from)
    const back = w.cli(w.inc.operator, ['rollback', id]);
    assert.ok(back.code === 7 || back.code === 3, `rollback on a truncated ledger: ${back.code} ${back.stderr}`);
    assert.equal(await usage(w), true, 'a refused run changed the target');
    const v = verifyTarget(w);
    refused(v, /tail truncation/, 'verify --target');
    assert.match(v.stdout, /head_missing/);
    refused(noTarget(w, ['log', 'verify', '--checkpoint', cp]), /checkpointed head seq \d+ .* is gone: the ledger ends at seq \d+; its newest rows were removed/, 'verify --checkpoint');
    // a checkpoint edited to fit the truncated ledger no longer carries a valid signature
    const forged = { ...(JSON.parse(await readFile(cp, 'utf8')) as Record<string, unknown>), seq: rows, hash: (w.events().at(-1) as unknown as { hash: string }).hash };
    await writeFile(backup('forged.json'), JSON.stringify(forged));
    refused(noTarget(w, ['log', 'verify', '--checkpoint', backup('forged.json')]), /signature by ada does not verify/, 'a forged checkpoint');
    // the team's own ledger, restored, is whole again: the legitimate rollback goes through
    await restoreLedger(backup('team-1.db'), team);
    ok(noTarget(w, ['log', 'verify', '--checkpoint', cp]), 'checkpoint after restore');
    ok(w.cli(w.inc.operator, ['rollback', id]), 'rollback on the restored ledger');
    ok(verifyTarget(w), 'verify --target after restore');
  });

  test('a re-hashed ledger: the signed heads name it, the apply is refused (exit 7) and verify --target names the row', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    await copyLedger(team, backup('team-2.db'));
    await rehashFile(team, 3);
    // the chain alone cannot see a consistent re-hash; the heads its members signed can (and the target's witness, below)
    refused(chainOnly(w), /rewritten and re-hashed/, 'log verify: the signed heads name the re-hash');
    refused(w.cli(w.inc.operator2, ['apply', id]), /re-hashed/, 'apply on a re-hashed ledger');
    assert.equal(await usage(w), false, 'the refused apply changed the target');
    refused(verifyTarget(w), /re-hashed/, 'verify --target');
    await restoreLedger(backup('team-2.db'), team);
    ok(w.cli(w.inc.operator2, ['apply', id]), 'apply on the restored ledger');
    ok(w.cli(w.inc.operator, ['rollback', id]), 'rollback');
  });

  test('a private copy of the ledger used to apply: the team ledger’s next apply is refused (exit 7) and verify --target names it', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    const copy = backup('private.db');
    await copyLedger(team, copy);
    useLedger(w, copy);
    ok(w.cli(w.inc.operator2, ['apply', id]), 'the insider applies from the private copy');
    useLedger(w, team);
    assert.equal(w.state(id), 'proposed', 'the team ledger does not know of the apply');
    ok(chainOnly(w), 'the team ledger’s chain is intact');
    refused(w.cli(w.inc.operator2, ['apply', id]), /private copy of the ledger/, 'the team’s next apply');
    const v = verifyTarget(w, ['--json']);
    assert.equal(v.code, 7, v.stderr);
    const problems = (JSON.parse(v.stdout) as { target: { problems: { kind: string; proposal_id: string }[] } }).target.problems;
    assert.ok(
      problems.some((p) => p.proposal_id === id && (p.kind === 'head_missing' || p.kind === 'head_differs')),
      JSON.stringify(problems),
    );
  });
});

describe('a swapped ledger (another ledger’s id)', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('sec_wit_swap');
  });
  after(async () => {
    await w?.inc.cleanup();
  });

  test('a target governed by one ledger refuses another (exit 7, naming the ledger and the way out) until a DBA drops dotctl', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    ok(w.cli(w.inc.operator2, ['apply', id]), 'apply with the first ledger');
    ok(w.cli(w.inc.operator, ['rollback', id]), 'rollback with the first ledger');
    const first = ledgerId(w);
    const team = useLedger(w, join(w.inc.dir, 'other-ledger.db'));
    const other = await w.propose(['A', 'D']);
    w.approve(other);
    assert.notEqual(ledgerId(w), first);
    const r = w.cli(w.inc.operator2, ['apply', other]);
    refused(r, new RegExp(`the target is bound to another ledger, ${first} .*DROP SCHEMA dotctl CASCADE`), 'apply with a swapped ledger');
    assert.equal(await usage(w), false);
    const v = verifyTarget(w);
    refused(v, /bound to another ledger/, 'verify --target with the swapped ledger');
    assert.match(v.stdout, /bound_elsewhere/);
    // the documented way out: a target DBA re-binds the target on purpose
    await w.exec('DROP SCHEMA dotctl CASCADE');
    ok(w.cli(w.inc.operator2, ['apply', other]), 'apply after the DBA re-bound the target');
    useLedger(w, team);
    refused(verifyTarget(w), /bound to another ledger/, 'the first ledger is now the stranger');
  });
});

describe('the ledger head witnessed in the target (PostgreSQL ledger, as the ledger DBA)', () => {
  let w: Walk;
  let ledger: ScratchDb;
  before(async () => {
    w = await createWalk('sec_wit_pg');
    ledger = await createScratchDb('wit_ledger');
    useLedger(w, ledger.url);
  });
  after(async () => {
    await w?.inc.cleanup();
    await ledger?.drop();
  });

  test('the DBA deletes the newest rows with the triggers disabled: the next apply is refused (exit 7), verify --target and --checkpoint name it; the legitimate path verifies', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    const next = await w.propose(['A', 'D']);
    w.approve(next);
    ok(w.cli(w.inc.operator2, ['apply', id]), 'apply');
    ok(verifyTarget(w), 'verify --target');
    const cp = join(w.inc.dir, 'pg.checkpoint.json');
    ok(w.cli(w.inc.auditor, ['log', 'checkpoint', '--out', cp]), 'checkpoint');
    ok(noTarget(w, ['log', 'verify', '--checkpoint', cp]), 'verify --checkpoint');
    const started = w.events(id).find((e) => e.event === 'apply_started')!.seq;
    const c = await adminClient(ledger.name);
    try {
      await c.query('ALTER TABLE dotctl.dot_action_log DISABLE TRIGGER USER');
      await c.query('DELETE FROM dotctl.dot_action_log WHERE seq >= $1', [started]);
      await c.query('ALTER TABLE dotctl.dot_action_log ENABLE TRIGGER USER');
      // the derived-state index too, or the ledger itself would name the cut
      await c.query('ALTER TABLE dotctl.dot_proposal_states DISABLE TRIGGER USER');
      await c.query('DELETE FROM dotctl.dot_proposal_states WHERE seq >= $1', [started]);
      await c.query('ALTER TABLE dotctl.dot_proposal_states ENABLE TRIGGER USER');
    } finally {
      await c.end();
    }
    ok(chainOnly(w), 'the chain alone cannot see it');
    refused(w.cli(w.inc.operator2, ['apply', next]), /tail truncation/, 'the next apply');
    assert.equal(await usage(w), true);
    refused(verifyTarget(w), /tail truncation/, 'verify --target');
    refused(noTarget(w, ['log', 'verify', '--checkpoint', cp]), /is gone/, 'verify --checkpoint');
  });
});

describe('checkpoints name their signer', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('sec_wit_cp');
  });
  after(async () => {
    await w?.inc.cleanup();
  });

  test('a key no identity holds cannot checkpoint (exit 3), and a checkpoint signed by one does not verify (exit 7)', async () => {
    await w.propose(['A', 'D']);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const stranger = join(w.inc.dir, 'stranger.key');
    await writeFile(stranger, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
    const r = w.cli({ name: 'stranger', key: stranger }, ['log', 'checkpoint']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /belongs to no (identity|member)/);
    // the auditor's checkpoint, re-signed by the stranger under the auditor's name
    const good = JSON.parse(w.cli(w.inc.auditor, ['log', 'checkpoint']).stdout) as Record<string, unknown>;
    const { sign } = await import('node:crypto');
    const body = { ledger_id: good.ledger_id, seq: good.seq, hash: good.hash, at: good.at, signer: good.signer };
    const signature = sign(null, Buffer.from(`dotctl/v1\ncheckpoint\n${canonicalJson(body)}`), privateKey).toString('base64');
    const file = join(w.inc.dir, 'stranger.checkpoint.json');
    await writeFile(file, JSON.stringify({ ...good, public_key: encodePublicKey(publicKey), signature }));
    refused(noTarget(w, ['log', 'verify', '--checkpoint', file]), /signed by ada with a key no known identity holds/, 'a stranger’s checkpoint');
    await writeFile(file, '{"seq": "x"');
    const bad = noTarget(w, ['log', 'verify', '--checkpoint', file]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /is not JSON/);
  });
});
