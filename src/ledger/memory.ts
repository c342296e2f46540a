/**
 * The in-memory ledger: the records, hash chain and guarantees of the SQLite and PostgreSQL
 * ledgers, held in this process's memory — for tests and for library users who want a ledger
 * without a file. It is gone when the process exits, so the CLI refuses it.
 *
 * `memory:` opens a private ledger that only the returned handle sees. `memory:<name>` opens
 * the named ledger of this process, creating it on a write open; every handle of that name
 * shares it (as handles of one file do) until `dropMemoryLedger(name)` or the process's end.
 *
 * Rows go through the same sealing and the same stored-row mapping as the SQL adapters
 * (`sealEvent`, `rows.ts`) and are kept frozen: there is no API that updates or deletes one,
 * and a caller cannot change a stored record through what it was given. Each write checks,
 * seals and then stores record and event in one synchronous step, so writers in this process
 * queue on the event loop, the chain never forks, and a refused write leaves nothing behind.
 */
import { LedgerError } from '../model/errors.js';
import { sealEvent } from './chain.js';
import { MEMORY_PREFIX, duplicateProposal, isMemorySpec, ledgerFailure, ledgerMissing, unknownProposal } from './failure.js';
import type { AdmissionRecord, DecisionRecord, LedgerStore, LogFilter, LogRow, NewLogEvent, ProposalRecord, ProposalState, StateProblem } from './port.js';
import type { ProposalCounts, ProposalQuery, ProposalSummary } from './port.js';
import { orderedCounts } from './summaries-sql.js';
import { chainedState, judgeProposalState, refuseReservedKeys, stateEvent, stateForged, type StateIndexRow, type StateJudgement } from './states.js';
import {
  ADMISSION_COLUMNS,
  DECISION_COLUMNS,
  LOG_COLUMNS,
  PROPOSAL_COLUMNS,
  checkProposalState,
  admissionValues,
  decisionValues,
  logRowValues,
  normalizeFilter,
  proposalValues,
  toAdmission,
  toDecision,
  toLogRow,
  toProposal,
  type StoredAdmission,
  type StoredDecision,
  type StoredLogRow,
  type StoredProposal,
} from './rows.js';

/** How to open an in-memory ledger. */
export interface MemoryLedgerOptions {
  /** Create the named ledger when missing; otherwise a missing one is an InputError. Default true. */
  readonly create?: boolean;
  /**
   * The most events the ledger holds; an append past it fails closed (exit 7), as a full disk
   * would. Set on every open of a name, for every handle of it. Default: no limit.
   */
  readonly maxEvents?: number;
  /** Rows per batch when streaming the log (the stream yields to the event loop between batches). Default 10,000. */
  readonly batchSize?: number;
}

/** The stored state of one in-memory ledger, shared by its handles. */
interface MemoryDatabase {
  readonly log: LogRow[];
  /** proposals as stored: their `state` is the one they were stored with */
  readonly proposals: Map<string, ProposalRecord>;
  /** each proposal's log rows and state index rows, in seq order */
  readonly rowsOf: Map<string, LogRow[]>;
  readonly statesOf: Map<string, StateIndexRow[]>;
  readonly decisions: DecisionRecord[];
  readonly admissions: AdmissionRecord[];
  maxEvents: number;
  dropped: boolean;
}

const NAMED = new Map<string, MemoryDatabase>();

/**
 * Opens the in-memory ledger `spec` names (`memory:` or `memory:<name>`, see module doc).
 * Reading a named ledger nobody created in this process is an InputError, as for a missing file.
 */
export async function openMemoryLedger(spec: string, options: MemoryLedgerOptions = {}): Promise<MemoryLedger> {
  if (!isMemorySpec(spec)) throw new LedgerError(`${JSON.stringify(spec)} is not an in-memory ledger spec; use memory: or memory:<name>`);
  const maxEvents = options.maxEvents ?? Number.POSITIVE_INFINITY;
  if (!(maxEvents >= 0 && (Number.isSafeInteger(maxEvents) || maxEvents === Number.POSITIVE_INFINITY))) {
    throw new LedgerError(`maxEvents ${String(options.maxEvents)} is not a non-negative integer; pass a count of events`);
  }
  const name = spec.slice(MEMORY_PREFIX.length);
  const create = options.create ?? true;
  let db = name === '' ? undefined : NAMED.get(name);
  if (db === undefined) {
    if (!create) {
      throw ledgerMissing(spec, name === '' ? 'an unnamed in-memory ledger exists only in the handle that created it' : 'no ledger of that name was opened for writing in this process');
    }
    db = { log: [], proposals: new Map(), rowsOf: new Map(), statesOf: new Map(), decisions: [], admissions: [], maxEvents, dropped: false };
    if (name !== '') NAMED.set(name, db);
  } else if (options.maxEvents !== undefined) {
    db.maxEvents = maxEvents;
  }
  return new MemoryLedger(db, spec, options.batchSize ?? 10_000);
}

/**
 * Forgets the named in-memory ledger: its memory is freed once no handle holds it, its open
 * handles fail from now on, and the next write open of the name starts an empty ledger.
 * Returns whether there was one.
 */
export function dropMemoryLedger(name: string): boolean {
  const db = NAMED.get(name);
  if (db === undefined) return false;
  db.dropped = true;
  NAMED.delete(name);
  return true;
}

/** A LedgerStore over one in-memory ledger; one of possibly several handles of it. */
export class MemoryLedger implements LedgerStore {
  private closed = false;

  constructor(
    private readonly db: MemoryDatabase,
    /** The ledger spec, as named in messages. */
    readonly spec: string,
    private readonly batchSize = 10_000,
  ) {}

  /** Appends one event. */
  async appendEvent(event: NewLogEvent): Promise<LogRow> {
    return this.write(() => {
      refuseReservedKeys(event);
      return this.append(event);
    });
  }

  /** Appends events, in order, all or none. */
  async appendEvents(events: readonly NewLogEvent[]): Promise<readonly LogRow[]> {
    return this.write(() => {
      for (const e of events) refuseReservedKeys(e);
      const before = this.db.log.length;
      try {
        return events.map((e) => this.append(e));
      } catch (err) {
        // all or none, as a transaction would: the rows of this batch already added go again
        for (const row of this.db.log.splice(before)) if (row.proposalId !== null) this.db.rowsOf.get(row.proposalId)?.pop();
        throw err;
      }
    });
  }

  /** Reads log rows matching `filter`, in seq order; with a limit, the latest rows. */
  async readEvents(filter: LogFilter = {}): Promise<readonly LogRow[]> {
    const f = normalizeFilter(filter);
    const rows = this.read(() =>
      this.db.log.filter(
        (r) =>
          (f.proposalId === undefined || r.proposalId === f.proposalId) &&
          (f.dotId === undefined || r.dotId === f.dotId) &&
          (f.actor === undefined || r.actor === f.actor) &&
          (f.event === undefined || r.event === f.event) &&
          (f.since === undefined || r.at >= f.since) &&
          (f.fromSeq === undefined || r.seq >= f.fromSeq) &&
          (f.toSeq === undefined || r.seq <= f.toSeq) &&
          (f.seqs === undefined || f.seqs.includes(r.seq)),
      ),
    );
    if (f.limit === undefined) return rows;
    return f.limit === 0 ? [] : rows.slice(-f.limit);
  }

  /** Streams every log row in seq order, yielding to the event loop between batches. */
  async *iterateEvents(): AsyncGenerator<LogRow> {
    for (let next = 0; ; next += this.batchSize) {
      const batch = this.read(() => this.db.log.slice(next, next + this.batchSize));
      yield* batch;
      if (batch.length < this.batchSize) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Stores a new proposal and its event; a known id is an InputError. */
  async putProposal(proposal: ProposalRecord, event: NewLogEvent): Promise<LogRow> {
    checkProposalState(proposal.state);
    return this.write(() => {
      if (this.db.proposals.has(proposal.id)) throw duplicateProposal(this.spec, proposal.id);
      const stored = storedProposal(proposal);
      const row = this.append(stateEvent(event, proposal.id, proposal.state, null));
      this.db.proposals.set(stored.id, stored);
      this.addState(row, proposal.state, null);
      return row;
    });
  }

  /** Reads one proposal with its state derived from the chain, or null. */
  async getProposal(id: string): Promise<ProposalRecord | null> {
    return this.read(() => {
      const p = this.db.proposals.get(id);
      if (p === undefined) return null;
      const j = this.judge(p);
      if (j.problem) throw stateForged(j.problem);
      return j.state === p.state ? p : Object.freeze({ ...p, state: j.state });
    });
  }

  /** Lists proposals (optionally in one state) with their derived states, oldest first. */
  async listProposals(state?: ProposalState): Promise<readonly ProposalRecord[]> {
    return this.read(() =>
      [...this.db.proposals.values()]
        .map((p) => {
          const s = (this.db.statesOf.get(p.id)?.at(-1)?.state ?? p.state) as ProposalState;
          return s === p.state ? p : Object.freeze({ ...p, state: s });
        })
        .filter((p) => state === undefined || p.state === state)
        .sort((a, b) => compareText(a.createdAt, b.createdAt) || compareText(a.id, b.id)),
    );
  }

  /** Lists proposal summaries in recorded order (summaries-sql.ts), the latest `limit`, each state judged. */
  async listProposalSummaries(query: ProposalQuery = {}): Promise<readonly ProposalSummary[]> {
    return this.read(() => {
      const born = (p: ProposalRecord): number => this.db.statesOf.get(p.id)?.[0]?.seq ?? 0;
      const all = [...this.db.proposals.values()]
        .map((p) => ({ p, j: this.judge(p) }))
        .filter((x) => query.state === undefined || x.j.state === query.state)
        .sort((a, b) => born(a.p) - born(b.p) || compareText(a.p.createdAt, b.p.createdAt) || compareText(a.p.id, b.p.id));
      const page = query.limit === undefined ? all : query.limit === 0 ? [] : all.slice(-query.limit);
      return page.map(({ p, j }) => {
        if (j.problem) throw stateForged(j.problem);
        const { id, dotIds, hash, targetFingerprint, createdBy, createdAt, expiresAt } = p;
        return { id, dotIds, state: j.state, hash, targetFingerprint, createdBy, createdAt, expiresAt };
      });
    });
  }

  /** Counts proposals by derived state (the latest index row, else the stored state). */
  async countProposals(): Promise<ProposalCounts> {
    return this.read(() => {
      const counts: Partial<Record<ProposalState, number>> = {};
      for (const p of this.db.proposals.values()) {
        const s = (this.db.statesOf.get(p.id)?.at(-1)?.state ?? p.state) as ProposalState;
        counts[s] = (counts[s] ?? 0) + 1;
      }
      return orderedCounts(counts);
    });
  }

  /** The first stored proposal state that its chained events contradict, or null (states.ts). */
  async checkProposalStates(): Promise<StateProblem | null> {
    return this.read(() => {
      for (const p of this.db.proposals.values()) {
        const j = this.judge(p);
        if (j.problem) return j.problem;
      }
      return null;
    });
  }

  /** Stores a decision and its event; an unknown proposal is an InputError. */
  async addDecision(decision: DecisionRecord, event: NewLogEvent): Promise<LogRow> {
    return this.write(() => {
      refuseReservedKeys(event);
      if (!this.db.proposals.has(decision.proposalId)) throw unknownProposal(this.spec, decision.proposalId);
      const stored = storedDecision(decision);
      const row = this.append(event);
      this.db.decisions.push(stored);
      return row;
    });
  }

  /** Lists a proposal's decisions in the order they were made. */
  async listDecisions(proposalId: string): Promise<readonly DecisionRecord[]> {
    return this.read(() => this.db.decisions.filter((d) => d.proposalId === proposalId));
  }

  /** Stores an admission of DOT content and its `admitted` event. */
  async addAdmission(admission: AdmissionRecord, event: NewLogEvent): Promise<LogRow> {
    return this.write(() => {
      refuseReservedKeys(event);
      const stored = deepFreeze(toAdmission(storedRow<StoredAdmission>(ADMISSION_COLUMNS, admissionValues(admission))));
      const row = this.append(event);
      this.db.admissions.push(stored);
      return row;
    });
  }

  /** Lists admissions (of one DOT, or all) in the order they were made. */
  async listAdmissions(dotId?: string): Promise<readonly AdmissionRecord[]> {
    return this.read(() => this.db.admissions.filter((a) => dotId === undefined || a.dotId === dotId));
  }

  /** Compare-and-set of a proposal's state with its event; null when the state is not in `from`. */
  async transitionProposal(id: string, from: readonly ProposalState[], to: ProposalState, event: NewLogEvent): Promise<LogRow | null> {
    checkProposalState(to);
    return this.write(() => {
      const current = this.db.proposals.get(id);
      if (current === undefined) throw unknownProposal(this.spec, id);
      const j = this.judge(current);
      if (j.problem) throw stateForged(j.problem);
      if (!from.includes(j.state)) return null;
      const row = this.append(stateEvent(event, id, to, j.lastSeq));
      this.addState(row, to, j.lastSeq);
      return row;
    });
  }

  private judge(p: ProposalRecord): StateJudgement {
    const rows = this.db.rowsOf.get(p.id) ?? [];
    return judgeProposalState(p.id, {
      column: p.state,
      index: this.db.statesOf.get(p.id) ?? [],
      chained: rows.filter((r) => chainedState(r) !== null),
      firstSeq: rows[0]?.seq ?? null,
    });
  }

  private addState(row: LogRow, state: ProposalState, prevSeq: number | null): void {
    const id = row.proposalId as string;
    const list = this.db.statesOf.get(id) ?? [];
    list.push(Object.freeze({ seq: row.seq, proposalId: id, state, prevSeq }));
    this.db.statesOf.set(id, list);
  }

  /** Closes this handle; later calls fail. A named ledger stays for its other and later handles. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Seals `event` onto the head and stores it; the last step of every write, after all checks. */
  private append(event: NewLogEvent): LogRow {
    const head = this.db.log[this.db.log.length - 1];
    const sealed = sealEvent(head === undefined ? null : { seq: head.seq, hash: head.hash, at: head.at }, event);
    if (this.db.log.length >= this.db.maxEvents) {
      throw new Error(`it is full: it holds ${this.db.log.length} events, its maxEvents`);
    }
    const row = deepFreeze(toLogRow(storedRow<StoredLogRow>(LOG_COLUMNS, logRowValues(sealed.row, sealed.detailJson))));
    this.db.log.push(row);
    if (row.proposalId !== null) {
      const list = this.db.rowsOf.get(row.proposalId) ?? [];
      list.push(row);
      this.db.rowsOf.set(row.proposalId, list);
    }
    return row;
  }

  private write<T>(fn: () => T): T {
    this.checkOpen('write');
    try {
      return fn();
    } catch (err) {
      throw ledgerFailure(this.spec, 'write', err);
    }
  }

  private read<T>(fn: () => T): T {
    this.checkOpen('read');
    return fn();
  }

  private checkOpen(access: 'read' | 'write'): void {
    if (this.closed) throw ledgerFailure(this.spec, access, new Error('this handle of it was closed'));
    if (this.db.dropped) throw ledgerFailure(this.spec, access, new Error('it was dropped'));
  }
}

/** A proposal as the SQL adapters would read it back: through the stored columns. */
function storedProposal(p: ProposalRecord): ProposalRecord {
  return deepFreeze(toProposal(storedRow<StoredProposal>(PROPOSAL_COLUMNS, proposalValues(p))));
}

/** A decision as the SQL adapters would read it back; a kind their CHECK refuses is refused here too. */
function storedDecision(d: DecisionRecord): DecisionRecord {
  if (d.kind !== 'approve' && d.kind !== 'reject') {
    throw new LedgerError(`cannot store decision kind ${JSON.stringify(d.kind)}: it is not approve or reject; fix the engine`, {
      code: 'LEDGER_BAD_RECORD',
    });
  }
  return deepFreeze(toDecision(storedRow<StoredDecision>(DECISION_COLUMNS, decisionValues(d))));
}

function storedRow<T>(columns: readonly string[], values: readonly unknown[]): T {
  return Object.fromEntries(columns.map((c, i) => [c, values[i]])) as T;
}

// The SQL ledgers order these columns bytewise (SQLite BINARY, PostgreSQL COLLATE "C"), not by
// locale; for the ISO times and ids dotctl writes, comparing UTF-16 code units gives that order.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
