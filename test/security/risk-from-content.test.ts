/**
 * THREAT-MODEL §3: risk is derived from the change, not from its label. The attack: an author
 * labels a destructive change `reversible` to halve the approvals it needs. Through the built CLI,
 * `validate` refuses each such DOT naming the statement, and `list` of the untouched catalogue
 * still works (the legitimate path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasStackTrace, runCli } from '../helpers/cli.js';

const DESTRUCTIVE = [
  ['DROP TABLE', 'DROP TABLE :"schema".t'],
  ['TRUNCATE', 'TRUNCATE :"schema".t'],
  ['DELETE without WHERE', 'DELETE FROM :"schema".t'],
  ['UPDATE without WHERE', 'UPDATE :"schema".t SET a = 1'],
  ['ALTER TABLE … DROP COLUMN', 'ALTER TABLE :"schema".t DROP COLUMN a'],
  ['ALTER COLUMN … TYPE', 'ALTER TABLE :"schema".t ALTER COLUMN a TYPE text'],
  ['DROP ROLE', 'DROP ROLE :"role"'],
  ['DROP SCHEMA', 'DROP SCHEMA :"schema"'],
  ['a CALL (cannot be classified)', 'CALL :"schema".cleanup()'],
] as const;

function catalogueWith(sql: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-risk-'));
  cpSync(resolve('test/fixtures/mini'), dir, { recursive: true });
  const file = join(dir, 'DOT-T-GRANT.yaml');
  const text = readFileSync(file, 'utf8');
  if (sql === null) return dir;
  const edited = text.replace('sql: GRANT USAGE ON SCHEMA :"schema" TO :"role"', `sql: ${JSON.stringify(sql)}`);
  assert.notEqual(edited, text, 'the fixture has the step the attack replaces');
  writeFileSync(file, edited);
  return dir;
}

for (const [what, sql] of DESTRUCTIVE) {
  test(`a DOT labelled reversible whose diff does ${what} is refused by validate (exit 2, naming it)`, () => {
    const dir = catalogueWith(sql);
    try {
      const r = runCli(['--dots', dir, 'validate']);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /DOT-T-GRANT\.yaml:\d+:\d+: .*labelled risk: reversible/);
      assert.match(r.stderr, /risk: irreversible/);
      assert.ok(!hasStackTrace(r.stderr));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('the legitimate path: the untouched catalogue validates, and a non-destructive diff stays reversible', () => {
  const dir = catalogueWith(null);
  try {
    const v = runCli(['--dots', dir, 'validate']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const l = runCli(['--dots', dir, 'list', '--json']);
    assert.equal(l.code, 0, l.stderr);
    const grant = (JSON.parse(l.stdout) as { id: string; risk: string }[]).find((d) => d.id === 'DOT-T-GRANT');
    assert.equal(grant?.risk, 'reversible');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
