/**
 * Attack: a DOT author hides a change in a check that runs before anyone approved anything.
 * `propose` runs hard stops and pre-checks inside a READ ONLY transaction; over the simple
 * query protocol `SELECT 1; COMMIT; DROP SCHEMA victim CASCADE` ends that transaction and drops
 * the schema in autocommit. Two walls stop it: validation parses the SQL and refuses anything
 * but one read-only statement (exit 2, file:line:col), and the check runner sends every check
 * over the extended protocol, which carries one statement only — even if validation were
 * bypassed. Beside them, the legitimate path: a normal pre-check validates and runs.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { admitAll, type KeyHolder } from '../helpers/admission.js';
import { registerFixture } from '../helpers/genesis.js';
import { runCli, hasStackTrace } from '../helpers/cli.js';
import { adminClient, createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { generateKeyFile } from '../../src/gate/keys.js';
import { checkSql } from '../../src/exec/checks.js';
import { resolveTarget, withTarget, withTransaction } from '../../src/exec/target.js';

/** A DOT whose pre-check is `preCheck` (a YAML block literal). */
function dotWith(id: string, preCheck: string): string {
  return `id: ${id}
version: 1
option: X
title: Comment on a schema
summary: Sets a comment on the victim schema.
applies_when: Always.
risk: reversible
action_code: ${id}
laws: [Đ35]
pre_check:
  - kind: sql
    name: hostile check
    sql: |
${preCheck
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
    expect: { kind: rows, count: 1 }
diff:
  - kind: sql
    name: comment
    sql: COMMENT ON SCHEMA victim IS 'governed'
rollback:
  - kind: sql
    name: uncomment
    sql: COMMENT ON SCHEMA victim IS NULL
`;
}

/** label, the pre-check's SQL (starts on line 14, column 7 of the DOT file), where the problem is, what it says */
const ATTACKS: readonly [string, string, string, RegExp][] = [
  ['commit-then-drop', 'SELECT 1; COMMIT; DROP SCHEMA victim CASCADE', '14:17', /found 3 statements: SELECT, COMMIT, DROP SCHEMA … CASCADE/],
  ['comment-hidden', 'SELECT 1 /* harmless */ ;\n-- still a check\nROLLBACK; DROP SCHEMA victim CASCADE', '16:7', /found 3 statements: SELECT, ROLLBACK, DROP SCHEMA … CASCADE/],
  ['cte-delete', 'WITH gone AS (DELETE FROM victim.data RETURNING *) SELECT count(*) FROM gone', '14:7', /found SELECT \(a data-modifying DELETE inside the query\)/],
  ['read-write', 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', '14:7', /SET SESSION CHARACTERISTICS is transaction control/],
];

async function victimExists(db: ScratchDb): Promise<{ schema: boolean; rows: number }> {
  const c = await adminClient(db.name);
  try {
    const s = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = 'victim'");
    if (s.rowCount === 0) return { schema: false, rows: 0 };
    const r = await c.query('SELECT count(*)::int AS n FROM victim.data');
    return { schema: true, rows: (r.rows[0] as { n: number }).n };
  } finally {
    await c.end();
  }
}

describe('checks that run before approval are read-only by construction', () => {
  let db: ScratchDb;
  let dir: string;
  let flags: string[];
  let operatorKey: string;
  let reviewers: KeyHolder[] = [];

  before(async () => {
    db = await createScratchDb('readonly');
    const c = await adminClient(db.name);
    try {
      await c.query('CREATE SCHEMA victim; CREATE TABLE victim.data (id int); INSERT INTO victim.data SELECT generate_series(1, 5)');
    } finally {
      await c.end();
    }
    dir = await mkdtemp(join(tmpdir(), 'dotctl-readonly-'));
    await mkdir(join(dir, 'dots'));
    await copyFile(resolve('dots/laws.yaml'), join(dir, 'dots/laws.yaml'));
    const g = await generateKeyFile('olga', join(dir, 'keys'));
    operatorKey = g.file;
    const rita = await generateKeyFile('rita', join(dir, 'keys'));
    const raj = await generateKeyFile('raj', join(dir, 'keys'));
    reviewers = [
      { name: 'rita', key: rita.file },
      { name: 'raj', key: raj.file },
    ];
    await writeFile(
      join(dir, 'identities.yaml'),
      `identities:\n  - name: olga\n    roles: [operator]\n    public_key: ${g.publicKey}\n  - name: rita\n    roles: [reviewer]\n    public_key: ${rita.publicKey}\n  - name: raj\n    roles: [reviewer]\n    public_key: ${raj.publicKey}\n`,
    );
    flags = ['--dots', join(dir, 'dots'), '--ledger', join(dir, 'ledger.db'), '--identities', join(dir, 'identities.yaml'), '--target', db.url];
    // admitAll gives the ledger this file as its genesis registry, signed by all three
    registerFixture(join(dir, 'identities.yaml'), [g.file, rita.file, raj.file]);
  });
  after(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [label, sql, at, why] of ATTACKS) {
    test(`propose with a hostile pre-check (${label}) is refused before it runs; validate names file:line:col`, async () => {
      const id = `DOT-T-${label.toUpperCase()}`;
      const file = join(dir, 'dots', `${id}.yaml`);
      await writeFile(file, dotWith(id, sql));
      try {
        const p = runCli([...flags, '--key', operatorKey, 'propose', id], { cwd: dir });
        assert.equal(p.code, 2, p.stderr);
        assert.deepEqual(await victimExists(db), { schema: true, rows: 5 }, 'the victim schema and its rows survive');
        const v = runCli([...flags, 'validate'], { cwd: dir });
        assert.equal(v.code, 2, v.stdout);
        const out = v.stdout + v.stderr;
        const line = out.split('\n').find((l) => why.test(l)) ?? '';
        assert.ok(line.startsWith(`${file}:${at}: pre_check[0] "hostile check": `), out);
        assert.ok(!hasStackTrace(out), out);
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  test('second wall: checkSql refuses several statements even if validation were bypassed', async () => {
    const step = { kind: 'sql' as const, name: 'hostile', sql: '', expect: { kind: 'rows' as const, count: 1 }, transactional: true };
    const outcomes = await withTarget(resolveTarget(db.url), {}, async (s) =>
      withTransaction(s.client, { readOnly: true, rollback: true }, async () => {
        const a = await checkSql(s.client, step, 'SELECT 1; COMMIT; DROP SCHEMA victim CASCADE', []);
        return [a];
      }),
    ).catch((err: Error) => [{ outcome: 'thrown', observed: err.message, expected: '' }]);
    const withValues = await withTarget(resolveTarget(db.url), {}, async (s) =>
      withTransaction(s.client, { readOnly: true, rollback: true }, () => checkSql(s.client, step, 'SELECT $1::text; COMMIT; DROP SCHEMA victim CASCADE', ['x'])),
    );
    assert.deepEqual(await victimExists(db), { schema: true, rows: 5 }, 'the victim schema and its rows survive');
    assert.equal(outcomes[0]?.outcome, 'error', JSON.stringify(outcomes));
    assert.match(outcomes[0]?.observed ?? '', /cannot insert multiple commands into a prepared statement/);
    assert.equal(withValues.outcome, 'error');
  });

  test('legitimate path: a read-only pre-check validates, and propose runs it as evidence', async () => {
    const id = 'DOT-T-LEGIT';
    await writeFile(join(dir, 'dots', `${id}.yaml`), dotWith(id, "SELECT nspname FROM pg_namespace\nWHERE nspname = 'victim' -- ; COMMIT in a comment is fine\n  AND 'COMMIT; DROP' IS NOT NULL"));
    const v = runCli([...flags, 'validate'], { cwd: dir });
    assert.equal(v.code, 0, v.stdout + v.stderr);
    admitAll(flags, reviewers, dir);
    const p = runCli([...flags, '--key', operatorKey, 'propose', id, '--json', '--out', join(dir, 'legit.md')], { cwd: dir });
    assert.equal(p.code, 0, p.stderr);
    const j = JSON.parse(p.stdout) as { evidence: { name: string; outcome: string; observed: string }[] };
    assert.deepEqual(
      j.evidence.map((e) => [e.name, e.outcome, e.observed]),
      [['hostile check', 'passed', '1 row(s): victim']],
    );
    assert.deepEqual(await victimExists(db), { schema: true, rows: 5 });
  });

  test('a pre-check command runs before approval only when the admitted DOT marks it read_only; otherwise the evidence says not run', async () => {
    const pwned = join(dir, 'pwned');
    const id = 'DOT-T-CMD';
    const yaml = dotWith(id, 'SELECT 1').replace(
      'pre_check:\n',
      `pre_check:\n  - kind: command\n    name: writes a file\n    argv: [touch, ${JSON.stringify(pwned)}]\n  - kind: command\n    name: reads the directory\n    read_only: true\n    argv: [test, -d, ${JSON.stringify(dir)}]\n`,
    );
    await writeFile(join(dir, 'dots', `${id}.yaml`), yaml);
    try {
      admitAll(flags, reviewers, dir);
      const p = runCli([...flags, '--key', operatorKey, 'propose', id, '--json', '--out', join(dir, 'cmd.md')], { cwd: dir });
      assert.equal(p.code, 0, p.stderr);
      const j = JSON.parse(p.stdout) as { evidence: { name: string; outcome: string; observed: string }[] };
      const byName = Object.fromEntries(j.evidence.map((e) => [e.name, [e.outcome, e.observed]]));
      assert.deepEqual(byName['writes a file'], ['not_run', 'not run before approval: the DOT does not mark this command read_only']);
      assert.equal(byName['reads the directory']?.[0], 'passed');
      assert.equal(existsSync(pwned), false, 'a command not marked read_only ran before approval');
      // read_only belongs to the checks that run before approval only
      await writeFile(join(dir, 'dots', `${id}.yaml`), yaml.replace('diff:\n  - kind: sql\n', 'diff:\n  - kind: sql\n    read_only: true\n'));
      const v = runCli([...flags, 'validate'], { cwd: dir });
      assert.equal(v.code, 2, v.stdout + v.stderr);
    } finally {
      await rm(join(dir, 'dots', `${id}.yaml`), { force: true });
    }
  });
});
