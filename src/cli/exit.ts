/**
 * Exit codes, chosen once. The engine returns outcomes and throws errors of one hierarchy; this
 * table is the only place that turns an outcome into a process exit code (README "Exit codes").
 */
import type { ApplyOutcome } from '../engine.js';
import { ExitCode } from '../model/errors.js';

/** The exit code of each way an apply, a rehearsal or a rollback can end. */
export const EXIT_BY_OUTCOME: Readonly<Record<ApplyOutcome, ExitCode>> = {
  applied: ExitCode.ok,
  rehearsed: ExitCode.ok,
  rolled_back: ExitCode.ok,
  check_failed: ExitCode.checkFailed,
  target_busy: ExitCode.targetBusy,
  reverted: ExitCode.rolledBack,
  rehearsal_failed: ExitCode.rolledBack,
  interrupted: ExitCode.rolledBack,
  needs_attention: ExitCode.rollbackFailed,
  in_doubt: ExitCode.rollbackFailed,
};

/** The exit code for a run's outcome. */
export function exitCodeFor(outcome: ApplyOutcome): ExitCode {
  return EXIT_BY_OUTCOME[outcome];
}
