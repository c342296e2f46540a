/**
 * The embedded ledger: SQLite through better-sqlite3. One file (WAL, synchronous=FULL) holds
 * dot_proposals, dot_decisions, dot_admissions and the append-only, hash-chained dot_action_log. Every write
 * runs in a `BEGIN IMMEDIATE` transaction that reads the head and inserts, so concurrent
 * processes queue on SQLite's write lock (busy_timeout) and the chain never forks.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { LedgerError } from '../model/errors.js';
import { sealEvent, type ChainHead } from './chain.js';
import { duplicateProposal, ledgerFailure, ledgerMissing, ledgerTooNew, unknownProposal } from './failure.js';
import { verifySqliteChain, type ParallelVerifyOptions } from './verify-parallel.js';
import type { AdmissionRecord, ChainVerdict, DecisionRecord, LedgerStore, LogFilter, LogRow, NewLogEvent, ProposalRecord, ProposalState, StateProblem } from './port.js';
import type { ProposalCounts, ProposalQuery, ProposalSummary } from './port.js';
import { judgeProposalState, refuseReservedKeys, stateEvent, stateForged, type StateJudgement } from './states.js';
import { evidenceOf, stateSql, suspectProblem, type StateSuspect, type StoredStateRow } from './states-sql.js';
import { sqliteSummaries, type SqliteSummaries } from './sqlite-summaries.js';
import {
  ADMISSION_COLUMNS,
  DECISION_COLUMNS,
  LOG_COLUMNS,
  PROPOSAL_COLUMNS,
  buildLogQuery,
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

export { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite-migrations.js';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './sqlite-migrations.js';

/** How to open a SQLite ledger. */
export interface SqliteLedgerOptions {
  /** Create the file (and its directory) when missing; otherwise a missing file is an InputError. Default true. */
  readonly create?: boolean;
  /** Open the connection read-only: nothing is ever written, writes fail with a LedgerError. Default false. */
  readonly readonly?: boolean;
  /** How long a writer waits for another process's write lock. Default 15 s. */
  readonly busyTimeoutMs?: number;
  /** Rows per batch when streaming the log. Default 10,000. */
  readonly batchSize?: number;
  /** How `verifyEvents` splits a large log over worker threads. */
  readonly verify?: ParallelVerifyOptions;
}

/**
 * Opens (creating and migrating as needed) the SQLite ledger at `path`. Throws a LedgerError
 * naming the file when it cannot be opened or written.
 */
export async function openSqliteLedger(path: string, options: SqliteLedgerOptions = {}): Promise<SqliteLedger> {
  const create = (options.create ?? true) && options.readonly !== true;
  const readonly = options.readonly === true;
  if (!create && !existsSync(path)) throw ledgerMissing(path, 'the file does not exist');
  let db: Database.Database;
  try {
    if (create) makeDirectory(dirname(path));
    const addon = nativeAddon();
    db = new Database(path, { readonly, fileMustExist: !create, timeout: options.busyTimeoutMs ?? 15_000, ...(addon ? { nativeBinding: addon } : {}) });
  } catch (err) {
    throw ledgerFailure(path, create ? 'write' : 'open', err);
  }
  try {
    db.pragma('foreign_keys = ON');
    const version = currentVersion(db);
    if (readonly) {
      checkVersion(path, version);
    } else {
      // Reading never turns a file into a ledger; an up-to-date ledger is opened without a write.
      if (!create && version === null) throw ledgerMissing(path, 'the file holds no dotctl ledger');
      if (create || version !== SQLITE_SCHEMA_VERSION) enableWal(db);
      db.pragma('synchronous = FULL');
      if (version !== SQLITE_SCHEMA_VERSION) migrate(db, path);
    }
    return new SqliteLedger(db, path, options.batchSize ?? 10_000, options.verify);
  } catch (err) {
    db.close();
    throw ledgerFailure(path, create ? 'write' : 'open', err);
  }
}

let addonMemo: string | undefined | null = null;

/**
 * The path of better-sqlite3's compiled addon where its install puts it, so opening a ledger
 * skips the `bindings` package's search (it walks a stack trace and a dozen candidate paths);
 * undefined (that search) when it is elsewhere.
 */
function nativeAddon(): string | undefined {
  if (addonMemo !== null) return addonMemo;
  try {
    const file = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
    addonMemo = existsSync(file) ? file : undefined;
  } catch {
    addonMemo = undefined;
  }
  return addonMemo;
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdirSync spins forever where mkdir(2)
 * answers ENOENT under an existing parent (e.g. below /proc), and the ledger must fail, not hang.
 */
function makeDirectory(dir: string): void {
  const found = statSync(dir, { throwIfNoEntry: false });
  if (found?.isDirectory()) return;
  if (found !== undefined) throw new Error(`ENOTDIR: ${dir} is not a directory`);
  const parent = dirname(dir);
  if (parent !== dir) makeDirectory(parent);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
  }
}

// Switching a fresh file to WAL needs a moment alone with it; processes opening it together retry.
function enableWal(db: Database.Database): void {
  for (let attempt = 1; ; attempt += 1) {
    try {
      if (db.pragma('journal_mode = WAL', { simple: true }) === 'wal') return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || attempt >= 100) throw err;
    }
    if (attempt >= 100) throw new Error('the file could not be switched to WAL journal mode');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

function currentVersion(db: Database.Database): number | null {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dotctl_schema_version'").get();
  if (table === undefined) return null;
  const row = db.prepare('SELECT max(version) AS v FROM dotctl_schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

function checkVersion(path: string, v: number | null): void {
  if (v === null) throw ledgerMissing(path, 'the file holds no dotctl ledger');
  if (v > SQLITE_SCHEMA_VERSION) throw ledgerTooNew(path, v, SQLITE_SCHEMA_VERSION);
  if (v < SQLITE_SCHEMA_VERSION) {
    throw new LedgerError(`the ledger ${path} is at schema version ${v} and needs version ${SQLITE_SCHEMA_VERSION}; open it once for writing to migrate it`, { code: 'LEDGER_NEEDS_MIGRATION' });
  }
}

function migrate(db: Database.Database, path: string): void {
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS dotctl_schema_version (
      version     INTEGER PRIMARY KEY,
      description TEXT NOT NULL,
      applied_at  TEXT NOT NULL
    )`);
    const v = currentVersion(db) ?? 0;
    if (v > SQLITE_SCHEMA_VERSION) throw ledgerTooNew(path, v, SQLITE_SCHEMA_VERSION);
    const record = db.prepare('INSERT INTO dotctl_schema_version (version, description, applied_at) VALUES (?, ?, ?)');
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= v) continue;
      db.exec(m.sql);
      record.run(m.version, m.description, new Date().toISOString());
    }
  });
  // IMMEDIATE: two processes migrating a fresh file at once queue instead of failing mid-way.
  run.immediate();
}

function prepareStatements(db: Database.Database) {
  const st = stateSql('sqlite');
  const cols = (c: readonly string[]): string => c.join(', ');
  const marks = (c: readonly string[]): string => c.map(() => '?').join(', ');
  return {
    head: db.prepare<[], ChainHead>('SELECT seq, hash, at FROM dot_action_log ORDER BY seq DESC LIMIT 1'),
    insertLog: db.prepare(`INSERT INTO dot_action_log (${cols(LOG_COLUMNS)}) VALUES (${marks(LOG_COLUMNS)})`),
    batch: db.prepare<[number, number], StoredLogRow>(`SELECT ${cols(LOG_COLUMNS)} FROM dot_action_log WHERE seq > ? ORDER BY seq LIMIT ?`),
    insertProposal: db.prepare(`INSERT INTO dot_proposals (${cols(PROPOSAL_COLUMNS)}) VALUES (${marks(PROPOSAL_COLUMNS)})`),
    proposal: db.prepare<[string], StoredProposal>(`SELECT ${cols(PROPOSAL_COLUMNS)} FROM dot_proposals WHERE id = ?`),
    proposals: db.prepare<[], StoredProposal>(st.proposals),
    proposalsIn: db.prepare<[string], StoredProposal>(st.proposalsIn),
    indexOf: db.prepare<[string], StoredStateRow>(st.indexOf),
    chainedOf: db.prepare<[string], StoredLogRow>(st.chainedOf),
    firstSeqOf: db.prepare<[string], { seq: number | null }>(st.firstSeqOf),
    insertState: db.prepare<[number, string, string, number | null]>(st.insertState),
    checks: st.checks.map((sql) => db.prepare<[], StateSuspect>(sql)),
    insertDecision: db.prepare(`INSERT INTO dot_decisions (${cols(DECISION_COLUMNS)}) VALUES (${marks(DECISION_COLUMNS)})`),
    decisions: db.prepare<[string], StoredDecision>(`SELECT ${cols(DECISION_COLUMNS)} FROM dot_decisions WHERE proposal_id = ? ORDER BY id`),
    insertAdmission: db.prepare(`INSERT INTO dot_admissions (${cols(ADMISSION_COLUMNS)}) VALUES (${marks(ADMISSION_COLUMNS)})`),
    admissions: db.prepare<[], StoredAdmission>(`SELECT ${cols(ADMISSION_COLUMNS)} FROM dot_admissions ORDER BY id`),
    admissionsOf: db.prepare<[string], StoredAdmission>(`SELECT ${cols(ADMISSION_COLUMNS)} FROM dot_admissions WHERE dot_id = ? ORDER BY id`),
  };
}

/** A LedgerStore over one SQLite file; holds the connection until `close()`. */
export class SqliteLedger implements LedgerStore {
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    /** The ledger file, as named in messages. */
    readonly path: string,
    private readonly batchSize = 10_000,
    private readonly verifyOptions: ParallelVerifyOptions = {},
  ) {
    this.stmts = prepareStatements(db);
  }

  /** Appends one event in its own IMMEDIATE transaction. */
  async appendEvent(event: NewLogEvent): Promise<LogRow> {
    refuseReservedKeys(event);
    return this.write(() => this.appendInTx(event));
  }

  /** Appends events, in order, in one IMMEDIATE transaction. */
  async appendEvents(events: readonly NewLogEvent[]): Promise<readonly LogRow[]> {
    for (const e of events) refuseReservedKeys(e);
    return this.write(() => events.map((e) => this.appendInTx(e)));
  }

  /** Reads log rows matching `filter`, in seq order. */
  async readEvents(filter: LogFilter = {}): Promise<readonly LogRow[]> {
    const f = normalizeFilter(filter);
    return this.read(() => {
      const q = buildLogQuery('dot_action_log', f, () => '?');
      return (this.db.prepare(q.sql).all(...q.params) as StoredLogRow[]).map(toLogRow);
    });
  }

  /** Streams every log row in seq order, in batches by seq so memory stays flat. */
  async *iterateEvents(): AsyncGenerator<LogRow> {
    let after = 0;
    for (;;) {
      const batch = this.read(() => this.stmts.batch.all(after, this.batchSize));
      for (const r of batch) yield toLogRow(r);
      const last = batch[batch.length - 1];
      if (last === undefined || batch.length < this.batchSize) return;
      after = Number(last.seq);
    }
  }

  /** Re-proves the chain from raw rows, over worker threads when the log is large (verify-parallel.ts). */
  async verifyEvents(): Promise<ChainVerdict> {
    try {
      return await verifySqliteChain(this.db, this.verifyOptions);
    } catch (err) {
      throw ledgerFailure(this.path, 'read', err);
    }
  }

  /** Stores a new proposal and its event in one transaction; a known id is an InputError. */
  async putProposal(proposal: ProposalRecord, event: NewLogEvent): Promise<LogRow> {
    checkProposalState(proposal.state);
    return this.write(() => {
      if (this.stmts.proposal.get(proposal.id) !== undefined) throw duplicateProposal(this.path, proposal.id);
      this.stmts.insertProposal.run(...proposalValues(proposal));
      const row = this.appendInTx(stateEvent(event, proposal.id, proposal.state, null));
      this.stmts.insertState.run(row.seq, proposal.id, proposal.state, null);
      return row;
    });
  }

  /** Reads one proposal with its state derived from the chain, or null; a forged state is a LedgerError. */
  async getProposal(id: string): Promise<ProposalRecord | null> {
    return this.read(() =>
      this.db.transaction(() => {
        const r = this.stmts.proposal.get(id);
        if (r === undefined) return null;
        const j = this.judge(r);
        if (j.problem) throw stateForged(j.problem);
        return toProposal({ ...r, state: j.state });
      })(),
    );
  }

  /** The first stored proposal state that its chained events contradict, or null (states.ts). */
  async checkProposalStates(): Promise<StateProblem | null> {
    const stmts = this.stmts;
    return this.read(() =>
      this.db.transaction(() => {
        for (const check of stmts.checks) {
          const s = check.get();
          if (s === undefined) continue;
          const stored = stmts.proposal.get(s.id);
          return suspectProblem(s, stored === undefined ? null : this.judge(stored));
        }
        return null;
      })(),
    );
  }

  /** Lists proposals (optionally in one state), oldest first. */
  async listProposals(state?: ProposalState): Promise<readonly ProposalRecord[]> {
    return this.read(() => (state === undefined ? this.stmts.proposals.all() : this.stmts.proposalsIn.all(state)).map(toProposal));
  }

  /** Lists proposal summaries, the latest `limit` through indexes, each state judged (sqlite-summaries.ts). */
  async listProposalSummaries(query: ProposalQuery = {}): Promise<readonly ProposalSummary[]> {
    return this.read(() => this.summaries().list(query));
  }

  /** Counts proposals by derived state from the state index (sqlite-summaries.ts). */
  async countProposals(): Promise<ProposalCounts> {
    return this.read(() => this.summaries().count());
  }

  private summaryReads: SqliteSummaries | undefined;
  private summaries = (): SqliteSummaries => (this.summaryReads ??= sqliteSummaries(this.db, (r) => this.judge(r)));

  /** Stores a decision and its event in one transaction; an unknown proposal is an InputError. */
  async addDecision(decision: DecisionRecord, event: NewLogEvent): Promise<LogRow> {
    refuseReservedKeys(event);
    return this.write(() => {
      if (this.stmts.proposal.get(decision.proposalId) === undefined) throw unknownProposal(this.path, decision.proposalId);
      this.stmts.insertDecision.run(...decisionValues(decision));
      return this.appendInTx(event);
    });
  }

  /** Lists a proposal's decisions in the order they were made. */
  async listDecisions(proposalId: string): Promise<readonly DecisionRecord[]> {
    return this.read(() => this.stmts.decisions.all(proposalId).map(toDecision));
  }

  /** Stores an admission and its event in one transaction. */
  async addAdmission(admission: AdmissionRecord, event: NewLogEvent): Promise<LogRow> {
    refuseReservedKeys(event);
    return this.write(() => {
      this.stmts.insertAdmission.run(...admissionValues(admission));
      return this.appendInTx(event);
    });
  }

  /** Lists admissions (of one DOT, or all) in the order they were made. */
  async listAdmissions(dotId?: string): Promise<readonly AdmissionRecord[]> {
    return this.read(() => (dotId === undefined ? this.stmts.admissions.all() : this.stmts.admissionsOf.all(dotId)).map(toAdmission));
  }

  /** Compare-and-set of a proposal's state with its event; null when the state is not in `from`. */
  async transitionProposal(id: string, from: readonly ProposalState[], to: ProposalState, event: NewLogEvent): Promise<LogRow | null> {
    checkProposalState(to);
    return this.write(() => {
      const current = this.stmts.proposal.get(id);
      if (current === undefined) throw unknownProposal(this.path, id);
      const j = this.judge(current);
      if (j.problem) throw stateForged(j.problem);
      if (!from.includes(j.state)) return null;
      const row = this.appendInTx(stateEvent(event, id, to, j.lastSeq));
      this.stmts.insertState.run(row.seq, id, to, j.lastSeq);
      return row;
    });
  }

  /** Judges one stored proposal's state against its chained events (call inside a transaction). */
  private judge(r: Pick<StoredProposal, 'id' | 'state'>): StateJudgement {
    const index = this.stmts.indexOf.all(r.id);
    const rows = this.stmts.chainedOf.all(r.id).map(toLogRow);
    return judgeProposalState(r.id, evidenceOf(r.state, index, rows, this.stmts.firstSeqOf.get(r.id)?.seq ?? null));
  }

  /** Closes the connection; later calls fail. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private appendInTx(event: NewLogEvent): LogRow {
    const sealed = sealEvent(this.stmts.head.get() ?? null, event);
    this.stmts.insertLog.run(...logRowValues(sealed.row, sealed.detailJson));
    return sealed.row;
  }

  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw ledgerFailure(this.path, 'write', err);
    }
  }

  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw ledgerFailure(this.path, 'read', err);
    }
  }
}
