/**
 * What `dotctl watch` reports: one record per standing check (an invariant of an applied
 * proposal, a backup set, a governed file, the target itself), the state changes it logged,
 * the alerts it sent and the proposals it drafted.
 */
import type { Delivery } from '../../exec/alert.js';

/** What a check watches. */
export type WatchCheckKind = 'invariant' | 'backup_set' | 'governed_file' | 'target';

/** `not_run`: nothing could be learnt this cycle (the target was unreachable); its last known state stands. */
export type WatchStatus = 'holding' | 'failing' | 'not_run';

/** A proposal the watch would draft for a failing check: the remedy DOT and its parameters. */
export interface DraftSpec {
  readonly dotId: string;
  /** parameters taken from the failing rows (column → parameter) */
  readonly fromRows: Readonly<Record<string, string>>;
  /** the other parameters, from the proposal whose invariant failed */
  readonly inherited: Readonly<Record<string, string>>;
}

/** One standing check, as this cycle saw it. */
export interface WatchCheck {
  /** stable across cycles: the key of its state in the log */
  readonly id: string;
  readonly kind: WatchCheckKind;
  readonly name: string;
  readonly status: WatchStatus;
  readonly observed: string;
  readonly expected: string;
  readonly proposalId: string | null;
  readonly dotId: string | null;
  readonly actionCode: string | null;
  readonly proposalHash: string | null;
  /** what to draft while it fails (privilege invariants with a remedy) */
  readonly drafts?: readonly DraftSpec[];
}

/** A check whose state changed this cycle, and the log row that records it. */
export interface WatchChange {
  readonly id: string;
  readonly name: string;
  readonly from: 'holding' | 'failing' | 'unknown';
  readonly to: 'holding' | 'failing';
  readonly event: 'invariant_failed' | 'invariant_recovered';
  readonly seq: number;
}

/** A proposal the watch drafted (or could not draft) this cycle. */
export interface WatchDraft {
  readonly check: string;
  readonly dotId: string;
  readonly params: Readonly<Record<string, string>>;
  /** the new proposal's id, or null when drafting failed */
  readonly proposalId: string | null;
  /** one sentence when drafting failed */
  readonly error: string | null;
}

/** One cycle of the watch. */
export interface WatchReport {
  readonly at: string;
  /** the target the invariants ran against (`host:port/db`), or null when none was needed */
  readonly target: string | null;
  readonly actor: string;
  readonly checks: readonly WatchCheck[];
  readonly failing: number;
  readonly changes: readonly WatchChange[];
  readonly alerts: readonly Delivery[];
  readonly drafted: readonly WatchDraft[];
  /** what the watch did not look at, and why (proposals applied on other targets) */
  readonly notes: readonly string[];
}
