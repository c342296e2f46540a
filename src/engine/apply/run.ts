/**
 * The context of one run and its one loop: each planned step is bound, executed through the
 * effects port or the SQL session, timed and recorded in the journal; a failure stops the loop
 * unless the phase says to go on (a rollback tries every step).
 */
import { bindForExecution, bindQuery, type SecretValues } from '../../catalogue/bind.js';
import type { BoundStep } from '../../catalogue/steps.js';
import type { Step } from '../../catalogue/schema.js';
import type { BoundParams } from '../../catalogue/params.js';
import type { ValidDot } from '../../catalogue/validate.js';
import type { Effects, EffectResult } from '../../exec/effects.js';
import { runCheck } from '../../exec/run-checks.js';
import type { SqlSession } from '../../exec/sql-session.js';
import { libpqEnv } from '../../exec/target.js';
import type { Progress } from '../options.js';
import type { Journal } from './journal.js';
import type { TargetWitness } from '../witness.js';
import type { PlannedStep } from './plan.js';
import { failed, type ApplyReport } from './report.js';

/** Everything a run needs, built once at its start. */
export interface RunContext {
  readonly id: string;
  readonly dots: readonly ValidDot[];
  readonly params: BoundParams;
  readonly secrets: SecretValues;
  readonly mode: ApplyReport['mode'];
  readonly sql: SqlSession;
  readonly effects: Effects;
  readonly journal: Journal;
  /** progress of long steps (archives), for a terminal */
  readonly onProgress?: ((p: Progress) => void) | undefined;
  /** the witness row a live apply or rollback writes into the target (engine/witness.ts); none for a rehearsal */
  readonly witness?: TargetWitness | undefined;
}

/** Whether the run changes the world (a rehearsal does not). */
export const isLive = (run: RunContext): boolean => run.effects.kind === 'live';

/** Binds a step's parameters (secrets resolved) for execution. */
export function bound(run: RunContext, step: Step): BoundStep {
  return bindForExecution(step, run.params, run.secrets);
}

/** Runs an effect; an exception (a file that cannot be written…) becomes an error result. */
export async function safely(expected: string, fn: () => Promise<EffectResult>): Promise<EffectResult> {
  try {
    return await fn();
  } catch (err) {
    return { outcome: 'error', observed: (err as Error).message ?? String(err), expected };
  }
}

/** Runs an SQL check step of a DOT: its literals go as bind values, its rows are judged. */
export async function sqlCheck(run: RunContext, step: Step): Promise<EffectResult> {
  const b = bound(run, step);
  if (b.kind !== 'sql' || step.kind !== 'sql') return { outcome: 'error', observed: `a ${b.kind} step is not an SQL check`, expected: '' };
  const q = bindQuery(step.sql, run.params, run.secrets);
  return run.sql.check(b, q.text, q.values);
}

/** Runs a hard stop or pre-check (SQL inside the caller's READ ONLY transaction, under a savepoint). */
export async function runPlannedCheck(run: RunContext, ps: PlannedStep): Promise<EffectResult> {
  const section = ps.section === 'hard_stops' || ps.section === 'pre_check' || ps.section === 'post_verify' ? ps.section : null;
  if (!section) return { outcome: 'error', observed: `a ${ps.section} step is not a check`, expected: '' };
  const c = run.sql.target.client;
  const guarded = ps.step.kind === 'sql';
  if (guarded) await c.query('SAVEPOINT dotctl_check');
  const r = await runCheck(run.sql.target, ps.dot, section, ps.index, run.params, run.secrets);
  if (guarded) await c.query(r.outcome === 'error' ? 'ROLLBACK TO SAVEPOINT dotctl_check' : 'RELEASE SAVEPOINT dotctl_check');
  return r;
}

/** Runs a command step with the target's libpq variables through the effects port. */
export function runCommandStep(run: RunContext, b: Extract<BoundStep, { kind: 'command' }>): Promise<EffectResult> {
  return run.effects.command(b, libpqEnv(run.sql.target.address));
}

/** How a phase treats a failed step. */
export interface LoopOptions {
  /** go on with the next steps after a failure (rollbacks try everything) */
  readonly keepGoing?: boolean;
  /** what the report calls the step (default: its name) */
  readonly name?: (ps: PlannedStep) => string;
  /** called with each result before it is recorded (e.g. to remember its undo, so a journal that fails closed can still undo it) */
  readonly onResult?: (ps: PlannedStep, r: EffectResult) => void;
  /**
   * the steps change nothing outside an open transaction (checks, SQL inside the transaction):
   * their rows wait for the journal's next flush; otherwise every row before a step is durable
   * before it runs, and its own row right after (journal.ts)
   */
  readonly deferred?: boolean | ((ps: PlannedStep) => boolean);
}

/**
 * The loop: for each step, execute, record, and stop at the first failure (unless `keepGoing`).
 * Returns whether every step passed.
 */
export async function runSteps(run: RunContext, steps: readonly PlannedStep[], exec: (ps: PlannedStep) => Promise<EffectResult>, opts: LoopOptions = {}): Promise<boolean> {
  let ok = true;
  for (const ps of steps) {
    const deferred = typeof opts.deferred === 'function' ? opts.deferred(ps) : opts.deferred === true;
    if (!deferred) await run.journal.flush();
    const started = Date.now();
    const r = await safely(`step "${ps.step.name}" to run`, () => exec(ps));
    opts.onResult?.(ps, r);
    await run.journal.record(ps.dot, ps.section, ps.index, opts.name?.(ps) ?? ps.step.name, ps.step.kind, r, started, deferred);
    if (failed(r)) {
      ok = false;
      if (!opts.keepGoing) return false;
    }
  }
  return ok;
}
