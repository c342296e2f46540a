/**
 * The SQL rules of validation (parsed with the real PostgreSQL parser) and risk derived from a
 * DOT's content: problems at the line and column inside the SQL, seed DOTs kept valid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateCatalogue, type CatalogueSource } from '../../src/catalogue/validate.js';
import { readCatalogueSource } from '../../src/catalogue/load.js';
import { effectiveRisk } from '../../src/catalogue/risk.js';
import { gateRequirements } from '../../src/catalogue/laws.js';
import { DotSchema, type Law } from '../../src/catalogue/schema.js';
import { renderProposal } from '../../src/render/proposal.js';
import { bindParams } from '../../src/catalogue/params.js';
import { formatProblem } from '../../src/model/errors.js';
import { parse } from 'yaml';

const MINI = 'test/fixtures/mini';

function mini(edit: Record<string, string> = {}): CatalogueSource {
  const dots: { file: string; text: string }[] = [];
  const sideFiles = new Map<string, string>();
  let laws: { file: string; text: string } | null = null;
  for (const name of [...new Set([...readdirSync(MINI), ...Object.keys(edit)])].sort()) {
    const text = edit[name] ?? readFileSync(join(MINI, name), 'utf8');
    const file = `${MINI}/${name}`;
    if (name === 'laws.yaml') laws = { file, text };
    else if (name.endsWith('.yaml')) dots.push({ file, text });
    else sideFiles.set(name, text);
  }
  return { dots, laws, sideFiles, dir: `${MINI}/` };
}

function problems(edit: Record<string, string>): string[] {
  const r = validateCatalogue(mini(edit));
  assert.equal(r.kind, 'invalid', 'expected the catalogue to be rejected');
  return r.kind === 'invalid' ? r.problems.map(formatProblem) : [];
}

const grant = readFileSync(join(MINI, 'DOT-T-GRANT.yaml'), 'utf8');
const G = `${MINI}/DOT-T-GRANT.yaml`;
const HARD_STOP = `    sql: SELECT 1 FROM pg_namespace WHERE nspname = :'schema'\n    expect: { kind: non_empty }`;

test('a check holding several statements is refused at the second one, naming what was found', () => {
  const p = problems({
    'DOT-T-GRANT.yaml': grant.replace(HARD_STOP, `    sql: SELECT 1 FROM pg_namespace WHERE nspname = :'schema'; COMMIT; DROP SCHEMA :"schema" CASCADE\n    expect: { kind: non_empty }`),
  });
  assert.deepEqual(p, [
    `${G}:18:64: hard_stops[0] "schema exists": COMMIT is transaction control, which no DOT step may contain; the engine opens, commits and rolls back the transaction itself`,
    `${G}:18:64: hard_stops[0] "schema exists": a check must be exactly one read-only statement (SELECT, SHOW, EXPLAIN without ANALYZE, VALUES or TABLE); found 3 statements: SELECT, COMMIT, DROP SCHEMA … CASCADE`,
  ]);
});

test('a check that writes is refused, in a block literal at its own line and column', () => {
  const sql = `    sql: |\n      SELECT 1\n      FROM (SELECT 1) s;\n      -- looks harmless\n        DELETE FROM t\n    expect: { kind: non_empty }`;
  const p = problems({ 'DOT-T-GRANT.yaml': grant.replace(HARD_STOP, sql) });
  assert.equal(p.length, 1, p.join('\n'));
  assert.match(p[0]!, new RegExp(`^${G}:22:9: hard_stops\\[0\\] "schema exists": a check must be exactly one read-only statement .* found 2 statements: SELECT, DELETE$`));
  const cte = problems({ 'DOT-T-GRANT.yaml': grant.replace(HARD_STOP, `    sql: "WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d"\n    expect: { kind: non_empty }`) });
  assert.deepEqual(cte, [
    `${G}:18:11: hard_stops[0] "schema exists": a check must be one read-only statement (SELECT, SHOW, EXPLAIN without ANALYZE, VALUES or TABLE); found SELECT (a data-modifying DELETE inside the query)`,
  ]);
});

test('a syntax error is reported where it is, with the parser’s words', () => {
  const p = problems({ 'DOT-T-GRANT.yaml': grant.replace(`sql: GRANT USAGE ON SCHEMA :"schema" TO :"role"`, `sql: GRANT USAGE ON SCHEMA :"schema" TOO :"role"`) });
  // fail closed: SQL that cannot be classified makes the DOT irreversible, which then needs an archive
  assert.deepEqual(p, [
    `${G}:21:3: risk:derived require an archive step before the first change in diff`,
    `${G}:23:42: diff[0] "grant usage": the SQL does not parse: syntax error at or near "TOO"; fix the statement`,
  ]);
});

test('transaction control is refused in a diff too; CONCURRENTLY needs transactional: false', () => {
  const text = grant.replace(`sql: GRANT USAGE ON SCHEMA :"schema" TO :"role"`, `sql: GRANT USAGE ON SCHEMA :"schema" TO :"role"; COMMIT; CREATE INDEX CONCURRENTLY i ON t (a)`);
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  assert.deepEqual(p, [
    `${G}:23:54: diff[0] "grant usage": COMMIT is transaction control, which no DOT step may contain; the engine opens, commits and rolls back the transaction itself`,
    `${G}:23:62: diff[0] "grant usage": CREATE INDEX CONCURRENTLY cannot run inside a transaction block; mark the step transactional: false`,
  ]);
  const ok = grant.replace(
    `    sql: COMMENT ON SCHEMA :"schema" IS :'note'`,
    `    sql: COMMENT ON SCHEMA :"schema" IS :'note'\n  - kind: sql\n    name: index\n    transactional: false\n    sql: CREATE INDEX CONCURRENTLY i ON t (a)`,
  );
  assert.equal(validateCatalogue(mini({ 'DOT-T-GRANT.yaml': ok })).kind, 'valid');
});

test('a reversible DOT whose diff destroys is refused with the statement and the way out', () => {
  const text = grant.replace(`sql: COMMENT ON SCHEMA :"schema" IS :'note'`, `sql: COMMENT ON SCHEMA :"schema" IS :'note'; TRUNCATE t; DROP TABLE u`);
  const p = problems({ 'DOT-T-GRANT.yaml': text });
  assert.deepEqual(p, [
    `${G}:21:3: risk:derived require an archive step before the first change in diff`,
    `${G}:26:50: labelled risk: reversible, but diff[1] "comment": TRUNCATE — TRUNCATE deletes every row; label the DOT risk: irreversible (dual control, an archive before the diff, a rollback that restores it)`,
    `${G}:26:62: labelled risk: reversible, but diff[1] "comment": DROP TABLE — DROP TABLE destroys what the table holds; label the DOT risk: irreversible (dual control, an archive before the diff, a rollback that restores it)`,
  ]);
  const dob = problems({ 'DOT-T-GRANT.yaml': grant.replace(`sql: COMMENT ON SCHEMA :"schema" IS :'note'`, () => `sql: COMMENT ON SCHEMA :"schema" IS :'note'; DO $$ BEGIN NULL; END $$`) });
  assert.match(dob.join('\n'), /diff\[1\] "comment": DO — a DO block runs procedural code that cannot be classified/);
});

test('a diff command makes the DOT irreversible unless one of its laws lists it in reversible_commands', () => {
  const withCommand = grant.replace(`rollback:\n`, `  - kind: command\n    name: reload\n    argv: [/usr/bin/systemctl, reload, pgbouncer]\nrollback:\n`);
  const p = problems({ 'DOT-T-GRANT.yaml': withCommand });
  assert.deepEqual(p, [
    `${G}:21:3: risk:derived require an archive step before the first change in diff`,
    `${G}:29:12: labelled risk: reversible, but diff[2] "reload": the command systemctl cannot be classified and no law of this DOT lists it in reversible_commands; label the DOT risk: irreversible (dual control, an archive before the diff, a rollback that restores it), or cite a law that lists it in reversible_commands`,
  ]);
  const laws = readFileSync(join(MINI, 'laws.yaml'), 'utf8').replace('post_verify_required: true }', 'post_verify_required: true }\n    reversible_commands: [systemctl]');
  assert.equal(validateCatalogue(mini({ 'DOT-T-GRANT.yaml': withCommand, 'laws.yaml': laws })).kind, 'valid');
  const badName = laws.replace('[systemctl]', '[/usr/bin/systemctl]');
  assert.match(problems({ 'laws.yaml': badName }).join('\n'), /laws\.yaml:\d+:\d+: .*a command name without a directory/);
});

test('the seed catalogue is valid under the SQL rules, with its labels', async () => {
  const r = validateCatalogue(await readCatalogueSource('dots'));
  assert.equal(r.kind, 'valid', r.kind === 'invalid' ? r.problems.map(formatProblem).join('\n') : '');
  if (r.kind !== 'valid') return;
  const risks = Object.fromEntries([...r.catalogue.dots.values()].map((d) => [d.spec.option ?? d.spec.id, effectiveRisk(d.spec, r.catalogue.laws)]));
  assert.deepEqual(Object.fromEntries(Object.entries(risks).map(([k, v]) => [k, v.risk])), {
    A: 'reversible',
    B: 'reversible',
    C1: 'reversible',
    C2: 'irreversible',
    D: 'reversible',
    // a restore drill changes nothing of the target: its restore_drill diff is reversible by content
    'DOT-PG-RESTORE-DRILL': 'reversible',
    'DOT-GDRIVE-SCRIPT-HARDEN': 'reversible',
    'DOT-GDRIVE-BACKUP-EXCLUDE-SCHEMA': 'reversible',
  });
  assert.deepEqual(risks['DOT-PG-RESTORE-DRILL']?.reasons, []);
  assert.deepEqual(risks.C2?.reasons, ['diff[1] "Drop the schema": DROP SCHEMA … CASCADE — DROP … CASCADE also drops every object that depends on what it drops']);
});

test('C2 relabelled reversible: validation refuses it, and its risk, gate and proposal stay irreversible', async () => {
  const source = await readCatalogueSource('dots');
  const c2 = source.dots.find((d) => d.file.endsWith('DOT-PG-DROP-SCHEMA.yaml'))!;
  const relabelled = c2.text.replace('risk: irreversible', 'risk: reversible');
  assert.notEqual(relabelled, c2.text);
  const r = validateCatalogue({ ...source, dots: source.dots.map((d) => (d === c2 ? { ...d, text: relabelled } : d)) });
  assert.equal(r.kind, 'invalid');
  const lines = r.kind === 'invalid' ? r.problems.map(formatProblem) : [];
  assert.deepEqual(lines, [
    `${c2.file}:186:10: labelled risk: reversible, but diff[1] "Drop the schema": DROP SCHEMA … CASCADE — DROP … CASCADE also drops every object that depends on what it drops; label the DOT risk: irreversible (dual control, an archive before the diff, a rollback that restores it)`,
  ]);

  // were validation bypassed, the gate still derives irreversible from the SQL alone
  const valid = validateCatalogue(source);
  assert.equal(valid.kind, 'valid');
  if (valid.kind !== 'valid') return;
  const laws: ReadonlyMap<string, Law> = valid.catalogue.laws;
  const spec = DotSchema.parse({ ...(parse(relabelled) as object), laws: ['Đ32', 'Đ33', 'Đ35'] });
  assert.equal(spec.risk, 'reversible');
  const eff = effectiveRisk(spec, laws);
  assert.equal(eff.risk, 'irreversible');
  assert.match(eff.reasons.join('\n'), /DROP SCHEMA … CASCADE/);
  const req = gateRequirements([spec], laws);
  assert.equal(req.dualControl, true);
  assert.equal(req.minApprovals, 2);
  assert.deepEqual(req.sources.dual_control, ['risk:derived']);
  const d = valid.catalogue.dots.get('DOT-BACKUP-SCRIPT-HARDEN')!;
  const c2dot = { ...valid.catalogue.dots.get('DOT-PG-DROP-SCHEMA')!, spec: { ...spec, diff: valid.catalogue.dots.get('DOT-PG-DROP-SCHEMA')!.spec.diff } };
  const params = bindParams([d.spec, c2dot.spec], {});
  const md = renderProposal({ dots: [d, c2dot], laws, params, target: null }).markdown;
  assert.match(md, /\| Risk \| irreversible \(derived from the diff; labelled reversible\) \|/);
  assert.match(md, /- Risk derived from the content \(stricter than the label\):\n {2}- DOT-PG-DROP-SCHEMA diff\[1\] "Drop the schema": DROP SCHEMA … CASCADE/);
  assert.match(md, /2 approval\(s\), dual control/);
});
