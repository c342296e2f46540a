/**
 * How a run ends, decided in one table: from the mode and what happened (the transaction's
 * outcome, whether something is left over) to the proposal's next state, the log event that
 * records it, and the outcome the report carries. Pure; the CLI maps outcomes to exit codes.
 */
import type { LogEventKind, ProposalState } from '../../model/records.js';
import type { ApplyOutcome } from './report.js';

/** The kind of run. */
export type RunMode = 'apply' | 'rehearsal' | 'rollback';

/** What happened, as far as the ending is concerned. */
export type Happened =
  /** a hard stop or pre-check failed before any change */
  | { readonly kind: 'checks_failed' }
  /** resuming: the interrupted apply's transaction is still in progress on the target */
  | { readonly kind: 'resume_busy' }
  /** resuming: PostgreSQL no longer knows whether the interrupted apply's transaction committed */
  | { readonly kind: 'resume_unknown' }
  /** resuming: file changes of the interrupted apply could not be reverted */
  | { readonly kind: 'resume_undo_failed' }
  /** the connection died during COMMIT and its outcome is not known yet */
  | { readonly kind: 'tx_in_doubt' }
  /** a step failed (or the connection was lost) before COMMIT; `undoFailed`: an undo was tried and failed; `leftovers`: something stays changed */
  | { readonly kind: 'failed_before_commit'; readonly lost: boolean; readonly undoFailed: boolean; readonly leftovers: boolean }
  /**
   * SQL outside the transaction ran (or failed half-way) and the run could not go on, so the DOTs'
   * rollback ran for it; `proven`: it ran fully, every undo worked, nothing else is left, and the
   * DOTs' hard stops and pre-checks pass again
   */
  | { readonly kind: 'outside_sql_reversed'; readonly proven: boolean }
  /** a post-verify failed after COMMIT, so the DOTs' rollback ran; `rollbackFailed`: it did not finish */
  | { readonly kind: 'post_verify_failed'; readonly rollbackFailed: boolean }
  /** `dotctl rollback` ran and some of it failed */
  | { readonly kind: 'rollback_incomplete' }
  /** every step passed */
  | { readonly kind: 'completed' }
  /** the run stopped on an unexpected error */
  | { readonly kind: 'stopped_on_error' };

/** The ending: where the proposal goes (null: it stays; rehearsals never move it) and how the log and the report say it. */
export interface Ending {
  readonly state: ProposalState | null;
  readonly event: LogEventKind;
  /** the `outcome` column of that log row */
  readonly eventOutcome: string;
  readonly outcome: ApplyOutcome;
}

const end = (state: ProposalState | null, event: LogEventKind, eventOutcome: string, outcome: ApplyOutcome): Ending => ({ state, event, eventOutcome, outcome });

/** The one table. */
export function ending(mode: RunMode, h: Happened): Ending {
  if (mode === 'rehearsal') {
    switch (h.kind) {
      case 'checks_failed':
        return end(null, 'rehearsed', 'check_failed', 'check_failed');
      case 'completed':
        return end(null, 'rehearsed', 'rehearsed', 'rehearsed');
      case 'failed_before_commit':
      case 'outside_sql_reversed':
      case 'post_verify_failed':
      case 'tx_in_doubt':
      case 'resume_busy':
      case 'resume_unknown':
      case 'resume_undo_failed':
      case 'rollback_incomplete':
      case 'stopped_on_error':
        return end(null, 'rehearsed', 'rehearsal_failed', 'rehearsal_failed');
      default:
        return unreachable(h);
    }
  }
  switch (h.kind) {
    case 'checks_failed':
      return end('proposed', 'refused', 'check_failed', 'check_failed');
    case 'resume_busy':
      return end('interrupted', 'refused', 'in_progress', 'target_busy');
    case 'resume_unknown':
      return end('needs_attention', 'needs_attention', 'unknown_outcome', 'needs_attention');
    case 'resume_undo_failed':
      return end('needs_attention', 'rollback_failed', 'undo_failed', 'needs_attention');
    case 'tx_in_doubt':
      return end('interrupted', 'interrupted', 'in_doubt', 'in_doubt');
    case 'failed_before_commit':
      if (h.leftovers) return h.undoFailed ? end('needs_attention', 'rollback_failed', 'undo_failed', 'needs_attention') : end('needs_attention', 'needs_attention', 'left_changed', 'needs_attention');
      // a lost connection is not a verdict on the change: it never ran to its end, so it may run again
      return h.lost ? end('interrupted', 'rolled_back', 'connection_lost', 'interrupted') : end('failed', 'rolled_back', 'rolled_back', 'reverted');
    case 'outside_sql_reversed':
      // "rolled back" only with proof; without it the target may hold what the SQL half-did
      return h.proven ? end('failed', 'rolled_back', 'rolled_back_checked', 'reverted') : end('needs_attention', 'rollback_failed', 'not_proven', 'needs_attention');
    case 'post_verify_failed':
      return h.rollbackFailed ? end('needs_attention', 'rollback_failed', 'rollback_failed', 'needs_attention') : end('failed', 'rolled_back', 'rolled_back', 'reverted');
    case 'rollback_incomplete':
      return end('needs_attention', 'rollback_failed', 'rollback_failed', 'needs_attention');
    case 'completed':
      return mode === 'rollback' ? end('rolled_back', 'rolled_back', 'ok', 'rolled_back') : end('applied', 'applied', 'ok', 'applied');
    case 'stopped_on_error':
      return end('needs_attention', 'needs_attention', 'error', 'needs_attention');
    default:
      return unreachable(h);
  }
}

function unreachable(x: never): never {
  throw new TypeError(`unhandled ending ${JSON.stringify(x)}`);
}
