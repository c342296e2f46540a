/**
 * Authoring through the built CLI: `dotctl new` writes a skeleton that `validate` answers with
 * one "fill this in" problem per TODO (exit 2), and that validates once they are filled;
 * `patch make` writes a diff that a patch step and its reverse accept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../helpers/cli.js';

async function catalogue(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dotctl-authoring-'));
  await copyFile(resolve('dots/laws.yaml'), join(dir, 'laws.yaml'));
  return dir;
}

test('new writes a skeleton with the $schema line; validate lists only what is left to fill; filled, it validates', async () => {
  const dir = await catalogue();
  const r = runCli(['--dots', dir, 'new', 'DOT-MY-INDEX']);
  assert.equal(r.code, 0, r.stderr);
  const file = join(dir, 'DOT-MY-INDEX.yaml');
  let text = await readFile(file, 'utf8');
  assert.match(text, /^# yaml-language-server: \$schema=\.\.\/schemas\/dot\.schema\.json/);
  const v = runCli(['--dots', dir, 'validate']);
  assert.equal(v.code, 2);
  const lines = v.stderr.trim().split('\n').slice(0, -1);
  assert.equal(lines.length, 14, v.stderr);
  for (const l of lines) assert.match(l, /DOT-MY-INDEX\.yaml:\d+:\d+: fill this in: .* still says TODO/);
  assert.equal(runCli(['--dots', dir, 'new', 'DOT-MY-INDEX']).code, 2, 'an existing file is not overwritten');

  const fill: [RegExp, string][] = [
    [/option: TODO.*/, 'option: X'],
    [/title: TODO.*/, 'title: Index the orders'],
    [/ {2}TODO why.*/, '  Orders are slow to find by customer.'],
    [/applies_when: TODO.*/, 'applies_when: Always.'],
    [/laws: \[TODO[^\]]*\]/, 'laws: [Đ32]'],
    [/description: TODO.*/, 'description: The schema'],
    [/name: TODO what must be true.*/, 'name: Schema is not empty'],
    [/sql: TODO one read-only SELECT\n {4}expect: \{ kind: empty \}/, 'sql: SELECT 1 WHERE false\n    expect: { kind: empty }'],
    [/name: TODO the change/, 'name: Comment the schema'],
    [/sql: TODO the statement;.*/, 'sql: COMMENT ON SCHEMA :"schema" IS \'indexed\''],
    [/name: TODO undo the change/, 'name: Remove the comment'],
    [/sql: TODO the statement that puts.*/, 'sql: COMMENT ON SCHEMA :"schema" IS NULL'],
    [/name: TODO what proves.*/, 'name: Comment is set'],
    [/sql: TODO one read-only SELECT/, "sql: SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :'schema'"],
  ];
  for (const [from, to] of fill) text = text.replace(from, to);
  await writeFile(file, text);
  const ok = runCli(['--dots', dir, 'validate']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('patch make writes the diff beside the DOTs and prints the diff and reverse steps with their sha256 pins', async () => {
  const dir = await catalogue();
  const original = join(dir, 'orig.sh');
  const edited = join(dir, 'edited.sh');
  await writeFile(original, '#!/bin/bash\necho one\necho two\n');
  await writeFile(edited, '#!/bin/bash\necho one\necho 2\n');
  const r = runCli(['--dots', dir, 'patch', 'make', original, edited, '--name', 'my-edit']);
  assert.equal(r.code, 0, r.stderr);
  const diff = await readFile(join(dir, 'my-edit.diff'), 'utf8');
  assert.match(diff, /^--- .*orig\.sh\n\+\+\+ .*orig\.sh\n@@ -1,3 \+1,3 @@/);
  assert.match(r.stdout, /diff_file: my-edit\.diff/);
  assert.match(r.stdout, /reverse: true/);
  assert.equal((r.stdout.match(/sha256: [0-9a-f]{64}/g) ?? []).length, 2);
  assert.equal(runCli(['--dots', dir, 'patch', 'make', original, original]).code, 2, 'identical files are refused');
});
