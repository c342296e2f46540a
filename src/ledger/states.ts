/**
 * A proposal's state, derived from its chained events rather than kept in a mutable column.
 *
 * Every state change (`putProposal`, `transitionProposal`) writes, in one transaction, a chained
 * event whose detail carries `proposal_state` (the new state) and `prev_state_seq` (the seq of
 * the proposal's previous state-setting event, or null), and one append-only index row
 * `dot_proposal_states (seq, proposal_id, state, prev_seq)` saying the same. A proposal's state is
 * the state of its index row with the highest seq; the `state` column of `dot_proposals` keeps the
 * state it was stored with and is never updated. A proposal of an older ledger (schema 2) that has
 * no index row keeps its stored state (the legacy limit: nothing in the chain proves it).
 *
 * The index is a projection of the chain, and this module checks that it is exactly that: for one
 * proposal (`judgeProposalState`, on every read of a proposal and before every compare-and-set)
 * and, through the adapters' set queries, for the whole ledger (`verifyLedger`, what
 * `dotctl log verify` runs after the hash chain). Pure, apart from verifyLedger's reads.
 */
import { LedgerError } from '../model/errors.js';
import { hashRow, verifyChain } from './chain.js';
import { PROPOSAL_STATES, type ChainVerdict, type LedgerStore, type LogRow, type NewLogEvent, type ProposalState, type StateProblem } from './port.js';

export type { StateProblem };

/** The detail key of a state-setting event that names the new state. */
export const STATE_KEY = 'proposal_state';
/** The detail key of a state-setting event that names the previous state-setting event's seq. */
export const PREV_STATE_KEY = 'prev_state_seq';

/** One row of the state index (`dot_proposal_states`). */
export interface StateIndexRow {
  readonly seq: number;
  readonly proposalId: string;
  readonly state: string;
  readonly prevSeq: number | null;
}

/** What one proposal's derived state is judged from, read in one snapshot. */
export interface StateEvidence {
  /** the `state` column of its dot_proposals row (what it was stored with) */
  readonly column: string;
  /** its rows of the state index, in seq order */
  readonly index: readonly StateIndexRow[];
  /** its log rows whose detail carries a proposal_state, in seq order */
  readonly chained: readonly LogRow[];
  /** the seq of its first log row, or null when the log holds none */
  readonly firstSeq: number | null;
}

/** The event a state change writes: the caller's event with the new state (and the previous one's seq) in its detail. */
export function stateEvent(event: NewLogEvent, id: string, state: ProposalState, prevSeq: number | null): NewLogEvent {
  if (event.proposalId !== id) {
    throw new LedgerError(`cannot change the state of proposal ${id} with an event of ${JSON.stringify(event.proposalId)}; fix the event the engine writes`, {
      code: 'LEDGER_BAD_EVENT',
      context: { event: event.event },
    });
  }
  refuseReservedKeys(event);
  return { ...event, detail: { ...event.detail, [STATE_KEY]: state, [PREV_STATE_KEY]: prevSeq } };
}

/** Refuses an event whose detail already uses a key the store writes for state changes. */
export function refuseReservedKeys(event: NewLogEvent): void {
  const d = event.detail as Record<string, unknown> | null;
  if (d !== null && typeof d === 'object' && (Object.hasOwn(d, STATE_KEY) || Object.hasOwn(d, PREV_STATE_KEY))) {
    throw new LedgerError(`cannot append to dot_action_log: ${STATE_KEY} and ${PREV_STATE_KEY} in a detail are written by the ledger itself; fix the event the engine writes`, {
      code: 'LEDGER_BAD_EVENT',
      context: { event: event.event },
    });
  }
}

/** The state a log row sets, or null when it sets none. */
export function chainedState(row: LogRow): { readonly state: string; readonly prevSeq: unknown } | null {
  const s = row.detail[STATE_KEY];
  return typeof s === 'string' ? { state: s, prevSeq: row.detail[PREV_STATE_KEY] ?? null } : null;
}

/** The derived state of a proposal and, when its stored state disagrees with its chained events, why. */
export interface StateJudgement {
  readonly state: ProposalState;
  /** the seq of its latest index row (the prev_state_seq of its next state change), or null */
  readonly lastSeq: number | null;
  readonly problem: StateProblem | null;
}

/**
 * Judges one proposal: its index rows must be exactly its state-setting log rows (same seqs,
 * states and links, each row's own hash intact), and a proposal born with a state-setting event
 * must still have the state column it was stored with.
 */
export function judgeProposalState(id: string, e: StateEvidence): StateJudgement {
  const last = e.index.at(-1);
  const state = (last?.state ?? e.column) as ProposalState;
  const lastSeq = last?.seq ?? null;
  const broken = (seq: number, why: string): StateJudgement => ({
    state,
    lastSeq,
    problem: { proposalId: id, seq, message: `the stored state of proposal ${id} disagrees with the action log: ${why}, so the ledger was tampered with` },
  });
  const n = Math.max(e.index.length, e.chained.length);
  for (let i = 0; i < n; i += 1) {
    const idx = e.index[i];
    const row = e.chained[i];
    const set = row ? chainedState(row) : null;
    if (row === undefined || set === null) {
      const x = idx as StateIndexRow;
      return broken(x.seq, `its state index says row ${x.seq} set it to ${x.state}, but no such row of the log sets its state`);
    }
    if (idx === undefined || idx.seq > row.seq) {
      return broken(row.seq, `row ${row.seq} of the log sets it to ${set.state}, but its state index lacks that row (it was deleted)`);
    }
    if (idx.seq < row.seq) {
      return broken(idx.seq, `its state index says row ${idx.seq} set it to ${idx.state}, but no such row of the log sets its state`);
    }
    if (hashRow(row.prevHash, row) !== row.hash) {
      return broken(row.seq, `row ${row.seq} of the log, which sets its state, was edited after it was written`);
    }
    if (idx.state !== set.state || idx.prevSeq !== set.prevSeq) {
      return broken(row.seq, `row ${row.seq} of the log sets it to ${set.state}, but its state index says ${idx.state}`);
    }
    if (!(PROPOSAL_STATES as readonly string[]).includes(idx.state)) {
      return broken(row.seq, `row ${row.seq} sets it to ${JSON.stringify(idx.state)}, which is not a proposal state`);
    }
  }
  const born = e.chained[0];
  if (born !== undefined && born.seq === e.firstSeq) {
    const s = chainedState(born)?.state;
    if (s !== e.column) return broken(born.seq, `it was stored as ${s} (row ${born.seq}) but its state column now says ${e.column}`);
  }
  return { state, lastSeq, problem: null };
}

/** The LedgerError (exit 7) for a proposal whose stored state the chain contradicts. */
export function stateForged(problem: StateProblem): LedgerError {
  return new LedgerError(`${problem.message}; run dotctl log verify and restore the ledger from a backup before going on`, {
    code: 'LEDGER_STATE_FORGED',
    context: { proposal: problem.proposalId, seq: problem.seq },
  });
}

/**
 * What `dotctl log verify` proves: the hash chain of the whole log, then (when it is intact)
 * that every stored proposal state is the one its chained events set. A disagreement is a
 * broken verdict naming the proposal and the row.
 */
export async function verifyLedger(ledger: LedgerStore): Promise<ChainVerdict> {
  const chain = ledger.verifyEvents ? await ledger.verifyEvents() : await verifyChain(ledger.iterateEvents());
  if (chain.kind !== 'intact' || ledger.checkProposalStates === undefined) return chain;
  const problem = await ledger.checkProposalStates();
  if (problem === null) return chain;
  return { kind: 'broken', rows: chain.rows, seq: problem.seq, reason: 'forged_state', message: problem.message, proposalId: problem.proposalId };
}
