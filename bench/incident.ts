/**
 * The benches' incident: the tests' scratch incident (database with `sandbox_tac`, roles, script,
 * identities) driven through the built binary, plus the statements of DOT A bound to it, so the
 * baselines run exactly what dotctl runs.
 */
import { resolve } from 'node:path';
import { createIncident, paramsFor, type Incident, type Person } from '../test/helpers/incident.js';
import { loadCatalogue } from '../src/catalogue/load.js';
import { findDot } from '../src/catalogue/bundle.js';
import { bindParams, parseParamPairs } from '../src/catalogue/params.js';
import { bindForExecution } from '../src/catalogue/bind.js';
import { bindTemplate } from '../src/catalogue/steps.js';
import type { Step } from '../src/catalogue/schema.js';
import { ensureAdmitted } from '../test/helpers/admission.js';
import { BIN, run, runOk, type RunResult } from './lib.js';

export { createIncident, type Incident, type Person };

/** Runs `dotctl` as `who` on the incident (cwd: its temp dir, so proposals/ land there). */
export function dotctl(inc: Incident, who: Person | null, args: readonly string[], env: NodeJS.ProcessEnv = {}): RunResult {
  return run(process.execPath, [BIN, ...inc.flags, ...(who ? ['--key', who.key] : []), ...args], {
    cwd: inc.dir,
    env: { ...process.env, DOTCTL_DEBUG: undefined, ...env },
  });
}

/** Like `dotctl`, but throws with the output unless it exits 0. */
export function dotctlOk(inc: Incident, who: Person | null, args: readonly string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const r = dotctl(inc, who, args, env);
  if (r.code !== 0) throw new Error(`dotctl ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Proposes `refs` as the operator (the reviewers having admitted the catalogue) with the incident's parameters (plus `overrides`); returns the id. */
export async function propose(inc: Incident, refs: readonly string[], overrides: Readonly<Record<string, string>> = {}): Promise<string> {
  ensureAdmitted(inc.flags, [inc.reviewer1, inc.reviewer2], inc.dir); // reviewers admit the catalogue once, as before any propose
  const r = dotctlOk(inc, inc.operator, ['propose', ...refs, ...(await paramsFor(inc, refs, overrides)), '--json']);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

/** Proposes and approves `refs`; returns the id, ready for the second operator to apply. */
export async function proposeApproved(inc: Incident, refs: readonly string[], overrides: Readonly<Record<string, string>> = {}): Promise<string> {
  const id = await propose(inc, refs, overrides);
  dotctlOk(inc, inc.reviewer1, ['approve', id]);
  return id;
}

/** Applies D (the companion) so that A alone is gated afterwards. */
export async function preApplyCompanion(inc: Incident): Promise<void> {
  const d = await proposeApproved(inc, ['D']);
  dotctlOk(inc, inc.operator2, ['apply', d]);
}

/** DOT A's bound statements: its diff, and its SQL post-verify checks turned into one DO block of ASSERTs. */
export async function grantStatements(inc: Incident, schema = 'sandbox_tac'): Promise<{ diff: string[]; verify: string; revert: string[]; checks: string; smoke: string[] }> {
  const cat = await loadCatalogue(resolve('dots'));
  const a = findDot(cat, 'A');
  const pairs = (await paramsFor(inc, ['A'], { schema })).filter((x) => x !== '-p');
  const params = bindParams([a.spec], parseParamPairs(pairs));
  const sql = (s: Step): string => {
    const b = bindForExecution(s, params, new Map());
    if (b.kind !== 'sql') throw new Error(`step ${s.name} of A is not SQL`);
    return b.sql.trim();
  };
  const assertsOf = (steps: readonly Step[]): string[] =>
    steps.flatMap((s) => {
      if (s.kind !== 'sql' || !s.expect) return [];
      const q = sql(s);
      const e = s.expect;
      switch (e.kind) {
        case 'value':
          return [`ASSERT ((\n${q}\n))::text = ${lit(typeof e.equals === 'string' ? bindTemplate(e.equals, params) : String(e.equals))}, ${lit(s.name)};`];
        case 'empty':
          return [`ASSERT NOT EXISTS (\n${q}\n), ${lit(s.name)};`];
        case 'non_empty':
          return [`ASSERT EXISTS (\n${q}\n), ${lit(s.name)};`];
        case 'rows':
          return [`ASSERT (SELECT count(*) FROM (\n${q}\n) AS q) = ${e.count}, ${lit(s.name)};`];
        default:
          throw new Error(`no ASSERT form for a ${e.kind} check`);
      }
    });
  const asserts = assertsOf(a.spec.post_verify);
  // the smoke dump A's post_verify runs, with A's bound arguments
  const smokeStep = a.spec.post_verify.find((s) => s.kind === 'command');
  const smoke = smokeStep ? bindForExecution(smokeStep, params, new Map()) : null;
  return {
    diff: a.spec.diff.map(sql),
    verify: `DO $verify$\nBEGIN\n${asserts.join('\n')}\nEND\n$verify$;`,
    revert: a.spec.rollback.map(sql),
    checks: `DO $checks$\nBEGIN\n${assertsOf([...a.spec.hard_stops, ...a.spec.pre_check]).join('\n')}\nEND\n$checks$;`,
    smoke: smoke && smoke.kind === 'command' ? [...smoke.argv] : [],
  };
}

function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Runs psql against the incident database as the superuser. */
export function psql(inc: Incident, args: readonly string[]): RunResult {
  return runOk('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', inc.db.url, ...args]);
}
