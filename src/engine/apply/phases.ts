/**
 * The phases of a run, each a pass of the one loop over a part of the plan: checks, the steps
 * outside the transaction, the transaction, the verification after COMMIT, the DOTs' reverse
 * and the undo of what a failed run did.
 */
import type { ValidDot } from '../../catalogue/validate.js';
import type { CheckResult } from '../../exec/checks.js';
import type { EffectResult } from '../../exec/effects.js';
import type { TxOutcome } from '../../exec/sql-session.js';
import { withTransaction } from '../../exec/target.js';
import type { ApplyPlan, PlannedStep, ReversePlan } from './plan.js';
import { failed } from './report.js';
import { bound, isLive, runCommandStep, runPlannedCheck, runSteps, safely, sqlCheck, type RunContext } from './run.js';

/** A step's undo, kept in case a later step fails. */
export interface Undo {
  readonly dot: ValidDot;
  readonly index: number;
  readonly name: string;
  readonly run: () => Promise<CheckResult>;
}

/**
 * Hard stops and pre-checks, re-run now inside one READ ONLY transaction that is rolled back.
 * Returns why they failed (naming drift since the proposal) or null.
 */
export async function runChecks(run: RunContext, plan: ApplyPlan, proposedEvidence: ReadonlyMap<string, string>): Promise<string | null> {
  let bad: { ps: PlannedStep; r: EffectResult } | null = null;
  try {
    await withTransaction(run.sql.target.client, { readOnly: true, rollback: true }, () =>
      runSteps(run, plan.checks, (ps) => runPlannedCheck(run, ps), {
        deferred: true,
        onResult: (ps, r) => {
          if (failed(r)) bad = { ps, r };
        },
      }),
    );
  } catch (err) {
    const lost = await run.sql.lostReason();
    if (!lost) throw err;
    return `${lost} during the hard stops and pre-checks; nothing was changed; apply again once the target is reachable`;
  }
  if (!bad) return null;
  const { ps, r } = bad as { ps: PlannedStep; r: EffectResult };
  const what = ps.section === 'hard_stops' ? 'hard stop' : 'pre-check';
  const then = proposedEvidence.get(`${ps.dot.spec.id}/${ps.section}/${ps.index}`);
  const drift = then === 'passed' ? ' — the target drifted since the proposal was made (it passed then)' : '';
  return `${what} "${ps.step.name}" of ${ps.dot.spec.id} failed: saw ${r.observed}, expected ${r.expected}${drift}; nothing was changed`;
}

async function tablesIn(run: RunContext, schema: string): Promise<number> {
  const r = await run.sql.target.client.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`, [schema]);
  return Number(r.rows[0]?.n ?? 0);
}

async function outsideStep(run: RunContext, ps: PlannedStep): Promise<EffectResult> {
  const b = bound(run, ps.step);
  switch (b.kind) {
    case 'archive': {
      const report = isLive(run) ? run.onProgress : undefined;
      const r = await run.effects.archive(b, await tablesIn(run, b.schema), report ? (bytes) => report({ kind: 'archive', schema: b.schema, bytes, done: false }) : undefined);
      report?.({ kind: 'archive', schema: b.schema, bytes: 0, done: true });
      return r;
    }
    case 'patch':
      return run.effects.patch(b);
    case 'restore_drill':
      return run.effects.restoreDrill(b);
    case 'command':
      return runCommandStep(run, b);
    case 'sql':
      return run.effects.runsNonTransactionalSql
        ? run.sql.statement(b.sql)
        : { outcome: 'passed', skipped: true, observed: 'not rehearsed: SQL outside a transaction would change the target', expected: '' };
    default:
      return { outcome: 'error', observed: `a ${b.kind} step cannot be in diff`, expected: '' };
  }
}

/** What the steps outside the transaction did, beyond their undo. */
export interface OutsideSeen {
  /** non-transactional SQL that ran or was tried (a failed one may have half-happened): the DOT's rollback answers for it */
  readonly sql: PlannedStep[];
  /** steps a rehearsal could not run (non-transactional SQL, commands not marked rehearse) */
  readonly notRehearsed: PlannedStep[];
}

/**
 * The steps outside the transaction, in declared order. Collects the undo of what was done, in
 * `leftovers` what ran and cannot be undone automatically, and in `seen` the non-transactional
 * SQL tried and the steps not rehearsed.
 */
export async function runOutside(run: RunContext, plan: ApplyPlan, undo: Undo[], leftovers: string[], seen: OutsideSeen = { sql: [], notRehearsed: [] }): Promise<boolean> {
  try {
    return await runSteps(run, plan.outside, (ps) => outsideStep(run, ps), {
      onResult: (ps, r) => {
        if (r.undo) undo.push({ dot: ps.dot, index: ps.index, name: ps.step.name, run: r.undo });
        if (r.skipped) return void seen.notRehearsed.push(ps);
        if (ps.step.kind === 'sql') return void seen.sql.push(ps);
        if (r.outcome !== 'passed') return;
        if (ps.step.kind === 'command') leftovers.push(`${ps.dot.spec.id}: command "${ps.step.name}" ran and cannot be undone automatically`);
      },
    });
  } catch (err) {
    // fail closed: what cannot be logged must not stay done — undo it all, then refuse
    for (const u of [...undo].reverse()) await u.run().catch(() => undefined);
    undo.length = 0;
    throw err;
  }
}

/**
 * The transaction: transactional SQL of the diff, then SQL post-verify; COMMIT (ROLLBACK when
 * rehearsing). Its id is logged before the first change.
 */
export async function runTransaction(run: RunContext, plan: ApplyPlan): Promise<TxOutcome> {
  const anchor = (plan.inTransaction[0] ?? plan.verifyInTransaction[0])?.dot;
  if (!anchor) return run.witness ? witnessAlone(run) : { kind: 'passed', xid: null };
  let started = Date.now();
  const tx = await run.sql.transaction(
    { end: run.effects.sqlEnd },
    async (xid) => {
      await run.journal.record(anchor, 'transaction', 0, 'BEGIN', 'transaction', { outcome: 'passed', observed: `transaction ${xid} opened`, expected: '', detail: { xid } }, started);
    },
    async () => {
      const ok =
        (await runSteps(
          run,
          plan.inTransaction,
          (ps) => {
            const b = bound(run, ps.step);
            return run.sql.statement(b.kind === 'sql' ? b.sql : '');
          },
          { deferred: true },
        )) && (await runSteps(run, plan.verifyInTransaction, (ps) => sqlCheck(run, ps.step), { deferred: true }));
      // the transaction's rows are durable before the witness reads the head and before COMMIT
      await run.journal.flush();
      started = Date.now();
      return ok && (await witnessIn(run, anchor));
    },
    async (b) => {
      await run.journal.record(
        anchor,
        'transaction',
        1,
        run.effects.sqlEnd,
        'transaction',
        { outcome: b.outcome, observed: b.observed, expected: b.expected, ...(b.outcome === 'passed' ? { detail: { xid: b.xid } } : {}) },
        started,
        // what COMMIT did is known from the BEGIN row's xid; only checks follow before the next flush
        true,
      );
    },
  );
  if (tx.kind === 'passed') run.witness?.confirm();
  return tx;
}

/**
 * Writes the run's witness row into the open transaction (engine/witness.ts); a failure is a
 * failed step of the transaction, which then rolls back with the change.
 */
async function witnessIn(run: RunContext, dot: ValidDot): Promise<boolean> {
  if (!run.witness) return true;
  const started = Date.now();
  try {
    await run.witness.write(run.sql.target.client);
    return true;
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    await run.journal.record(
      dot,
      'transaction',
      2,
      'witness',
      'transaction',
      {
        outcome: 'failed',
        observed: `the ledger head could not be witnessed in dotctl.witness (${msg}); the role dotctl connects as needs CREATE on the database once, then INSERT on dotctl.witness`,
        expected: 'the witness row to be written',
      },
      started,
    );
    return false;
  }
}

/** A run with no SQL in a transaction writes its witness in a transaction of its own, after its last change step. */
async function witnessAlone(run: RunContext): Promise<TxOutcome> {
  const dot = run.dots[0]!;
  const tx = await run.sql.transaction(
    { end: 'COMMIT' },
    async () => undefined,
    () => witnessIn(run, dot),
    async () => undefined,
  );
  if (tx.kind === 'passed') run.witness?.confirm();
  return tx;
}

/** SQL post-verify in a read-only transaction (an apply resumed after its COMMIT). */
export async function runVerifyReadOnly(run: RunContext, plan: ApplyPlan): Promise<boolean> {
  try {
    return await withTransaction(run.sql.target.client, { readOnly: true, rollback: true }, () => runSteps(run, plan.verifyInTransaction, (ps) => sqlCheck(run, ps.step), { deferred: true }));
  } catch {
    return false;
  }
}

/** Post-verify steps that are not SQL (commands, files), after COMMIT. */
export function runVerifyAfter(run: RunContext, plan: ApplyPlan): Promise<boolean> {
  return runSteps(
    run,
    plan.verifyAfter,
    async (ps) => {
      const b = bound(run, ps.step);
      if (b.kind === 'command') return runCommandStep(run, b);
      if (b.kind === 'file') return run.effects.file(b);
      return { outcome: 'error', observed: `a ${b.kind} step cannot be a post-verify`, expected: '' };
    },
    // a command can do anything: what came before it is made durable first
    { deferred: (ps) => ps.step.kind !== 'command' },
  );
}

async function reverseStepOutside(run: RunContext, ps: PlannedStep): Promise<EffectResult> {
  const b = bound(run, ps.step);
  if (b.kind === 'patch') return run.effects.patch(b);
  if (b.kind === 'restore') return run.effects.restore(b);
  if (b.kind === 'command') return runCommandStep(run, b);
  if (b.kind === 'sql') return run.sql.statement(b.sql);
  return { outcome: 'error', observed: `a ${b.kind} step cannot be in rollback`, expected: '' };
}

async function reverseOne(run: RunContext, r: ReversePlan, left: string[], witnessHere: boolean): Promise<void> {
  const id = r.dot.spec.id;
  await runSteps(run, r.outside, (ps) => reverseStepOutside(run, ps), {
    keepGoing: true,
    onResult: (ps, res) => void (failed(res) && left.push(`${id}: rollback step "${ps.step.name}" failed (${res.observed})`)),
  });
  if (r.inTransaction.length === 0) return;
  let ran = false;
  const tx = await run.sql.transaction(
    { end: 'COMMIT' },
    async () => undefined,
    async () => {
      ran = true;
      const ok = await runSteps(run, r.inTransaction, (ps) => (ps.step.kind === 'sql' && ps.step.expect ? sqlCheck(run, ps.step) : reverseStepOutside(run, ps)), {
        onResult: (ps, res) => void (failed(res) && left.push(`${id}: rollback SQL "${ps.step.name}" failed (${res.observed}); nothing of ${id}'s rollback SQL was committed`)),
      });
      if (!ok || !witnessHere) return ok;
      const witnessed = await witnessIn(run, r.dot);
      if (!witnessed) left.push(`${id}: the ledger head could not be witnessed in the target; nothing of ${id}'s rollback SQL was committed`);
      return witnessed;
    },
    async (b) => void (b.outcome === 'failed' && left.push(`${id}: the COMMIT of its rollback SQL failed (${b.observed}); check whether it took effect`)),
  );
  if (witnessHere && tx.kind === 'passed') run.witness?.confirm();
  if (tx.kind === 'lost' && !ran) left.push(`${id}: its rollback SQL (${r.inTransaction.map((ps) => `"${ps.step.name}"`).join(', ')}) did not run: ${tx.reason}`);
  if (tx.kind === 'in_doubt') left.push(`${id}: the connection was lost during the COMMIT of its rollback SQL; check whether it took effect`);
}

/**
 * Runs the DOTs' rollback sections, DOTs in reverse order; returns what could not be done.
 * `witness` (`dotctl rollback`): the run's witness row goes into the transaction of the last
 * DOT's rollback SQL, or, when no DOT has rollback SQL, into a transaction of its own at the end.
 */
export async function runReverse(run: RunContext, plan: ApplyPlan, witness = false): Promise<string[]> {
  const left: string[] = [];
  let last = -2; // no witness in this run
  if (witness && run.witness) last = plan.reverse.map((r) => r.inTransaction.length > 0).lastIndexOf(true);
  for (const [i, r] of plan.reverse.entries()) await reverseOne(run, r, left, i === last);
  if (last === -1) {
    const tx = await witnessAlone(run);
    if (tx.kind !== 'passed') left.push(`the ledger head could not be witnessed in the target (${tx.kind === 'lost' ? tx.reason : run.journal.lastFailure()})`);
  }
  return left;
}

/** Undoes steps done before a failure, newest first; returns what could not be undone. */
export async function runUndo(run: RunContext, undo: readonly Undo[]): Promise<string[]> {
  const left: string[] = [];
  for (const u of [...undo].reverse()) {
    const started = Date.now();
    const r = await safely('the step undone', u.run);
    await run.journal.record(u.dot, 'undo', u.index, `undo: ${u.name}`, 'undo', r, started);
    if (failed(r)) left.push(`${u.dot.spec.id}: could not undo "${u.name}" (${r.observed})`);
  }
  return left;
}
