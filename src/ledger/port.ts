/**
 * The ledger port: proposals, approvals/rejections and the append-only, hash-chained
 * `dot_action_log`. Adapters (SQLite, PostgreSQL) satisfy it structurally and pass one
 * contract suite. There is deliberately no update or delete of log rows.
 */

export type { LogEventKind, ProposalState, NewLogEvent, LogRow, ProposalRecord, DecisionRecord, AdmissionRecord, FrozenContent } from '../model/records.js';
export { LOG_EVENT_KINDS, PROPOSAL_STATES } from '../model/records.js';
import type { LogEventKind, ProposalState, NewLogEvent, LogRow, ProposalRecord, DecisionRecord, AdmissionRecord } from '../model/records.js';

/** Filter for reading the log. */
export interface LogFilter {
  readonly proposalId?: string;
  readonly dotId?: string;
  readonly actor?: string;
  readonly event?: LogEventKind;
  readonly since?: string; // ISO-8601; rows with at >= since
  readonly fromSeq?: number; // rows with seq >= fromSeq
  readonly toSeq?: number; // rows with seq <= toSeq
  readonly limit?: number; // the latest `limit` matching rows, still returned in seq order
  readonly seqs?: readonly number[]; // only the rows at these seqs (a witnessed or checkpointed head)
}

/**
 * A proposal as a list shows it: its state (derived from the chain and checked, as getProposal's)
 * without the canonical text, params or frozen content a full ProposalRecord carries, so a
 * ledger of any size can be listed a page at a time.
 */
export interface ProposalSummary {
  readonly id: string;
  readonly dotIds: readonly string[];
  readonly state: ProposalState;
  readonly hash: string;
  readonly targetFingerprint: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

/** Which proposal summaries to read. */
export interface ProposalQuery {
  /** only proposals in this (derived) state */
  readonly state?: ProposalState;
  /** only the latest `limit` matching proposals, still returned oldest first; absent: every one */
  readonly limit?: number;
}

/** How many proposals are in each state; a state with none is absent. */
export type ProposalCounts = Readonly<Partial<Record<ProposalState, number>>>;

/** Result of re-proving the chain. */
export type ChainVerdict =
  | { readonly kind: 'intact'; readonly rows: number; readonly headHash: string }
  | {
      readonly kind: 'broken';
      readonly rows: number;
      readonly seq: number; // first broken row (or where the gap is)
      readonly reason: 'hash_mismatch' | 'seq_gap' | 'broken_link' | 'bad_genesis' | 'time_backwards' | 'forged_state';
      readonly message: string;
      /** for `forged_state`: the proposal whose stored state the chain contradicts */
      readonly proposalId?: string;
    };

/** Where a stored proposal state disagrees with the chain (states.ts). */
export interface StateProblem {
  readonly proposalId: string;
  readonly seq: number;
  readonly message: string;
}

/** The store port. Every write that carries an event commits both or neither. */
export interface LedgerStore {
  /** Appends one event to the chain; serialised so the chain never forks. */
  appendEvent(event: NewLogEvent): Promise<LogRow>;
  /**
   * Appends several events, in order, in one transaction (one durable write): all or none. For a
   * run's rows that need not be durable one by one (engine/apply/journal.ts says which).
   */
  appendEvents(events: readonly NewLogEvent[]): Promise<readonly LogRow[]>;
  /** Reads log rows in seq order. */
  readEvents(filter?: LogFilter): Promise<readonly LogRow[]>;
  /** Streams every log row in seq order (for verify on large ledgers). */
  iterateEvents(): AsyncIterable<LogRow>;
  /**
   * Re-proves the chain as `verifyChain(iterateEvents())` would, with the same verdict, faster
   * (raw rows, worker threads). Optional: where absent, verify streams iterateEvents.
   */
  verifyEvents?(): Promise<ChainVerdict>;
  /**
   * Checks every stored proposal state against the chained events that set it (states.ts): the
   * first disagreement, or null. Assumes the chain itself verified. Optional.
   */
  checkProposalStates?(): Promise<StateProblem | null>;
  /**
   * Stores a new proposal and its `proposed` event atomically; the event records the proposal's
   * state (its detail gains `proposal_state`, `prev_state_seq`). A proposal's state is always
   * derived from such chained events (states.ts); no stored row is ever updated.
   */
  putProposal(proposal: ProposalRecord, event: NewLogEvent): Promise<LogRow>;
  getProposal(id: string): Promise<ProposalRecord | null>;
  listProposals(state?: ProposalState): Promise<readonly ProposalRecord[]>;
  /**
   * Lists proposal summaries in the order the ledger recorded them (proposals of a ledger older
   * than the state index first, by creation time), oldest first; with a limit, the latest ones,
   * read through indexes without touching the rest. Each returned state is judged as getProposal
   * judges it: a forged one is a LedgerError (exit 7).
   */
  listProposalSummaries(query?: ProposalQuery): Promise<readonly ProposalSummary[]>;
  /**
   * Counts proposals by derived state, from the state index (its latest row per proposal; a
   * legacy proposal's stored state). Not judged one by one: `log verify` proves the index.
   */
  countProposals(): Promise<ProposalCounts>;
  /** Stores an approval/rejection and its event atomically. */
  addDecision(decision: DecisionRecord, event: NewLogEvent): Promise<LogRow>;
  listDecisions(proposalId: string): Promise<readonly DecisionRecord[]>;
  /**
   * Compare-and-set of a proposal's state with its event, atomically: returns null (and writes
   * nothing) when the current state is not one of `from`. The event records the new state as
   * putProposal's does. A stored state the chain contradicts is a LedgerError (exit 7), here and
   * in getProposal.
   */
  transitionProposal(id: string, from: readonly ProposalState[], to: ProposalState, event: NewLogEvent): Promise<LogRow | null>;
  /** Stores a reviewer's admission of a DOT's content and its `admitted` event atomically. */
  addAdmission(admission: AdmissionRecord, event: NewLogEvent): Promise<LogRow>;
  /** Lists admissions (of one DOT, or all) in the order they were made. */
  listAdmissions(dotId?: string): Promise<readonly AdmissionRecord[]>;
  /**
   * The ledger server's clock (PostgreSQL `now()`), as ISO: a clock the acting user does not
   * control. Absent for a ledger without a server of its own (SQLite, in memory).
   */
  serverTime?(): Promise<string>;
  close(): Promise<void>;
}
