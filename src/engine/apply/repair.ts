/**
 * What a run does when SQL outside the transaction ran, or failed half-way, and the run cannot
 * go on: PostgreSQL undid nothing of it (a failed `CREATE UNIQUE INDEX CONCURRENTLY` leaves an
 * invalid index). The DOT's own rollback runs for it (its non-transactional SQL steps, which
 * validate requires to be idempotent), then the DOT's hard stops and pre-checks run again: the
 * target is "as before" only when the rollback ran fully and they pass as they did before the
 * change. Also the proof after `dotctl rollback` of a proposal that never reached `applied`.
 */
import { withTransaction } from '../../exec/target.js';
import type { EffectResult } from '../../exec/effects.js';
import type { ApplyPlan } from './plan.js';
import { failed } from './report.js';
import { bound, runPlannedCheck, runSteps, sqlCheck, type RunContext } from './run.js';

/**
 * Runs the SQL steps of the rollback of the DOTs named in `dots` (reverse order), each on its own
 * (validate requires them to be idempotent for such DOTs): the non-transactional ones first, as
 * the plan orders them, then the others. Patches, restores and commands are not SQL's to undo:
 * patches have their own undo, and what else ran is reported as left. Returns what failed.
 */
export async function reverseOutsideSql(run: RunContext, plan: ApplyPlan, dots: ReadonlySet<string>): Promise<string[]> {
  const left: string[] = [];
  for (const r of plan.reverse) {
    if (!dots.has(r.dot.spec.id)) continue;
    const steps = [...r.outside, ...r.inTransaction].filter((ps) => ps.step.kind === 'sql');
    await runSteps(
      run,
      steps,
      async (ps): Promise<EffectResult> => {
        const b = bound(run, ps.step);
        if (b.kind !== 'sql') return { outcome: 'error', observed: `a ${b.kind} step is not SQL`, expected: '' };
        return ps.step.kind === 'sql' && ps.step.expect ? sqlCheck(run, ps.step) : run.sql.statement(b.sql);
      },
      { keepGoing: true, onResult: (ps, res) => void (failed(res) && left.push(`${r.dot.spec.id}: rollback step "${ps.step.name}" failed (${res.observed})`)) },
    );
  }
  return left;
}

/**
 * Re-runs the hard stops and pre-checks of the DOTs named in `dots` (read-only, rolled back):
 * what held before the change must hold again. Returns each that does not, in words.
 */
export async function proveAsBefore(run: RunContext, plan: ApplyPlan, dots: ReadonlySet<string>): Promise<string[]> {
  const left: string[] = [];
  const checks = plan.checks.filter((ps) => dots.has(ps.dot.spec.id));
  if (checks.length === 0) return left;
  try {
    await withTransaction(run.sql.target.client, { readOnly: true, rollback: true }, () =>
      runSteps(run, checks, (ps) => runPlannedCheck(run, ps), {
        keepGoing: true,
        name: (ps) => `after the rollback: ${ps.step.name}`,
        onResult: (ps, r) => {
          if (!failed(r)) return;
          const what = ps.section === 'hard_stops' ? 'hard stop' : 'pre-check';
          left.push(
            `${what} "${ps.step.name}" of ${ps.dot.spec.id} still fails after the rollback (saw ${r.observed}, expected ${r.expected}): the target is not as before; look at it, then run dotctl rollback ${run.id} again`,
          );
        },
      }),
    );
  } catch (err) {
    const lost = await run.sql.lostReason();
    left.push(
      `the hard stops and pre-checks could not run again after the rollback (${lost ?? (err as Error).message}); nothing proves the target is as before: check it by hand or run dotctl rollback ${run.id} again`,
    );
  }
  return left;
}
