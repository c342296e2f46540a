/**
 * The team ledger: the same tables as the SQLite ledger, in PostgreSQL schema `dotctl`.
 * Every write is one transaction that first takes a transaction-level advisory lock, reads
 * the head and inserts, so writers from any number of hosts queue and the chain never forks.
 * Times and JSON are stored as text (exactly what was hashed) so reading back re-hashes to the
 * same bytes; `detail::jsonb` is there for ad-hoc SQL.
 */
import { SERVER_TIME_SQL } from '../model/time.js';
import pg from 'pg';
import { sealEvent, type ChainHead } from './chain.js';
import { duplicateProposal, ledgerFailure, ledgerMissing, ledgerTooNew, unknownProposal } from './failure.js';
import { verifyPostgresChain } from './verify-pg-parallel.js';
import type { ParallelVerifyOptions } from './verify-parallel.js';
import type { AdmissionRecord, ChainVerdict, DecisionRecord, LedgerStore, LogFilter, LogRow, NewLogEvent, ProposalRecord, ProposalState, StateProblem } from './port.js';
import type { ProposalCounts, ProposalQuery, ProposalSummary } from './port.js';
import { judgeProposalState, refuseReservedKeys, stateEvent, stateForged, type StateJudgement } from './states.js';
import { evidenceOf, stateSql, suspectProblem, type StateSuspect, type StoredStateRow } from './states-sql.js';
import { pgCountProposals, pgListSummaries } from './postgres-summaries.js';
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

/** The schema every dotctl table lives in. */
export const PG_SCHEMA = 'dotctl';

// The advisory lock every writer takes (two-int form, in the namespace of the migration lock).
const LOCK_WRITE = 2;

export { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './postgres-migrations.js';
import { LOCK_NS, PG_SCHEMA_VERSION, currentVersion, migrate } from './postgres-migrations.js';

/** How to open a PostgreSQL ledger. */
export interface PostgresLedgerOptions {
  /** Create schema `dotctl` when missing; otherwise a missing schema is an InputError. Default true. */
  readonly create?: boolean;
  /** Give up connecting after this long. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Rows per batch when streaming the log. Default 5,000. */
  readonly batchSize?: number;
  /** How `verifyEvents` splits a large log over worker threads (each on its own connection). */
  readonly verify?: ParallelVerifyOptions;
}

/**
 * Opens (creating and migrating as needed) the ledger in schema `dotctl` of the database at
 * `url`. Throws a LedgerError naming the (password-free) URL when it cannot be reached or written.
 */
export async function openPostgresLedger(url: string, options: PostgresLedgerOptions = {}): Promise<PostgresLedger> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 10_000,
    application_name: 'dotctl-ledger',
  });
  // An idle connection dropped by the server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw ledgerFailure(url, 'open', err);
  }
  try {
    const v = await currentVersion(client);
    if (v === null && options.create === false) throw ledgerMissing(url, `the database has no ${PG_SCHEMA} schema`);
    if (v !== null && v > PG_SCHEMA_VERSION) throw ledgerTooNew(url, v, PG_SCHEMA_VERSION);
    if (v === null || v < PG_SCHEMA_VERSION) await migrate(client, url, v);
    client.release();
  } catch (err) {
    client.release(true);
    await pool.end().catch(() => undefined);
    throw ledgerFailure(url, 'write', err);
  }
  return new PostgresLedger(pool, url, options.batchSize ?? 5_000, options.verify);
}

const cols = (c: readonly string[]): string => c.join(', ');
const marks = (c: readonly string[]): string => c.map((_, i) => `$${i + 1}`).join(', ');
const ST = stateSql('postgres');
const SQL = {
  head: `SELECT seq, hash, at FROM dotctl.dot_action_log ORDER BY seq DESC LIMIT 1`,
  insertLog: `INSERT INTO dotctl.dot_action_log (${cols(LOG_COLUMNS)}) VALUES (${marks(LOG_COLUMNS)})`,
  // the write lock ($1, $2) first, then the row ($3…): seq is the one bigint column, the rest text
  appendOne: `WITH write_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock($1, $2))
    INSERT INTO dotctl.dot_action_log (${cols(LOG_COLUMNS)})
    SELECT ${LOG_COLUMNS.map((c, i) => `$${i + 3}::${c === 'seq' ? 'bigint' : 'text'}`).join(', ')} FROM write_lock`,
  batch: `SELECT ${cols(LOG_COLUMNS)} FROM dotctl.dot_action_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
  insertProposal: `INSERT INTO dotctl.dot_proposals (${cols(PROPOSAL_COLUMNS)}) VALUES (${marks(PROPOSAL_COLUMNS)})`,
  proposal: `SELECT ${cols(PROPOSAL_COLUMNS)} FROM dotctl.dot_proposals WHERE id = $1`,
  proposals: ST.proposals,
  proposalsIn: ST.proposalsIn,
  insertDecision: `INSERT INTO dotctl.dot_decisions (${cols(DECISION_COLUMNS)}) VALUES (${marks(DECISION_COLUMNS)})`,
  decisions: `SELECT ${cols(DECISION_COLUMNS)} FROM dotctl.dot_decisions WHERE proposal_id = $1 ORDER BY id`,
  insertAdmission: `INSERT INTO dotctl.dot_admissions (${cols(ADMISSION_COLUMNS)}) VALUES (${marks(ADMISSION_COLUMNS)})`,
  admissions: `SELECT ${cols(ADMISSION_COLUMNS)} FROM dotctl.dot_admissions ORDER BY id`,
  admissionsOf: `SELECT ${cols(ADMISSION_COLUMNS)} FROM dotctl.dot_admissions WHERE dot_id = $1 ORDER BY id`,
} as const;

/** Judges one stored proposal's state against its chained events, on `c` (inside a transaction). */
async function judge(c: pg.PoolClient, r: StoredProposal): Promise<StateJudgement> {
  const index = (await c.query<StoredStateRow>(ST.indexOf, [r.id])).rows;
  const rows = (await c.query<StoredLogRow>(ST.chainedOf, [r.id])).rows.map(toLogRow);
  const first = (await c.query<{ seq: string | null }>(ST.firstSeqOf, [r.id])).rows[0]?.seq ?? null;
  return judgeProposalState(r.id, evidenceOf(r.state, index, rows, first));
}

/** The chain head of a `SQL.head` row, or null for an empty log. */
function headOf(r: { seq: string; hash: string; at: string } | undefined): ChainHead | null {
  return r === undefined ? null : { seq: Number(r.seq), hash: r.hash, at: r.at };
}

/** Whether `err` is PostgreSQL refusing a log row whose seq another writer took (primary key). */
function seqTaken(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === 'dot_action_log_pkey';
}

/** A LedgerStore over schema `dotctl` of one PostgreSQL database; holds a small pool until `close()`. */
export class PostgresLedger implements LedgerStore {
  private closed = false;
  /** the head this handle last appended through `appendEvent`; undefined when it must be read */
  private head: ChainHead | null | undefined = undefined;

  constructor(
    private readonly pool: pg.Pool,
    /** The ledger URL (shown only without its password). */
    readonly url: string,
    private readonly batchSize = 5_000,
    private readonly verifyOptions: ParallelVerifyOptions = {},
  ) {}

  /**
   * Appends one event in a single statement that takes the write lock as every write does: the
   * row is sealed on the head this handle last wrote or read, and the primary key on seq refuses
   * it when another writer took that seq since; the head is then read again and the row sealed
   * anew. One round trip, one commit.
   */
  async appendEvent(event: NewLogEvent): Promise<LogRow> {
    refuseReservedKeys(event);
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      let head = this.head;
      if (head === undefined) {
        const r = await this.read(() => this.pool.query<{ seq: string; hash: string; at: string }>(SQL.head));
        head = headOf(r.rows[0]);
      }
      const sealed = sealEvent(head, event);
      try {
        // named: each pooled connection parses and plans it once
        await this.pool.query({ name: 'dotctl_append_one', text: SQL.appendOne, values: [LOCK_NS, LOCK_WRITE, ...logRowValues(sealed.row, sealed.detailJson)] });
      } catch (err) {
        this.head = undefined;
        if (seqTaken(err)) continue;
        throw ledgerFailure(this.url, 'write', err);
      }
      this.head = { seq: sealed.row.seq, hash: sealed.row.hash, at: sealed.row.at };
      return sealed.row;
    }
    // a busy ledger: queue on the write lock like every other write
    return this.write((c) => this.appendInTx(c, event));
  }

  /** Appends events, in order, in one locked transaction. */
  async appendEvents(events: readonly NewLogEvent[]): Promise<readonly LogRow[]> {
    for (const e of events) refuseReservedKeys(e);
    return this.write(async (c) => {
      const rows: LogRow[] = [];
      for (const e of events) rows.push(await this.appendInTx(c, e));
      return rows;
    });
  }

  /** Reads log rows matching `filter`, in seq order. */
  async readEvents(filter: LogFilter = {}): Promise<readonly LogRow[]> {
    const q = buildLogQuery('dotctl.dot_action_log', normalizeFilter(filter), (n) => `$${n}`);
    const r = await this.read(() => this.pool.query<StoredLogRow>(q.sql, [...q.params]));
    return r.rows.map(toLogRow);
  }

  /** Streams every log row in seq order, in batches by seq so memory stays flat. */
  async *iterateEvents(): AsyncGenerator<LogRow> {
    let after = 0;
    for (;;) {
      const { rows } = await this.read(() => this.pool.query<StoredLogRow>(SQL.batch, [after, this.batchSize]));
      for (const r of rows) yield toLogRow(r);
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < this.batchSize) return;
      after = Number(last.seq);
    }
  }

  /**
   * Re-proves the chain from raw rows, in one snapshot, over worker threads each on its own
   * connection when the log is large (verify-pg-parallel.ts); the same verdict as
   * verifyChain(iterateEvents()).
   */
  async verifyEvents(): Promise<ChainVerdict> {
    const c = await this.connect();
    let broken = false;
    try {
      return await verifyPostgresChain(c, this.url, this.batchSize, this.verifyOptions);
    } catch (err) {
      broken = true;
      throw ledgerFailure(this.url, 'read', err);
    } finally {
      c.release(broken);
    }
  }

  /** Stores a new proposal and its event in one transaction; a known id is an InputError. */
  async putProposal(proposal: ProposalRecord, event: NewLogEvent): Promise<LogRow> {
    checkProposalState(proposal.state);
    return this.write(async (c) => {
      if ((await c.query(SQL.proposal, [proposal.id])).rowCount !== 0) throw duplicateProposal(this.url, proposal.id);
      await c.query(SQL.insertProposal, [...proposalValues(proposal)]);
      const row = await this.appendInTx(c, stateEvent(event, proposal.id, proposal.state, null));
      await c.query(ST.insertState, [row.seq, proposal.id, proposal.state, null]);
      return row;
    });
  }

  /** Reads one proposal with its state derived from the chain, or null; a forged state is a LedgerError. */
  async getProposal(id: string): Promise<ProposalRecord | null> {
    return this.snapshot(async (c) => {
      const row = (await c.query<StoredProposal>(SQL.proposal, [id])).rows[0];
      if (row === undefined) return null;
      const j = await judge(c, row);
      if (j.problem) throw stateForged(j.problem);
      return toProposal({ ...row, state: j.state });
    });
  }

  /** The first stored proposal state that its chained events contradict, or null (states.ts). */
  async checkProposalStates(): Promise<StateProblem | null> {
    return this.snapshot(async (c) => {
      for (const check of ST.checks) {
        const s = (await c.query<StateSuspect>(check)).rows[0];
        if (s === undefined) continue;
        const stored = (await c.query<StoredProposal>(SQL.proposal, [s.id])).rows[0];
        return suspectProblem(s, stored === undefined ? null : await judge(c, stored));
      }
      return null;
    });
  }

  /** Lists proposals (optionally in one state), oldest first. */
  async listProposals(state?: ProposalState): Promise<readonly ProposalRecord[]> {
    const r = await this.read(() => (state === undefined ? this.pool.query<StoredProposal>(SQL.proposals) : this.pool.query<StoredProposal>(SQL.proposalsIn, [state])));
    return r.rows.map(toProposal);
  }

  /** Lists proposal summaries, the latest `limit` through indexes, each state judged (postgres-summaries.ts). */
  async listProposalSummaries(query: ProposalQuery = {}): Promise<readonly ProposalSummary[]> {
    return this.snapshot((c) => pgListSummaries(c, query));
  }

  /** Counts proposals by derived state from the state index (postgres-summaries.ts). */
  async countProposals(): Promise<ProposalCounts> {
    return this.snapshot((c) => pgCountProposals(c));
  }

  /** Stores a decision and its event in one transaction; an unknown proposal is an InputError. */
  async addDecision(decision: DecisionRecord, event: NewLogEvent): Promise<LogRow> {
    refuseReservedKeys(event);
    return this.write(async (c) => {
      if ((await c.query(SQL.proposal, [decision.proposalId])).rowCount === 0) {
        throw unknownProposal(this.url, decision.proposalId);
      }
      await c.query(SQL.insertDecision, [...decisionValues(decision)]);
      return this.appendInTx(c, event);
    });
  }

  /** Lists a proposal's decisions in the order they were made. */
  async listDecisions(proposalId: string): Promise<readonly DecisionRecord[]> {
    const r = await this.read(() => this.pool.query<StoredDecision>(SQL.decisions, [proposalId]));
    return r.rows.map(toDecision);
  }

  /** Stores an admission and its event in one transaction. */
  async addAdmission(admission: AdmissionRecord, event: NewLogEvent): Promise<LogRow> {
    refuseReservedKeys(event);
    return this.write(async (c) => {
      await c.query(SQL.insertAdmission, [...admissionValues(admission)]);
      return this.appendInTx(c, event);
    });
  }

  /** Lists admissions (of one DOT, or all) in the order they were made. */
  async listAdmissions(dotId?: string): Promise<readonly AdmissionRecord[]> {
    const r = await this.read(() => (dotId === undefined ? this.pool.query<StoredAdmission>(SQL.admissions) : this.pool.query<StoredAdmission>(SQL.admissionsOf, [dotId])));
    return r.rows.map(toAdmission);
  }

  /** Compare-and-set of a proposal's state with its event; null when the state is not in `from`. */
  async transitionProposal(id: string, from: readonly ProposalState[], to: ProposalState, event: NewLogEvent): Promise<LogRow | null> {
    checkProposalState(to);
    return this.write(async (c) => {
      // Every writer holds the advisory write lock (write()), so nothing moves the state between
      // this read and the insert: the compare-and-set needs no row lock (and no UPDATE privilege).
      const current = (await c.query<StoredProposal>(SQL.proposal, [id])).rows[0];
      if (current === undefined) throw unknownProposal(this.url, id);
      const j = await judge(c, current);
      if (j.problem) throw stateForged(j.problem);
      if (!from.includes(j.state)) return null;
      const row = await this.appendInTx(c, stateEvent(event, id, to, j.lastSeq));
      await c.query(ST.insertState, [row.seq, id, to, j.lastSeq]);
      return row;
    });
  }

  /** Closes the pool; later calls fail. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async appendInTx(c: pg.PoolClient, event: NewLogEvent): Promise<LogRow> {
    this.head = undefined; // known again once read after this transaction ends
    const sealed = sealEvent(headOf((await c.query<{ seq: string; hash: string; at: string }>(SQL.head)).rows[0]), event);
    await c.query(SQL.insertLog, [...logRowValues(sealed.row, sealed.detailJson)]);
    return sealed.row;
  }

  /** The ledger server's clock: `clock_timestamp()` (not the process's clock). */
  async serverTime(): Promise<string> {
    const r = await this.read(() => this.pool.query<{ now: string }>(SERVER_TIME_SQL));
    return String((r.rows[0] as { now: string }).now);
  }

  /** Runs `fn` in one write transaction that first takes the writers' advisory lock. */
  private write<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN', 'write', async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NS, LOCK_WRITE]);
      return fn(c);
    });
  }

  /** Runs `fn` on one connection in a read-only repeatable-read transaction: one snapshot. */
  private snapshot<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', 'read', fn);
  }

  /** One pooled connection, one transaction begun with `begin`; a failure rolls back and is named as a `what` failure. */
  private async transaction<T>(begin: string, what: 'read' | 'write', fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.connect();
    let broken = false;
    try {
      await c.query(begin);
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw ledgerFailure(this.url, what, err);
    } finally {
      c.release(broken);
    }
  }

  /** A pooled connection; a failure to get one is named as the ledger's (exit 7). */
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw ledgerFailure(this.url, 'open', err);
    }
  }

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw ledgerFailure(this.url, 'read', err);
    }
  }
}
