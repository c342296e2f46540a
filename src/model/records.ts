/**
 * The records of the pipeline — proposals, decisions and action-log rows — as plain data.
 * The ledger stores them; the gate and the engine reason about them.
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
  | 'rehearsed'
  /** a run left something a human must look at, without a rollback having failed */
  | 'needs_attention'
  | 'admitted'
  /** `dotctl test` proved (or failed to prove) a DOT's rollback on a scratch copy; bound to its content hash */
  | 'tested'
  /** an operator withdrew a proposal that was never applied */
  | 'withdrawn'
  /** the first identity registry of the ledger, signed by every member (detail: registry, nonce, signatures) */
  | 'registry_genesis'
  /** a member proposed a new registry (detail: change id, the registry it replaces, the new one, signature) */
  | 'registry_proposed'
  /** a member signed a proposed registry change that has not reached its quorum yet */
  | 'registry_approved'
  /** a registry change reached its quorum and is in force from this row (detail: every signature) */
  | 'registry_changed'
  /** the acting identity's signature over the chain head after a command's last row */
  | 'head_signed'
  /** a ledger of an earlier dotctl was given a registry: the rows before this one are legacy, unsigned */
  | 'ledger_upgraded'
  /** `dotctl watch` (an automation identity) saw a standing check go from holding to failing */
  | 'invariant_failed'
  /** `dotctl watch` saw a failing standing check hold again */
  | 'invariant_recovered';

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
  'needs_attention',
  'admitted',
  'tested',
  'withdrawn',
  'registry_genesis',
  'registry_proposed',
  'registry_approved',
  'registry_changed',
  'head_signed',
  'ledger_upgraded',
  'invariant_failed',
  'invariant_recovered',
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
  | 'interrupted'
  /** withdrawn by an operator before it was applied (stale, superseded); it can never be applied */
  | 'withdrawn';

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
  'withdrawn',
] as const satisfies readonly ProposalState[];

// Compile-time proof that the two lists above name every member of their union.
type Missing<U, L extends readonly unknown[]> = Exclude<U, L[number]>;
const listsAreComplete: [Missing<LogEventKind, typeof LOG_EVENT_KINDS> | Missing<ProposalState, typeof PROPOSAL_STATES>] extends [never] ? true : false = true;
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

/**
 * The DOT content a proposal was made from, frozen with it: every file (base name → text) of its
 * DOTs and each DOT's content hash. Apply and rollback run this, never the files as they are now.
 */
export interface FrozenContent {
  readonly files: Readonly<Record<string, string>>;
  readonly hashes: Readonly<Record<string, string>>;
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
  /** the frozen DOT content (null on proposals made before content was frozen) */
  readonly content?: FrozenContent | null;
}

/** A reviewer's signed admission of one exact content of a DOT (its files, by hash). */
export interface AdmissionRecord {
  readonly dotId: string;
  readonly version: number;
  readonly contentHash: string;
  /** each file's SHA-256 (bound by contentHash), so a later change can be named by file */
  readonly fileHashes: Readonly<Record<string, string>>;
  readonly actor: string;
  readonly signature: string; // base64 Ed25519 over `admit`, the DOT id, the content hash and `at`
  readonly at: string;
  readonly comment: string | null;
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
