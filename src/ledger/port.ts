/**
 * The ledger port: proposals, approvals/rejections and the append-only, hash-chained
 * `dot_action_log`. Adapters (SQLite, PostgreSQL) satisfy it structurally and pass one
 * contract suite. There is deliberately no update or delete of log rows.
 */

/** Events written to dot_action_log. */
export type LogEventKind =
  | 'proposed'
  | 'approved'
  | 'rejected'
  | 'apply_started'
  | 'step_passed'
  | 'step_failed'
  | 'applied'
  | 'rolled_back'
  | 'rollback_failed'
  | 'refused'
  | 'expired'
  | 'interrupted'
  | 'rehearsed';

/** Every LogEventKind, in lifecycle order (for validating `--event` and stored rows). */
export const LOG_EVENT_KINDS = [
  'proposed',
  'approved',
  'rejected',
  'apply_started',
  'step_passed',
  'step_failed',
  'applied',
  'rolled_back',
  'rollback_failed',
  'refused',
  'expired',
  'interrupted',
  'rehearsed',
] as const satisfies readonly LogEventKind[];

/** Lifecycle state of a stored proposal. */
export type ProposalState =
  | 'proposed'
  | 'applying'
  | 'applied'
  | 'rolled_back'
  | 'failed'
  | 'needs_attention'
  | 'rejected'
  | 'expired'
  | 'interrupted';

/** Every ProposalState (for validating `--state`). */
export const PROPOSAL_STATES = [
  'proposed',
  'applying',
  'applied',
  'rolled_back',
  'failed',
  'needs_attention',
  'rejected',
  'expired',
  'interrupted',
] as const satisfies readonly ProposalState[];

// Compile-time proof that the two lists above name every member of their union.
type Missing<U, L extends readonly unknown[]> = Exclude<U, L[number]>;
const listsAreComplete: [Missing<LogEventKind, typeof LOG_EVENT_KINDS> | Missing<ProposalState, typeof PROPOSAL_STATES>] extends [never]
  ? true
  : false = true;
void listsAreComplete;

/** An event as the engine hands it to the ledger (seq, hashes are assigned by the store). */
export interface NewLogEvent {
  readonly at: string; // ISO-8601 UTC
  readonly actor: string;
  readonly event: LogEventKind;
  readonly proposalId: string | null;
  readonly dotId: string | null;
  readonly actionCode: string | null;
  readonly proposalHash: string | null;
  readonly outcome: string | null; // e.g. ok | failed | refused
  readonly detail: Readonly<Record<string, unknown>>; // JSON, never secrets
}

/** A stored row of dot_action_log. */
export interface LogRow extends NewLogEvent {
  readonly seq: number; // 1-based, gapless
  readonly prevHash: string;
  readonly hash: string;
}

/** A stored proposal. */
export interface ProposalRecord {
  readonly id: string;
  readonly dotIds: readonly string[];
  readonly params: Readonly<Record<string, unknown>>; // secrets never stored
  readonly targetFingerprint: string | null;
  readonly canonical: string; // canonical JSON the hash is computed over
  readonly hash: string;
  readonly state: ProposalState;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly signature: string | null; // proposer's signature over the hash (base64)
}

/** An approval or a rejection of one exact proposal hash. */
export interface DecisionRecord {
  readonly proposalId: string;
  readonly kind: 'approve' | 'reject';
  readonly hashSigned: string;
  readonly actor: string;
  readonly signature: string; // base64 Ed25519 signature
  readonly comment: string | null;
  readonly at: string;
  readonly expiresAt: string | null;
}

/** Filter for reading the log. */
export interface LogFilter {
  readonly proposalId?: string;
  readonly dotId?: string;
  readonly actor?: string;
  readonly event?: LogEventKind;
  readonly since?: string; // ISO-8601; rows with at >= since
  readonly limit?: number; // the latest `limit` matching rows, still returned in seq order
}

/** Result of re-proving the chain. */
export type ChainVerdict =
  | { readonly kind: 'intact'; readonly rows: number; readonly headHash: string }
  | {
      readonly kind: 'broken';
      readonly rows: number;
      readonly seq: number; // first broken row (or where the gap is)
      readonly reason: 'hash_mismatch' | 'seq_gap' | 'broken_link' | 'bad_genesis';
      readonly message: string;
    };

/** The store port. Every write that carries an event commits both or neither. */
export interface LedgerStore {
  /** Appends one event to the chain; serialised so the chain never forks. */
  appendEvent(event: NewLogEvent): Promise<LogRow>;
  /** Reads log rows in seq order. */
  readEvents(filter?: LogFilter): Promise<readonly LogRow[]>;
  /** Streams every log row in seq order (for verify on large ledgers). */
  iterateEvents(): AsyncIterable<LogRow>;
  /** Stores a new proposal and its `proposed` event atomically. */
  putProposal(proposal: ProposalRecord, event: NewLogEvent): Promise<LogRow>;
  getProposal(id: string): Promise<ProposalRecord | null>;
  listProposals(state?: ProposalState): Promise<readonly ProposalRecord[]>;
  /** Stores an approval/rejection and its event atomically. */
  addDecision(decision: DecisionRecord, event: NewLogEvent): Promise<LogRow>;
  listDecisions(proposalId: string): Promise<readonly DecisionRecord[]>;
  /**
   * Compare-and-set of a proposal's state with its event, atomically: returns null (and writes
   * nothing) when the current state is not one of `from`.
   */
  transitionProposal(
    id: string,
    from: readonly ProposalState[],
    to: ProposalState,
    event: NewLogEvent,
  ): Promise<LogRow | null>;
  close(): Promise<void>;
}
