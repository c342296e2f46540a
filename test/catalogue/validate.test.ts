import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateCatalogue, type CatalogueSource } from '../../src/catalogue/validate.js';
import { formatProblem } from '../../src/model/errors.js';

const MINI = 'test/fixtures/mini';

/** The mini catalogue as texts, with optional replacements per file. */
function mini(edit: Record<string, string | null> = {}): CatalogueSource {
  const dots: { file: string; text: string }[] = [];
  const sideFiles = new Map<string, string>();
  let laws: { file: string; text: string } | null = null;
  const names = new Set([...readdirSync(MINI), ...Object.keys(edit)]);
  for (const name of [...names].sort()) {
    const text = name in edit ? edit[name] : readFileSync(join(MINI, name), 'utf8');
    if (text === null || text === undefined) continue;
    const file = `${MINI}/${name}`;
    if (name === 'laws.yaml') laws = { file, text };
    else if (name.endsWith('.yaml')) dots.push({ file, text });
    else sideFiles.set(name, text);
  }
  return { dots, laws, sideFiles, dir: `${MINI}/` };
}

function problems(edit: Record<string, string | null>): string[] {
  const r = validateCatalogue(mini(edit));
  assert.equal(r.kind, 'invalid', 'expected the catalogue to be rejected');
  return r.kind === 'invalid' ? r.problems.map(formatProblem) : [];
}

const grant = readFileSync(join(MINI, 'DOT-T-GRANT.yaml'), 'utf8');

test('the mini catalogue is valid', () => {
  const r = validateCatalogue(mini());
  assert.equal(r.kind, 'valid');
  if (r.kind === 'valid') assert.deepEqual([...r.catalogue.dots.keys()], ['DOT-T-DROP', 'DOT-T-GRANT', 'DOT-T-HARDEN']);
});

test('an unknown key is reported at its own line and column', () => {
  const text = grant.replace('risk: reversible', 'risk: reversible\nrisky: yes');
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  assert.deepEqual(p, [`${MINI}/DOT-T-GRANT.yaml:8:1: unknown key "risky" in document`]);
});

test('wrong types, unknown step kinds and undeclared params are all reported at once', () => {
  const text = grant
    .replace('version: 1', 'version: one')
    .replace('    name: grant usage\n    sql: GRANT', '    name: grant usage\n    sql: GRANT')
    .replace('  - kind: sql\n    name: revoke usage', '  - kind: shell\n    name: revoke usage')
    .replace(`sql: COMMENT ON SCHEMA :"schema" IS :'note'`, `sql: COMMENT ON SCHEMA :"schema" IS :'nope'`);
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  assert.ok(
    p.some((l) => /DOT-T-GRANT\.yaml:2:10: version: /.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /DOT-T-GRANT\.yaml:28:11: rollback\[0\]\.kind: Invalid discriminator value/.test(l)),
    p.join('\n'),
  );
  // the well-formed steps are checked in the same pass: the undeclared parameter is named too
  assert.ok(
    p.some((l) => /DOT-T-GRANT\.yaml:26:10: :'nope' is used but no parameter nope is declared under params; did you mean note\?$/.test(l)),
    p.join('\n'),
  );
  assert.equal(p.length, 3, 'nothing is reported about what the malformed step might have used');
});

test('undeclared, bare and mistyped parameter uses are named with their step', () => {
  const text = grant
    .replace(`sql: COMMENT ON SCHEMA :"schema" IS :'note'`, `sql: COMMENT ON SCHEMA :"note" IS :'nope'`)
    .replace(`sql: REVOKE USAGE ON SCHEMA :"schema" FROM :"role"`, `sql: REVOKE USAGE ON SCHEMA :schema FROM :"role"`);
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  assert.ok(
    p.some((l) => /:26:10: :"note" is used as an identifier but parameter note is declared text/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /:26:10: :'nope' is used but no parameter nope is declared/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /:30:10: :schema would be pasted raw/.test(l)),
    p.join('\n'),
  );
});

test('malformed YAML and duplicate keys give positions', () => {
  const p = problems({ 'DOT-T-GRANT.yaml': grant.replace('title: Grant usage', 'title: Grant usage\ntitle: again') });
  assert.match(p[0] ?? '', /DOT-T-GRANT\.yaml:5:1: malformed YAML: Map keys must be unique/);
  const q = problems({ 'DOT-T-GRANT.yaml': 'id: [unclosed\n' });
  assert.match(q[0] ?? '', /DOT-T-GRANT\.yaml:\d+:\d+: malformed YAML/);
});

test('unknown laws and companions, duplicate ids and file-name mismatches are reported', () => {
  const p = problems({
    'DOT-T-GRANT.yaml': grant.replace('laws: [L1]', 'laws: [L1, L99]').replace('companions: [DOT-T-HARDEN]', 'companions: [DOT-T-NOPE]'),
  });
  assert.ok(
    p.some((l) => /DOT-T-GRANT\.yaml:9:\d+: unknown law L99/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /DOT-T-GRANT\.yaml:10:\d+: unknown companion DOT-T-NOPE/.test(l)),
    p.join('\n'),
  );
  p.splice(0, p.length, ...problems({ 'DOT-T-COPY.yaml': grant }));
  assert.ok(
    p.some((l) => /DOT-T-COPY\.yaml:1:5: DOT DOT-T-GRANT must live in a file named DOT-T-GRANT\.yaml/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /duplicate DOT id DOT-T-GRANT/.test(l)),
    p.join('\n'),
  );
});

test('an irreversible DOT without an archive before its diff cannot satisfy its laws', () => {
  const drop = readFileSync(join(MINI, 'DOT-T-DROP.yaml'), 'utf8');
  const swapped = drop.replace(
    / {2}- kind: archive\n {4}name: pre-archive\n {4}schema: "\{\{schema\}\}"\n {4}to: "\{\{archive_dir\}\}\/\{\{schema\}\}\.dump"\n {2}- kind: sql\n {4}name: drop\n {4}sql: DROP SCHEMA :"schema" CASCADE\n/,
    '  - kind: sql\n    name: drop\n    sql: DROP SCHEMA :"schema" CASCADE\n  - kind: archive\n    name: pre-archive\n    schema: "{{schema}}"\n    to: "{{archive_dir}}/{{schema}}.dump"\n',
  );
  assert.notEqual(swapped, drop);
  const p = problems({ 'DOT-T-DROP.yaml': swapped });
  assert.ok(
    p.some((l) => /DOT-T-DROP\.yaml:\d+:\d+: L-IRR, risk:irreversible require an archive step before the first change in diff/.test(l)),
    p.join('\n'),
  );
});

test('a missing rollback or post-verify is refused when a cited law requires it', () => {
  const noRollback = grant.replace(/rollback:\n {2}- kind: sql\n {4}name: revoke usage\n {4}sql: .*\n/, '');
  const p = problems({ 'DOT-T-GRANT.yaml': noRollback });
  assert.ok(
    p.some((l) => /L1 require a rollback section/.test(l)),
    p.join('\n'),
  );
});

test('a patch without its reverse in rollback, a missing diff file and a check without expect are refused', () => {
  const harden = readFileSync(join(MINI, 'DOT-T-HARDEN.yaml'), 'utf8');
  const p = problems({
    'DOT-T-HARDEN.yaml': harden.replace('    reverse: true\n', '').replace('diff_file: harden.diff\nrollback', 'diff_file: missing.diff\nrollback'),
    'DOT-T-GRANT.yaml': grant.replace('    expect: { kind: non_empty }\n', ''),
  });
  assert.ok(
    p.some((l) => /DOT-T-HARDEN\.yaml:18:5: patch "add set -e" has no reverse patch/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /DOT-T-HARDEN\.yaml:21:16: diff file test\/fixtures\/mini\/missing\.diff does not exist/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /DOT-T-GRANT\.yaml:16:5: the check "schema exists" in hard_stops needs an expect/.test(l)),
    p.join('\n'),
  );
});

test('a secret used in argv is refused; a secret default is refused', () => {
  const harden = readFileSync(join(MINI, 'DOT-T-HARDEN.yaml'), 'utf8');
  const text = harden
    .replace('params:\n', 'params:\n  pw: { type: secret, description: pw, default: hunter2 }\n')
    .replace('argv: [bash, -n, "{{script}}"]', 'argv: [bash, -n, "{{script}}", "{{pw}}"]');
  const p = problems({ 'DOT-T-HARDEN.yaml': text });
  assert.ok(
    p.some((l) => /secret and cannot have a default/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /secret parameter pw may only appear in SQL literals or a command's env/.test(l)),
    p.join('\n'),
  );
});

test('a YAML alias bomb is refused with a message, not a hang', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
  const p = problems({ 'DOT-T-GRANT.yaml': bomb });
  assert.match(p[0] ?? '', /DOT-T-GRANT\.yaml:1:1: YAML cannot be read/);
});

test('a missing law registry is reported', () => {
  const p = problems({ 'laws.yaml': null });
  assert.ok(p.some((l) => /law registry laws\.yaml is missing/.test(l)));
});

test('mistyped keys, step kinds, enum values, laws and parameters get a "did you mean"', () => {
  const text = grant
    .replace('expect: { kind: value, equals: "true" }', 'expect: { kind: value, equal: "true" }')
    .replace('    sql: COMMENT ON SCHEMA', '    transactionl: true\n    sql: COMMENT ON SCHEMA')
    .replace('  - kind: sql\n    name: revoke usage', '  - kind: sqll\n    name: revoke usage')
    .replace('risk: reversible', 'risk: reversable')
    .replace('laws: [L1]', 'laws: [L-IRX]')
    .replace("IS :'note'", "IS :'notes'");
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  const want = [
    /:7:7: risk: Invalid option: expected one of "reversible"\|"irreversible"; did you mean "reversible"\?$/,
    /:9:8: unknown law L-IRX; known laws: L1, L-IRR; did you mean L-IRR\?$/,
    /:26:5: unknown key "transactionl" in diff\[1\]; did you mean "transactional"\?$/,
    /:27:10: :'notes' is used but no parameter notes is declared under params; did you mean note\?$/,
    /:29:11: rollback\[0\]\.kind: Invalid discriminator value\. .*; did you mean "sql"\?$/,
    /:36:28: unknown key "equal" in post_verify\[0\]\.expect; did you mean "equals"\?$/,
  ];
  for (const re of want)
    assert.ok(
      p.some((l) => re.test(l)),
      `${re} not in\n${p.join('\n')}`,
    );
  // the missing `equals` is the mistyped `equal`: said once, not twice
  assert.ok(!p.some((l) => /equals: missing/.test(l)), p.join('\n'));
  assert.equal(p.length, want.length, p.join('\n'));
});

test('a missing key names what to add; a missing step kind lists the kinds its section allows', () => {
  const text = grant.replace('title: Grant usage\n', '').replace('  - kind: sql\n    name: revoke usage', '  - name: revoke usage');
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  assert.ok(
    p.some((l) => /:1:1: title: missing; add title \(string\)$/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /rollback\[0\]\.kind: missing; add kind \(one of restore, sql, patch, command\)$/.test(l)),
    p.join('\n'),
  );
});

test('a malformed step does not hide the SQL rules of its neighbours, nor stop the law rules that do not need it', () => {
  const text = grant
    .replace('    name: grant usage\n', '    name: grant usage\n    expect: { kind: rows }\n')
    .replace("WHERE nspname = :'schema'", "WHERE nspname = :'schema'; SELECT 2")
    .replace(/rollback:\n {2}- kind: sql\n {4}name: revoke usage\n {4}sql: .*\n/, '');
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  assert.ok(
    p.some((l) => /diff\[0\]\.expect\.count: missing/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /:18:\d+: hard_stops\[0\] "schema exists": a check must be exactly one read-only statement/.test(l)),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => /L1 require a rollback section/.test(l)),
    p.join('\n'),
  );
  // the malformed step may use any parameter: "never used" waits until it is well-formed
  assert.ok(!p.some((l) => /declared but never used/.test(l)), p.join('\n'));
});
