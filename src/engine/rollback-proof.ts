/**
 * The rollback proof (`dotctl test`): on a scratch copy of the target (a new database on the
 * target's server, see exec/scratch-db.ts), run a DOT (or a bundle) the way apply runs it —
 * checks → diff → post-verify — then its rollback, compare a catalogue snapshot with the one
 * taken before, and apply again. It passes only if the rollback restored exactly the
 * before-state (objects, owners, ACLs, default privileges, row counts, settings, the roles the
 * parameters name, and the patched files) and the DOT applies again afterwards. The steps are
 * the executor's own phases (engine/apply/phases.ts); only the effects differ: the scratch
 * database instead of the target, temporary copies instead of the real files.
 */
import { bindForExecution } from '../catalogue/bind.js';
import { resolveSecrets } from '../catalogue/bind.js';
import { resolveBundle } from '../catalogue/bundle.js';
import { bindParams, parseParamPairs, withParamDefaults, type BoundParams } from '../catalogue/params.js';
import type { ValidDot } from '../catalogue/validate.js';
import { checkHost } from '../exec/checks.js';
import { createScratchCopy } from '../exec/scratch-db.js';
import { scratchEffects, type ScratchEffects } from '../exec/scratch-effects.js';
import { describeDifference, diffSnapshots, readSnapshot, type Snapshot } from '../exec/snapshot.js';
import { SqlSession, strictestTimeouts } from '../exec/sql-session.js';
import { resolveTarget, targetFingerprint, withTarget, withTransaction } from '../exec/target.js';
import { openLedger } from '../ledger/open.js';
import type { LedgerStore, NewLogEvent } from '../ledger/port.js';
import { Journal } from './apply/journal.js';
import { runOutside, runReverse, runTransaction, runUndo, runVerifyAfter, type Undo } from './apply/phases.js';
import { planApply, type ApplyPlan } from './apply/plan.js';
import { failed, type StepReport } from './apply/report.js';
import { bound, runCommandStep, runPlannedCheck, runSteps, type RunContext } from './apply/run.js';
import { catalogueOf, ledgerName, nowIso, signerOf, withLedgerOf, type EngineOptions } from './options.js';
import { actorFrom } from './registry.js';

/** One stage of the proof and how it went. */
export interface ProofStage {
  readonly stage: 'copy' | 'apply' | 'rollback' | 'compare' | 'apply again' | 'cleanup';
  readonly ok: boolean;
  readonly message: string;
}

/** What `dotctl test` found. */
export interface RollbackProof {
  readonly passed: boolean;
  readonly dots: readonly { readonly id: string; readonly contentHash: string }[];
  /** the target the copy was made from (host, port, database) */
  readonly target: string;
  /** the scratch database (dropped when the proof ends) */
  readonly scratch: string;
  readonly stages: readonly ProofStage[];
  /** what the rollback did not restore, one readable line (or diff) each */
  readonly differences: readonly string[];
  /** steps the proof could not run, so it does not cover them */
  readonly notCovered: readonly string[];
  readonly steps: readonly StepReport[];
  /** who recorded the result in the action log (`tested` events), or why it was not recorded */
  readonly recorded: { readonly by: string } | { readonly not: string };
}

/** Options of a proof. */
export interface ProofOptions {
  /** an SQL file run in the scratch copy after the schema and rows are copied */
  readonly fixture?: string | undefined;
}

/** Parameters whose value names the target database name the scratch copy instead (e.g. `pg_dump --dbname={{database}}`). */
export function pointAtScratch(params: BoundParams, database: string, scratch: string): BoundParams {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, (v.kind === 'identifier' || v.kind === 'text') && v.value === database ? { ...v, value: scratch } : v]));
}

/** Identifier and text values: the schemas whose rows are copied and the roles the snapshot reads. */
const namesIn = (params: BoundParams, kinds: readonly string[]): string[] => Object.values(params).flatMap((v) => (kinds.includes(v.kind) && 'value' in v ? [String(v.value)] : []));

/** Hard stops and pre-checks on the scratch copy; file and command checks see the copies. */
async function proofChecks(run: RunContext, plan: ApplyPlan): Promise<string | null> {
  let bad: string | null = null;
  await withTransaction(run.sql.target.client, { readOnly: true, rollback: true }, () =>
    runSteps(
      run,
      plan.checks,
      async (ps) => {
        if (ps.step.kind === 'sql') return runPlannedCheck(run, ps);
        const b = bound(run, ps.step);
        if (b.kind === 'command') return runCommandStep(run, b);
        if (b.kind === 'file') return run.effects.file(b);
        if (b.kind === 'host') return checkHost(b);
        return { outcome: 'error', observed: `a ${b.kind} step is not a check`, expected: '' };
      },
      {
        onResult: (ps, r) => {
          if (failed(r) && !bad)
            bad = `${ps.section === 'hard_stops' ? 'hard stop' : 'pre-check'} "${ps.step.name}" of ${ps.dot.spec.id} failed on the scratch copy: saw ${r.observed}, expected ${r.expected}`;
        },
      },
    ),
  );
  return bad;
}

/** One apply on the scratch copy: null when it passed, else why (and whether its SQL committed). */
async function applyOnce(chk: RunContext, chg: RunContext, plan: ApplyPlan): Promise<{ why: string | null; committed: boolean }> {
  const checkFailure = await proofChecks(chk, plan);
  if (checkFailure) return { why: checkFailure, committed: false };
  const undo: Undo[] = [];
  if (!(await runOutside(chg, plan, undo, []))) {
    const why = chg.journal.lastFailure();
    await runUndo(chg, undo);
    return { why, committed: false };
  }
  const tx = await runTransaction(chg, plan);
  if (tx.kind !== 'passed') {
    const why = tx.kind === 'failed' ? chg.journal.lastFailure() : tx.reason;
    await runUndo(chg, undo);
    return { why, committed: false };
  }
  if (!(await runVerifyAfter(chk, plan))) return { why: chk.journal.lastFailure(), committed: true };
  return { why: null, committed: true };
}

/** Roles the DOT created on the server and did not remove (they outlive the scratch database). */
const rolesLeft = (before: Snapshot, now: Snapshot): string[] => [...now.entries()].filter(([k, v]) => k.startsWith('role ') && v !== 'absent' && before.get(k) === 'absent').map(([k]) => k.slice(5));

/** Runs the proof on a scratch copy; never changes the target. */
async function runProof(o: EngineOptions, dots: readonly ValidDot[], rawParams: readonly string[], opts: ProofOptions): Promise<Omit<RollbackProof, 'recorded'>> {
  const env = o.env ?? process.env;
  const specs = dots.map((d) => d.spec);
  // the workspace environment's values count here as at propose (-p wins)
  const given = bindParams(specs, withParamDefaults(specs, o.paramDefaults, parseParamPairs(rawParams)));
  const secrets = resolveSecrets(given, env);
  const address = resolveTarget(o.target, env);
  const stages: ProofStage[] = [];
  const base = { dots: dots.map((d) => ({ id: d.spec.id, contentHash: d.content.hash })), target: targetFingerprint(address) };
  const copy = await createScratchCopy(address, { dataSchemas: namesIn(given, ['identifier']), fixture: opts.fixture });
  stages.push({
    stage: 'copy',
    ok: true,
    message: `${copy.address.database}: the schema of ${base.target}${copy.dataSchemas.length > 0 ? ` and the rows of ${copy.dataSchemas.join(', ')}` : ''}${opts.fixture ? `, then ${opts.fixture}` : ''}`,
  });
  const params = pointAtScratch(given, address.database, copy.address.database);
  const roles = [...namesIn(params, ['identifier', 'text']), address.user];
  let effects: ScratchEffects | null = null;
  try {
    effects = await scratchEffects(copy.address);
    const fx = effects;
    const timeouts = strictestTimeouts(dots);
    const scratchLedger: LedgerStore = await openLedger('memory:'); // the journal of a proof reports; it logs nothing step by step
    return await withTarget(copy.address, timeouts, async (session) => {
      const journal = new Journal(
        scratchLedger,
        false,
        (event, outcome, detail): NewLogEvent => ({ at: nowIso(o), actor: 'dotctl test', event, proposalId: null, dotId: null, actionCode: null, proposalHash: null, outcome, detail }),
      );
      const sql = new SqlSession(session, timeouts);
      const ctx = (e: ScratchEffects['checks']): RunContext => ({ id: 'test', dots, params, secrets, mode: 'rehearsal', sql, effects: e, journal });
      const chk = ctx(fx.checks);
      const chg = ctx(fx.changes);
      const plan = planApply(dots);
      const patched = [...plan.outside, ...plan.reverse.flatMap((r) => r.outside)].flatMap((ps) => {
        const b = bindForExecution(ps.step, params, secrets);
        return b.kind === 'patch' ? [b.file] : [];
      });
      const unreadable = await fx.copyFiles(patched);
      const done = (differences: string[]): Omit<RollbackProof, 'recorded'> => ({
        ...base,
        scratch: copy.address.database,
        passed: stages.every((s) => s.ok) && differences.length === 0 && stages.some((s) => s.stage === 'apply again'),
        stages,
        differences,
        notCovered: [...new Set(fx.notRun)],
        steps: journal.steps,
      });
      if (unreadable) {
        stages.push({ stage: 'apply', ok: false, message: `cannot copy a file the DOT patches: ${unreadable}` });
        return done([]);
      }
      const before = await readSnapshot(session.client, roles);
      const first = await applyOnce(chk, chg, plan);
      stages.push({ stage: 'apply', ok: first.why === null, message: first.why ?? 'checks, diff and post-verify passed on the scratch copy' });
      if (first.why !== null) {
        if (first.committed) await runReverse(chg, plan);
        const left = rolesLeft(before, await readSnapshot(session.client, roles));
        if (left.length > 0) stages.push({ stage: 'cleanup', ok: false, message: `role(s) ${left.join(', ')} were created on the server and are still there; drop them by hand` });
        return done([]);
      }
      const left = await runReverse(chg, plan);
      stages.push({ stage: 'rollback', ok: left.length === 0, message: left.length === 0 ? 'every rollback step passed' : left.join('; ') });
      const after = await readSnapshot(session.client, roles);
      const differences = [...diffSnapshots(before, after).map(describeDifference), ...(await fx.fileDifferences())];
      stages.push({
        stage: 'compare',
        ok: differences.length === 0,
        message:
          differences.length === 0
            ? `the rollback restored the before-state exactly (${before.size} catalogue entries and ${patched.length === 0 ? 'no files' : `${new Set(patched).size} file(s)`} compared)`
            : `${differences.length} difference(s) from the before-state`,
      });
      fx.newPass();
      const again = await applyOnce(chk, chg, plan);
      stages.push({ stage: 'apply again', ok: again.why === null, message: again.why ?? 'the DOT applies again after its rollback' });
      if (again.committed) {
        const cleanup = await runReverse(chg, plan);
        const stuck = rolesLeft(before, await readSnapshot(session.client, roles));
        const ok = cleanup.length === 0 && stuck.length === 0;
        stages.push({
          stage: 'cleanup',
          ok,
          message: ok
            ? 'rolled back again; the scratch database is dropped'
            : [...cleanup, ...(stuck.length > 0 ? [`role(s) ${stuck.join(', ')} are still on the server; drop them by hand`] : [])].join('; '),
        });
      }
      return done(differences);
    });
  } finally {
    await effects?.dispose();
    await copy.drop();
  }
}

/**
 * Proves the rollback of DOTs (by id or option label, a bundle in apply order) on a scratch copy
 * of the target, and records the result in the action log as a `tested` event per DOT, bound to
 * its content hash, when an acting key is given.
 */
export async function proveRollback(o: EngineOptions, refs: readonly string[], rawParams: readonly string[], opts: ProofOptions = {}): Promise<RollbackProof> {
  const cat = await catalogueOf(o);
  const dots = resolveBundle(cat, refs);
  if (o.key === undefined) {
    const proof = await runProof(o, dots, rawParams, opts);
    return { ...proof, recorded: { not: 'no acting key (--key or DOTCTL_KEY): the result is not recorded in the action log' } };
  }
  const key = await signerOf(o);
  // refused before the (slow) proof when the key is no member of the ledger's registry
  const { me } = await withLedgerOf(o, 'read', (ledger) => actorFrom(ledger, ledgerName(o), key));
  const proof = await runProof(o, dots, rawParams, opts);
  await withLedgerOf(o, 'write', async (ledger) => {
    for (const d of dots) {
      await ledger.appendEvent({
        at: nowIso(o),
        actor: me.name,
        event: 'tested',
        proposalId: null,
        dotId: d.spec.id,
        actionCode: d.spec.action_code,
        proposalHash: null,
        outcome: proof.passed ? 'passed' : 'failed',
        detail: {
          content_hash: d.content.hash,
          bundle: dots.map((x) => x.spec.id),
          target: proof.target,
          stages: proof.stages.map((s) => ({ stage: s.stage, ok: s.ok, message: s.message })),
          differences: proof.differences.slice(0, 50),
          not_covered: proof.notCovered,
        },
      });
    }
  });
  return { ...proof, recorded: { by: me.name } };
}

/** The latest `tested` event of a DOT's current content, for reviewers (`dotctl admissions`). */
export async function lastRollbackProof(ledger: LedgerStore, dot: ValidDot): Promise<{ readonly outcome: string; readonly at: string; readonly actor: string } | null> {
  const rows = await ledger.readEvents({ dotId: dot.spec.id, event: 'tested' });
  const mine = rows.filter((r) => (r.detail as { content_hash?: unknown }).content_hash === dot.content.hash).at(-1);
  return mine ? { outcome: String(mine.outcome), at: mine.at, actor: mine.actor } : null;
}
