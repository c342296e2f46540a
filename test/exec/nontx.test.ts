/**
 * Honest non-transactional changes, through the CLI against a real PostgreSQL: a user's DOT
 * whose diff is `CREATE UNIQUE INDEX CONCURRENTLY` (it cannot run in a transaction) fails on
 * duplicate data. PostgreSQL leaves an invalid index behind; dotctl must run the DOT's rollback
 * for it and say "rolled back" only when the DOT's pre-checks prove the target is as before;
 * when it cannot, it says what is left, and a gated `dotctl rollback` finishes the job. Its
 * `--dry-run` marks the step it cannot rehearse and skips the post-verify that depends on it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { adminClient } from '../helpers/pg.js';
import { createWalk, privateDots, replaceIn, type Walk } from './harness.js';

const INDEX_DOT = `
id: DOT-TEST-UNIQUE-INDEX
version: 1
option: T4
title: Unique index on accounts.email, built concurrently
summary: A unique index built without blocking writes; on duplicate data PostgreSQL leaves it invalid.
applies_when: A user's own change (non-transactional test).
risk: reversible
action_code: DOT-TEST-UNIQUE-INDEX
laws: [Đ32, Đ33, Đ35]
params:
  schema: { type: identifier, default: public, description: Schema of the accounts table. }
timeouts:
  lock_timeout_ms: 500
pre_check:
  - kind: sql
    name: The index does not exist yet
    sql: SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :'schema' AND c.relname = 'accounts_email_key'
    expect: { kind: empty }
diff:
  - kind: sql
    name: Build the unique index concurrently
    transactional: false
    sql: CREATE UNIQUE INDEX CONCURRENTLY accounts_email_key ON :"schema".accounts (email)
rollback:
  - kind: sql
    name: Drop the index
    transactional: false
    sql: DROP INDEX CONCURRENTLY IF EXISTS :"schema".accounts_email_key
post_verify:
  - kind: sql
    name: The index is valid
    sql: SELECT indisvalid::text FROM pg_index WHERE indexrelid = to_regclass(:'schema' || '.accounts_email_key')
    expect: { kind: value, equals: "true" }
`;

const INDEX_STATE = `SELECT coalesce((SELECT CASE WHEN i.indisvalid THEN 'valid' ELSE 'invalid' END
  FROM pg_index i WHERE i.indexrelid = to_regclass('public.accounts_email_key')), 'none')`;

describe('CREATE UNIQUE INDEX CONCURRENTLY on duplicate data', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('x_nontx');
    w.dots = await privateDots(w, 'dots-nontx', (dir) => writeFile(join(dir, 'DOT-TEST-UNIQUE-INDEX.yaml'), INDEX_DOT.trimStart()));
    await w.exec(`CREATE TABLE public.accounts (email text); INSERT INTO public.accounts VALUES ('a@x'), ('a@x'), ('b@x')`);
  });
  after(async () => w?.inc.cleanup());

  const proposeIndex = (): string => {
    const id = w.proposeWith(['T4'], []);
    w.approve(id);
    return id;
  };

  test('--dry-run marks the step it cannot rehearse, skips the post-verify that depends on it, exit 0', async () => {
    const id = w.proposeWith(['T4'], []);
    const r = w.cli(w.inc.reviewer2, ['apply', id, '--dry-run']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Build the unique index concurrently — not rehearsed: SQL outside a transaction would change the target/);
    assert.match(r.stdout, /The index is valid — not run: it depends on "Build the unique index concurrently" of DOT-TEST-UNIQUE-INDEX, which was not rehearsed/);
    assert.match(r.stdout, /rehearsal of .* passed \(1 step not rehearsed, 1 check that depends on it not run\); nothing was changed/);
    assert.equal(await w.scalar(INDEX_STATE), 'none');
    assert.equal(w.state(id), 'proposed');
  });

  test('apply fails ⇒ the DOT\'s rollback drops the invalid index, the pre-check proves it, exit 5 "rolled back"', async () => {
    const id = proposeIndex();
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /\[FAIL\] DOT-TEST-UNIQUE-INDEX diff · Build the unique index concurrently — SQL error 23505: could not create unique index/);
    assert.match(r.stdout, /DOT-TEST-UNIQUE-INDEX rollback · Drop the index — ok/);
    assert.match(r.stdout, /rolled back: the DOTs' rollback ran for the non-transactional steps and their pre-checks pass again, so the target is as before/);
    assert.equal(await w.scalar(INDEX_STATE), 'none', 'no invalid index is left behind');
    assert.equal(w.state(id), 'failed');
    const events = w.events(id);
    assert.ok(
      events.some((e) => e.event === 'step_passed' && (e.detail as { section?: string }).section === 'rollback'),
      JSON.stringify(events.map((e) => e.event)),
    );
    assert.equal(events.at(-1)?.event, 'rolled_back');
  });

  test('when the rollback cannot run, the report says what is left (exit 6); a gated dotctl rollback cleans up later', async () => {
    const id = proposeIndex();
    // a reader holds the table: CREATE … CONCURRENTLY still fails on the duplicates, but DROP INDEX
    // CONCURRENTLY must wait for every transaction on the table and hits the DOT's lock_timeout
    const reader = await adminClient(w.inc.db.name);
    let r: CliResult;
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM public.accounts');
      r = w.cli(w.inc.operator2, ['apply', id]);
    } finally {
      await reader.query('COMMIT').catch(() => undefined);
      await reader.end();
    }
    assert.equal(r.code, 6, `${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stdout, /rolled back|so the target is as before/);
    assert.match(r.stdout, /cannot prove the target is as before: it needs a human, then dotctl rollback P-/);
    assert.match(r.stdout, /left to do: DOT-TEST-UNIQUE-INDEX: rollback step "Drop the index" failed \(.*lock timeout/);
    assert.match(r.stdout, /pre-check "The index does not exist yet" of DOT-TEST-UNIQUE-INDEX still fails after the rollback/);
    assert.equal(await w.scalar(INDEX_STATE), 'invalid');
    assert.equal(w.state(id), 'needs_attention');

    // the approver may not clean up; the proposer's colleague (an operator who did not approve) may
    const refused = w.cli(w.inc.reviewer1, ['rollback', id]);
    assert.equal(refused.code, 3, `${refused.stdout}\n${refused.stderr}`);
    const ok = w.cli(w.inc.operator2, ['rollback', id]);
    assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
    assert.match(ok.stdout, /rolled back/);
    assert.equal(await w.scalar(INDEX_STATE), 'none');
    assert.equal(w.state(id), 'rolled_back');
  });

  test('a failed proposal can be rolled back too (nothing left: the rollback is idempotent)', async () => {
    const id = proposeIndex();
    assert.equal(w.cli(w.inc.operator2, ['apply', id]).code, 5);
    const r = w.cli(w.inc.operator2, ['rollback', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(w.state(id), 'rolled_back');
    // a proposal still waiting to be applied cannot be "rolled back"
    const fresh = w.proposeWith(['T4'], []);
    const no = w.cli(w.inc.operator2, ['rollback', fresh]);
    assert.equal(no.code, 3, `${no.stdout}\n${no.stderr}`);
    assert.match(no.stderr, /only an applied, failed or needs_attention proposal can be rolled back/);
  });

  test('a rollback written as transactional SQL (DROP INDEX IF EXISTS) also runs and proves the target as before', async () => {
    const before = w.dots;
    w.dots = await privateDots(w, 'dots-nontx-txrb', async (dir) => {
      const f = join(dir, 'DOT-TEST-UNIQUE-INDEX.yaml');
      await writeFile(f, INDEX_DOT.trimStart());
      await replaceIn(
        f,
        `    transactional: false
    sql: DROP INDEX CONCURRENTLY IF EXISTS`,
        `    sql: DROP INDEX IF EXISTS`,
      );
    });
    try {
      const id = proposeIndex();
      const r = w.cli(w.inc.operator2, ['apply', id]);
      assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /DOT-TEST-UNIQUE-INDEX rollback · Drop the index — ok/);
      assert.match(r.stdout, /so the target is as before/);
      assert.equal(await w.scalar(INDEX_STATE), 'none');
    } finally {
      w.dots = before;
    }
  });

  test('on clean data the same DOT applies and its index is valid', async () => {
    await w.exec(`DELETE FROM public.accounts WHERE ctid NOT IN (SELECT min(ctid) FROM public.accounts GROUP BY email)`);
    const id = proposeIndex();
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await w.scalar(INDEX_STATE), 'valid');
  });
});

describe('validate: the rollback of a non-transactional diff must be idempotent', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('x_nontx_v');
  });
  after(async () => w?.inc.cleanup());

  test('DROP INDEX CONCURRENTLY without IF EXISTS is refused, naming the file and the way out', async () => {
    w.dots = await privateDots(w, 'dots-nontx-bad', async (dir) => {
      const f = join(dir, 'DOT-TEST-UNIQUE-INDEX.yaml');
      await writeFile(f, INDEX_DOT.trimStart());
      await replaceIn(f, 'DROP INDEX CONCURRENTLY IF EXISTS', 'DROP INDEX CONCURRENTLY');
    });
    const r = w.cli(null, ['validate']);
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /DOT-TEST-UNIQUE-INDEX\.yaml:\d+:\d+: .*rollback.*must be idempotent.*IF EXISTS/);
  });
});
