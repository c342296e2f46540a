/** The apply plan is a pure function of the bundle: built and checked without PostgreSQL. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCatalogue } from '../../src/catalogue/load.js';
import { resolveBundle } from '../../src/catalogue/bundle.js';
import { planApply, type PlannedStep } from '../../src/engine/apply/plan.js';

const cat = await loadCatalogue('dots');
const names = (steps: readonly PlannedStep[]): string[] => steps.map((s) => `${s.dot.spec.id.replace(/^DOT-/, '')}:${s.section}:${s.index}`);

test('A + D: companion D first; checks, the patch outside, the GRANTs and SQL post-verify inside, the smoke dump after', () => {
  const plan = planApply(resolveBundle(cat, ['A', 'D']));
  const a = cat.dots.get('DOT-PG-GRANT-SCHEMA')!.spec;
  const d = cat.dots.get('DOT-BACKUP-SCRIPT-HARDEN')!.spec;
  // every check of D, then every check of A, hard stops before pre-checks within a DOT
  assert.deepEqual(names(plan.checks), [
    ...d.hard_stops.map((_, i) => `BACKUP-SCRIPT-HARDEN:hard_stops:${i}`),
    ...d.pre_check.map((_, i) => `BACKUP-SCRIPT-HARDEN:pre_check:${i}`),
    ...a.hard_stops.map((_, i) => `PG-GRANT-SCHEMA:hard_stops:${i}`),
    ...a.pre_check.map((_, i) => `PG-GRANT-SCHEMA:pre_check:${i}`),
  ]);
  assert.ok(plan.outside.every((s) => s.step.kind !== 'sql' || s.step.transactional === false));
  assert.ok(plan.outside.some((s) => s.step.kind === 'patch' && s.dot.spec.id === 'DOT-BACKUP-SCRIPT-HARDEN'));
  assert.deepEqual(
    names(plan.inTransaction),
    a.diff.map((_, i) => `PG-GRANT-SCHEMA:diff:${i}`),
  );
  assert.ok(plan.verifyInTransaction.length > 0 && plan.verifyInTransaction.every((s) => s.step.kind === 'sql'));
  assert.ok(plan.verifyAfter.length > 0 && plan.verifyAfter.every((s) => s.step.kind !== 'sql'));
  // every post-verify step is planned exactly once
  const pv = [...plan.verifyInTransaction, ...plan.verifyAfter].length;
  assert.equal(pv, a.post_verify.length + d.post_verify.length);
});

test('the reverse undoes DOTs in reverse order, non-transactional steps before the rollback SQL', () => {
  const plan = planApply(resolveBundle(cat, ['A', 'D']));
  assert.deepEqual(
    plan.reverse.map((r) => r.dot.spec.id),
    ['DOT-PG-GRANT-SCHEMA', 'DOT-BACKUP-SCRIPT-HARDEN'],
  );
  const a = plan.reverse[0]!;
  assert.equal(a.outside.length + a.inTransaction.length, cat.dots.get('DOT-PG-GRANT-SCHEMA')!.spec.rollback.length);
  assert.ok(a.inTransaction.every((s) => s.step.kind === 'sql'));
  const d = plan.reverse[1]!;
  assert.ok(
    d.outside.some((s) => s.step.kind === 'patch'),
    'D is undone by its reverse patch',
  );
});

test('C2: the archive runs outside (and so before) the transaction that drops the schema; its restore is in the reverse', () => {
  const plan = planApply(resolveBundle(cat, ['C2', 'D']));
  const archive = plan.outside.find((s) => s.step.kind === 'archive');
  assert.ok(archive, 'the archive is planned outside the transaction');
  assert.ok(plan.inTransaction.some((s) => s.step.kind === 'sql' && /DROP SCHEMA/i.test(s.step.sql)));
  const c2 = plan.reverse.find((r) => r.dot.spec.id === 'DOT-PG-DROP-SCHEMA')!;
  assert.ok(c2.outside.some((s) => s.step.kind === 'restore'));
});

test('a bundle with no SQL diff or SQL post-verify plans no transaction (D patches a script only)', () => {
  const plan = planApply(resolveBundle(cat, ['D']));
  assert.equal(plan.inTransaction.length, 0);
  assert.equal(plan.verifyInTransaction.length, 0);
  assert.ok(plan.outside.length > 0);
});
