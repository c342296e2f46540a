/**
 * A run after the gate and the lock: resume what an interrupted attempt left, then checks →
 * outside steps → transaction → verification after COMMIT, each ending through the endings
 * table. Returns the report; never decides an exit code.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { bindTemplate } from '../../catalogue/steps.js';
import { fileSha256 } from '../../exec/checks.js';
import type { LedgerStore } from '../../ledger/port.js';
import { ending, type Happened } from './endings.js';
import { runChecks, runOutside, runReverse, runTransaction, runUndo, runVerifyAfter, runVerifyReadOnly, type OutsideSeen, type Undo } from './phases.js';
import type { ApplyPlan, PlannedStep } from './plan.js';
import { proveAsBefore, reverseOutsideSql } from './repair.js';
import { revertRecorded, type Attempt } from './recovery.js';
import type { ApplyReport } from './report.js';
import { isLive, type RunContext } from './run.js';

/** Ends a run: moves the proposal out of `applying` (live) or logs the rehearsal, and reports. */
export async function finish(run: RunContext, ledger: LedgerStore, h: Happened, message: string, detail: Record<string, unknown> = {}, leftToDo: readonly string[] = []): Promise<ApplyReport> {
  const e = ending(run.mode, h);
  const full = { ...detail, ...(leftToDo.length > 0 ? { left_to_do: leftToDo } : {}), ...run.witness?.detail() };
  await run.journal.flush();
  if (!isLive(run)) {
    const steps = run.journal.steps.map((s) => ({ dot: s.dotId, section: s.section, step: s.name, outcome: s.outcome, observed: s.observed }));
    await ledger.appendEvent(run.journal.event(e.event, e.eventOutcome, { ...full, steps }));
  } else if (e.state) {
    await ledger.transitionProposal(run.id, ['applying'], e.state, run.journal.event(e.event, e.eventOutcome, full));
  }
  return { id: run.id, mode: run.mode, outcome: e.outcome, message, steps: run.journal.steps, leftToDo };
}

/** Finishes an apply whose interrupted predecessor's transaction `attempt.xid` is known; null when it must run again. */
async function resume(run: RunContext, ledger: LedgerStore, plan: ApplyPlan, attempt: Attempt): Promise<ApplyReport | null> {
  const id = run.id;
  if (attempt.xid) {
    const status = await run.sql.xidStatus(attempt.xid);
    const first = run.dots[0]!;
    if (status === 'committed') {
      await run.witness?.recall(run.sql.target.client, attempt.xid);
      await run.journal.record(
        first,
        'transaction',
        0,
        'resume',
        'transaction',
        { outcome: 'passed', observed: `the interrupted apply committed transaction ${attempt.xid}; finishing it with the post-verify`, expected: '', detail: { xid: attempt.xid } },
        Date.now(),
      );
      if (!(await runVerifyReadOnly(run, plan))) return afterCommitFailure(run, ledger, plan);
      return afterCommit(run, ledger, plan);
    }
    if (status === 'in progress') {
      const msg = `transaction ${attempt.xid} of the interrupted apply is still in progress on the target; wait for it to end and apply ${id} again`;
      return finish(run, ledger, { kind: 'resume_busy' }, msg, { reason: msg, xid: attempt.xid });
    }
    if (status === 'unknown') {
      const left = [`PostgreSQL no longer knows whether transaction ${attempt.xid} of the interrupted apply committed: check the target against the DOTs' post-verify by hand`];
      return finish(run, ledger, { kind: 'resume_unknown' }, `the outcome of the interrupted apply of ${id} cannot be known and needs a human`, { reason: left[0] }, left);
    }
    // aborted: none of its SQL is on the target
  }
  if (attempt.changes.length > 0) {
    const left = await revertRecorded(run, attempt.changes);
    if (left.length > 0)
      return finish(
        run,
        ledger,
        { kind: 'resume_undo_failed' },
        `the interrupted apply of ${id} left changes that could not be undone and need a human`,
        { reason: 'the interrupted apply left file changes that could not be undone' },
        left,
      );
  }
  return null;
}

/** Runs an apply or a rehearsal from its plan. */
export async function execute(run: RunContext, ledger: LedgerStore, plan: ApplyPlan, evidence: ReadonlyMap<string, string>, attempt: Attempt | null): Promise<ApplyReport> {
  const id = run.id;
  if (attempt) {
    const done = await resume(run, ledger, plan, attempt);
    if (done) return done;
  }
  const checkFailure = await runChecks(run, plan, evidence);
  if (checkFailure) return finish(run, ledger, { kind: 'checks_failed' }, checkFailure, { reason: checkFailure });

  const undo: Undo[] = [];
  const leftovers: string[] = [];
  const seen: OutsideSeen = { sql: [], notRehearsed: [] };
  const outsideOk = await runOutside(run, plan, undo, leftovers, seen);
  // a restore drill that fails before anything changed is a failed check of the backups, not a reverted change
  const drill = outsideOk ? undefined : run.journal.steps.filter((s) => s.outcome === 'failed' || s.outcome === 'error').at(-1);
  if (drill?.kind === 'restore_drill' && undo.length === 0 && leftovers.length === 0 && seen.sql.length === 0) {
    const msg = `restore drill "${drill.name}" of ${drill.dotId} failed: ${drill.observed}; nothing was changed`;
    return finish(run, ledger, { kind: 'checks_failed' }, msg, { reason: msg });
  }
  const lostOutside = outsideOk ? null : await run.sql.lostReason();
  // a rehearsal runs no check of a DOT whose change it could not make
  const rehearsed = outsideOk && seen.notRehearsed.length > 0 ? await skipDependentChecks(run, plan, seen.notRehearsed) : null;
  const planNow = rehearsed?.plan ?? plan;
  const tx = outsideOk ? await runTransaction(run, planNow) : lostOutside ? ({ kind: 'lost', reason: lostOutside } as const) : ({ kind: 'failed' } as const);
  if (tx.kind === 'in_doubt') {
    // nothing is undone: the change may be in
    const left = [`run dotctl apply ${id} again once the target is reachable: it asks PostgreSQL whether transaction ${tx.xid} committed, then finishes the apply or re-runs it`];
    return finish(run, ledger, { kind: 'tx_in_doubt' }, `${tx.reason} during COMMIT; whether ${id} committed is not known yet`, { reason: tx.reason, xid: tx.xid }, left);
  }
  if (tx.kind === 'passed') return afterCommit(run, ledger, planNow, rehearsed?.note);

  const what = tx.kind === 'lost' ? `${tx.reason} before COMMIT` : run.journal.lastFailure();
  const undoLeft = await runUndo(run, undo);
  const left = [...undoLeft, ...leftovers];
  if (isLive(run) && seen.sql.length > 0) return reverseOutside(run, ledger, plan, seen, what, left);
  const h: Happened = { kind: 'failed_before_commit', lost: tx.kind === 'lost', undoFailed: undoLeft.length > 0, leftovers: left.length > 0 };
  if (!isLive(run)) return finish(run, ledger, h, `rehearsal failed: ${what}; nothing was changed`, { reason: what });
  if (left.length > 0) return finish(run, ledger, h, `${what}; the SQL transaction was rolled back but some changes could not be undone`, { reason: what }, left);
  if (tx.kind === 'lost') {
    return finish(
      run,
      ledger,
      h,
      `${what}: PostgreSQL rolled the transaction back${undo.length > 0 ? ' and the file changes were undone' : ''}, nothing changed; apply ${id} again once the target is reachable`,
      { reason: what },
    );
  }
  return finish(run, ledger, h, `${what}; rolled back, the target is as before`, { reason: what });
}

/**
 * SQL outside the transaction ran or was tried, and the run failed: the DOTs' rollback runs for it,
 * then their hard stops and pre-checks must pass again before the report may say "as before".
 */
async function reverseOutside(run: RunContext, ledger: LedgerStore, plan: ApplyPlan, seen: OutsideSeen, what: string, left: string[]): Promise<ApplyReport> {
  const dots = new Set(seen.sql.map((ps) => ps.dot.spec.id));
  left.push(...(await reverseOutsideSql(run, plan, dots)));
  left.push(...(await proveAsBefore(run, plan, dots)));
  const proven = left.length === 0;
  const message = proven
    ? `${what}; rolled back: the DOTs' rollback ran for the non-transactional steps and their pre-checks pass again, so the target is as before`
    : `${what}; the DOTs' rollback ran for the non-transactional steps but cannot prove the target is as before: it needs a human, then dotctl rollback ${run.id}`;
  return finish(run, ledger, { kind: 'outside_sql_reversed', proven }, message, { reason: what, reversed_for: [...dots] }, left);
}

/**
 * A rehearsal could not run `notRehearsed` (SQL outside a transaction, commands not marked
 * rehearse): the post-verify of their DOTs checks a change that was not made, so it is reported
 * as not run instead of failing. Returns the plan without those checks and what to say.
 */
async function skipDependentChecks(run: RunContext, plan: ApplyPlan, notRehearsed: readonly PlannedStep[]): Promise<{ plan: ApplyPlan; note: string }> {
  const cause = new Map<string, PlannedStep>();
  for (const ps of notRehearsed) if (!cause.has(ps.dot.spec.id)) cause.set(ps.dot.spec.id, ps);
  const depends = (ps: PlannedStep): boolean => cause.has(ps.dot.spec.id);
  const skipped = [...plan.verifyInTransaction, ...plan.verifyAfter].filter(depends);
  for (const ps of skipped) {
    const c = cause.get(ps.dot.spec.id)!;
    await run.journal.record(
      ps.dot,
      ps.section,
      ps.index,
      ps.step.name,
      ps.step.kind,
      { outcome: 'passed', skipped: true, observed: `not run: it depends on "${c.step.name}" of ${c.dot.spec.id}, which was not rehearsed`, expected: '' },
      Date.now(),
    );
  }
  const n = (k: number, one: string, many: string): string => `${k} ${k === 1 ? one : many}`;
  const note = `${n(notRehearsed.length, 'step', 'steps')} not rehearsed, ${n(skipped.length, 'check that depends on it', 'checks that depend on them')} not run`;
  return { plan: { ...plan, verifyInTransaction: plan.verifyInTransaction.filter((ps) => !depends(ps)), verifyAfter: plan.verifyAfter.filter((ps) => !depends(ps)) }, note };
}

/** After COMMIT: the post-verify outside the transaction, then `applied` (or the DOTs' reverse). */
async function afterCommit(run: RunContext, ledger: LedgerStore, plan: ApplyPlan, rehearsalNote?: string): Promise<ApplyReport> {
  if (!(await runVerifyAfter(run, plan))) return afterCommitFailure(run, ledger, plan);
  const registry = run.dots.filter((d) => d.spec.registry).map((d) => ({ dot: d.spec.id, ...d.spec.registry!, name: bindTemplate(d.spec.registry!.name, run.params) }));
  const governed = isLive(run) ? await governedFiles(run) : [];
  const summary = {
    steps: run.journal.steps.length,
    dots: run.dots.map((d) => d.spec.id),
    ...(registry.length > 0 ? { registry } : {}),
    ...(governed.length > 0 ? { governed_files: governed, host: hostname() } : {}),
  };
  const message = isLive(run) ? `${run.id} applied: ${run.dots.map((d) => d.spec.id).join(' + ')}` : `rehearsal of ${run.id} passed${rehearsalNote ? ` (${rehearsalNote})` : ''}; nothing was changed`;
  return finish(run, ledger, { kind: 'completed' }, message, summary);
}

/**
 * The files the DOTs' diffs patched, each with its sha256 as the apply left it: recorded in the
 * `applied` event, so `dotctl watch` can name a file changed outside dotctl and the proposal
 * that last set it.
 */
async function governedFiles(run: RunContext): Promise<{ dot: string; path: string; sha256: string | null }[]> {
  // the last DOT of the bundle that patched a file is the one that set it
  const last = new Map<string, string>();
  for (const d of run.dots) for (const step of d.spec.diff) if (step.kind === 'patch') last.set(resolve(bindTemplate(step.file, run.params)), d.spec.id);
  const out: { dot: string; path: string; sha256: string | null }[] = [];
  for (const [path, dot] of last) out.push({ dot, path, sha256: await fileSha256(path).catch(() => null) });
  return out;
}

/** A post-verify failed after COMMIT: the DOTs' rollback sections put the target back. */
async function afterCommitFailure(run: RunContext, ledger: LedgerStore, plan: ApplyPlan): Promise<ApplyReport> {
  const what = run.journal.lastFailure();
  if (!isLive(run)) return finish(run, ledger, { kind: 'post_verify_failed', rollbackFailed: false }, `rehearsal failed: ${what}; nothing was changed`, { reason: what });
  const left = await runReverse(run, plan);
  if (left.length > 0) return finish(run, ledger, { kind: 'post_verify_failed', rollbackFailed: true }, `${what}; the rollback failed too and needs a human`, { reason: what }, left);
  return finish(run, ledger, { kind: 'post_verify_failed', rollbackFailed: false }, `${what}; the DOTs' rollback ran and the target is as before`, { reason: what });
}

/**
 * Runs the rollback of a proposal (`dotctl rollback`). `prove`: the proposal never reached
 * `applied` (failed, needs_attention), so what its run left is not known step by step; the DOTs'
 * hard stops and pre-checks must pass again before it counts as rolled back.
 */
export async function executeRollback(run: RunContext, ledger: LedgerStore, plan: ApplyPlan, prove = false): Promise<ApplyReport> {
  const left = await runReverse(run, plan, true);
  if (prove) left.push(...(await proveAsBefore(run, plan, new Set(run.dots.map((d) => d.spec.id)))));
  if (left.length > 0) return finish(run, ledger, { kind: 'rollback_incomplete' }, `rollback of ${run.id} failed and needs a human`, {}, left);
  return finish(run, ledger, { kind: 'completed' }, `${run.id} rolled back: ${run.dots.map((d) => d.spec.id).join(' + ')}`, { steps: run.journal.steps.length });
}
