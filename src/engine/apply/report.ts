/** What an apply, a rehearsal or a rollback reports: one line per step and how it ended. */
import type { Section } from '../../catalogue/schema.js';

/** One step as the report shows it. */
export interface StepReport {
  readonly dotId: string;
  /** `transaction`: the BEGIN / COMMIT of the SQL transaction (its id is what makes an interrupted apply resumable) */
  readonly section: Section | 'undo' | 'transaction';
  readonly index: number;
  readonly name: string;
  readonly kind: string;
  /** `not_run`: a check whose program is not installed, which its DOT marks optional_tool */
  readonly outcome: 'passed' | 'failed' | 'error' | 'skipped' | 'already_applied' | 'not_run';
  readonly observed: string;
  readonly expected: string;
  readonly ms: number;
}

/**
 * How a run ended. The CLI maps each to its exit code (src/cli/exit.ts); the engine never
 * chooses one.
 */
export type ApplyOutcome =
  /** the change is on the target and post-verified */
  | 'applied'
  /** the rehearsal passed; nothing changed */
  | 'rehearsed'
  /** `dotctl rollback` put the target back */
  | 'rolled_back'
  /** a hard stop or pre-check failed; nothing changed */
  | 'check_failed'
  /** the transaction of an interrupted apply is still running on the target; nothing changed */
  | 'target_busy'
  /** the apply failed and everything it did was undone: the target is as before */
  | 'reverted'
  /** the rehearsal failed; nothing changed */
  | 'rehearsal_failed'
  /** the connection was lost before COMMIT: PostgreSQL rolled back, the apply may run again */
  | 'interrupted'
  /** something could not be undone, or its outcome is unknown: a human must look */
  | 'needs_attention'
  /** the connection was lost during COMMIT: the next apply asks PostgreSQL and finishes */
  | 'in_doubt';

/** The result of an apply, a rehearsal or a rollback. */
export interface ApplyReport {
  readonly id: string;
  readonly mode: 'apply' | 'rehearsal' | 'rollback';
  readonly outcome: ApplyOutcome;
  readonly message: string;
  readonly steps: readonly StepReport[];
  /** what a human still has to do */
  readonly leftToDo: readonly string[];
}

/** Whether a step (or check result) failed. */
export const failed = (r: { readonly outcome: string }): boolean => r.outcome === 'failed' || r.outcome === 'error';
