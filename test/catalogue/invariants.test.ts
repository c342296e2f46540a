/**
 * The `invariants:` section and standing post-verify checks: read-only checks under the pre-check
 * rules (one read-only SQL statement with an expect, commands only when marked read_only), a
 * remedy that names a known DOT and parameters it declares, and a DOT without invariants whose
 * rendered proposal and hash are exactly what they were before the section existed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { validateCatalogue, type CatalogueSource } from '../../src/catalogue/validate.js';
import { formatProblem } from '../../src/model/errors.js';
import { loadCatalogue } from '../../src/catalogue/load.js';

const MINI = 'test/fixtures/mini';
const grant = readFileSync(join(MINI, 'DOT-T-GRANT.yaml'), 'utf8');

function mini(edit: Record<string, string>): CatalogueSource {
  const dots: { file: string; text: string }[] = [];
  const sideFiles = new Map<string, string>();
  let laws: { file: string; text: string } | null = null;
  for (const name of readdirSync(MINI).sort()) {
    const text = edit[name] ?? readFileSync(join(MINI, name), 'utf8');
    const file = `${MINI}/${name}`;
    if (name === 'laws.yaml') laws = { file, text };
    else if (name.endsWith('.yaml')) dots.push({ file, text });
    else sideFiles.set(name, text);
  }
  return { dots, laws, sideFiles, dir: `${MINI}/` };
}

function problems(text: string): string[] {
  const r = validateCatalogue(mini({ 'DOT-T-GRANT.yaml': text }));
  return r.kind === 'invalid' ? r.problems.map(formatProblem) : [];
}

const withInvariants = (yaml: string): string => `${grant}invariants:\n${yaml}`;

test('a read-only SQL invariant with an expect and a remedy naming a known DOT is valid', () => {
  const text = withInvariants(
    `  - kind: sql\n    name: usage everywhere\n    sql: SELECT nspname AS schema FROM pg_namespace WHERE NOT has_schema_privilege(:'role', oid, 'USAGE')\n    expect: { kind: empty }\n    remedy: { dot: DOT-T-GRANT, params_from_columns: { schema: schema } }\n  - kind: sql\n    name: self\n    sql: SELECT 1 AS s\n    expect: { kind: empty }\n    remedy: { params_from_columns: { schema: s } }\n`,
  );
  assert.deepEqual(problems(text), []);
  const r = validateCatalogue(mini({ 'DOT-T-GRANT.yaml': text }));
  assert.equal(r.kind === 'valid' && r.catalogue.dots.get('DOT-T-GRANT')?.spec.invariants?.length, 2);
});

test('an invariant that writes, lacks an expect, or runs a command not marked read_only is refused', () => {
  const got = problems(
    withInvariants(
      [
        '  - kind: sql\n    name: writes\n    sql: DELETE FROM t WHERE true\n    expect: { kind: empty }',
        '  - kind: sql\n    name: no expect\n    sql: SELECT 1',
        '  - kind: command\n    name: unmarked\n    argv: [ls]',
        '  - kind: patch\n    name: a patch\n    file: /tmp/x\n    diff: x',
      ].join('\n') + '\n',
    ),
  );
  const text = got.join('\n');
  assert.match(text, /invariants\[0\] "writes": a check must be one read-only statement/);
  assert.match(text, /the check "no expect" in invariants needs an expect/);
  assert.match(text, /the command "unmarked" runs unattended under dotctl watch, so it must only read: mark it read_only: true/);
  assert.match(text, /a patch step is not allowed in invariants/);
});

test('standing belongs to post_verify; a standing command must be read_only; a remedy must name a DOT and its parameters', () => {
  const standingPre = grant.replace('    expect: { kind: non_empty }\n', '    expect: { kind: non_empty }\n    standing: true\n');
  assert.match(problems(standingPre).join('\n'), /standing is for post_verify checks/);
  const standingCmd = `${grant}  - kind: command\n    name: smoke\n    argv: [ls]\n    standing: true\n`;
  assert.match(problems(standingCmd).join('\n'), /the command "smoke" runs unattended under dotctl watch/);
  const standingCmdOk = `${grant}  - kind: command\n    name: smoke\n    argv: [ls]\n    standing: true\n    read_only: true\n`;
  assert.deepEqual(problems(standingCmdOk), []);
  const badRemedy = withInvariants(
    `  - kind: sql\n    name: r\n    sql: SELECT 1 AS s\n    expect: { kind: empty }\n    remedy: { dot: DOT-T-GRANTT, params_from_columns: { schema: s } }\n  - kind: sql\n    name: r2\n    sql: SELECT 1 AS s\n    expect: { kind: empty }\n    remedy: { dot: DOT-T-GRANT, params_from_columns: { shema: s } }\n`,
  );
  const text = problems(badRemedy).join('\n');
  assert.match(text, /unknown remedy DOT DOT-T-GRANTT; .*did you mean/);
  assert.match(text, /DOT-T-GRANT declares no parameter shema; did you mean schema\?/);
});

test('a DOT without invariants renders and hashes as before the section existed (the golden B, C1 and C2 did not change)', async () => {
  const cat = await loadCatalogue('dots');
  const b = cat.dots.get('DOT-PG-NEW-ROLE')!;
  assert.equal('invariants' in b.spec, false, 'no invariants key is added to a DOT that has none');
  const golden = readFileSync('proposals/DOT-PG-NEW-ROLE.json', 'utf8');
  assert.doesNotMatch(golden, /invariants/);
});

test("D's standing sha256 is the sha256 of the hardened example script", async () => {
  const cat = await loadCatalogue('dots');
  const inv = cat.dots.get('DOT-BACKUP-SCRIPT-HARDEN')!.spec.invariants?.[0];
  assert.equal(inv?.kind, 'file');
  const sha = createHash('sha256').update(readFileSync('examples/pg-backup.hardened.sh')).digest('hex');
  assert.equal(inv?.kind === 'file' ? inv.sha256 : null, sha);
});
