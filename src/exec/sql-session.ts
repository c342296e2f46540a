/**
 * An SQL session on the target as the executor uses it: statements and checks of bound steps,
 * PostgreSQL errors turned into one sentence with the step's line and column, the connection's
 * liveness, transaction ids and their fate, and one transaction helper that knows what a lost
 * connection during COMMIT means.
 */
import type { BoundStep } from '../catalogue/steps.js';
import { checkSql, type CheckResult } from './checks.js';
import { sqlErrorText } from './sql-error.js';
import type { ValidDot } from '../catalogue/validate.js';
import { DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS, isConnectionError, targetFingerprint, withTarget, type TargetSession } from './target.js';

export { sqlErrorText, sqlPosition, type Timeouts } from './sql-error.js';
import type { Timeouts } from './sql-error.js';

/** The strictest session timeouts of a bundle's DOTs, else the defaults (propose and apply alike). */
export function strictestTimeouts(dots: readonly ValidDot[]): Timeouts {
  const pick = (k: 'lock_timeout_ms' | 'statement_timeout_ms', dflt: number): number => {
    const vals = dots.map((d) => d.spec.timeouts?.[k]).filter((v): v is number => v !== undefined);
    return vals.length > 0 ? Math.min(...vals) : dflt;
  };
  return { lockTimeoutMs: pick('lock_timeout_ms', DEFAULT_LOCK_TIMEOUT_MS), statementTimeoutMs: pick('statement_timeout_ms', DEFAULT_STATEMENT_TIMEOUT_MS) };
}

/** How a transaction ended, as PostgreSQL's `txid_status` tells (unknown: too old to know). */
export type XidStatus = 'committed' | 'aborted' | 'in progress' | 'unknown';

/** What became of a transaction run by `SqlSession.transaction`. */
export type TxOutcome =
  /** the body passed and the transaction ended as asked (COMMIT, or ROLLBACK when rehearsing) */
  | { readonly kind: 'passed'; readonly xid: string | null }
  /** the body failed, or COMMIT was refused: PostgreSQL rolled it back */
  | { readonly kind: 'failed' }
  /** the connection died before COMMIT was sent (or during it, and PostgreSQL reports it aborted) */
  | { readonly kind: 'lost'; readonly reason: string }
  /** the connection died during COMMIT and PostgreSQL could not be asked how it ended */
  | { readonly kind: 'in_doubt'; readonly xid: string; readonly reason: string };

/** What the transaction helper reports at its two boundaries, for the journal. */
export interface TxBoundary {
  readonly outcome: 'passed' | 'failed';
  readonly observed: string;
  readonly expected: string;
  readonly xid: string;
}

/** The executor's session on the target. */
export class SqlSession {
  private lost: string | null = null;
  private lastError: string | null = null;

  constructor(
    readonly target: TargetSession,
    readonly timeouts: Timeouts,
  ) {}

  /** Runs a statement; a failure becomes a failed result naming where in the SQL it broke. */
  async statement(sql: string): Promise<CheckResult> {
    try {
      const r = await this.target.client.query(sql);
      return { outcome: 'passed', observed: `ok${typeof r.rowCount === 'number' ? ` (${r.rowCount} row(s))` : ''}`, expected: 'the statement to succeed' };
    } catch (err) {
      this.lastError = (err as Error).message ?? String(err);
      return { outcome: 'failed', observed: sqlErrorText(err, sql, this.timeouts), expected: 'the statement to succeed' };
    }
  }

  /** Runs a check query (its literals as bind values) and judges its rows. */
  async check(step: Extract<BoundStep, { kind: 'sql' }>, text: string, values: readonly string[]): Promise<CheckResult> {
    const r = await checkSql(this.target.client, step, text, values);
    if (r.outcome !== 'passed' && r.observed.startsWith('SQL error')) this.lastError = r.observed;
    return r;
  }

  /**
   * Null while the connection works; else why it is gone. A server error (even "current
   * transaction is aborted") proves the connection is alive.
   */
  async lostReason(): Promise<string | null> {
    if (this.lost) return this.lost;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.target.client.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the target did not answer within 5 s')), 5_000);
        }),
      ]);
      return null;
    } catch (err) {
      if (!isConnectionError(err)) return null;
      const cause = this.target.connectionError()?.message ?? this.lastError ?? (err as Error).message;
      this.lost = `the connection to the target ${targetFingerprint(this.target.address)} was lost (${cause})`;
      return this.lost;
    } finally {
      clearTimeout(timer);
    }
  }

  /** How transaction `xid` ended, asked on this session. */
  async xidStatus(xid: string): Promise<XidStatus> {
    return xidStatusOn(this.target.client, xid);
  }

  /**
   * The one transaction helper. Opens a transaction, reports its id through `began` before the
   * body runs (so a process that dies leaves the id in the log), runs `body` (false: a step
   * failed), then ends it with `end`. `ended` receives the closing boundary. A connection lost
   * during COMMIT is resolved by asking PostgreSQL on a new connection whether it committed.
   */
  async transaction(
    opts: { readonly end: 'COMMIT' | 'ROLLBACK'; readonly readOnly?: boolean },
    began: (xid: string) => Promise<void>,
    body: () => Promise<boolean>,
    ended: (b: TxBoundary) => Promise<void>,
  ): Promise<TxOutcome> {
    const c = this.target.client;
    let xid: string;
    try {
      await c.query(opts.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      xid = String((await c.query('SELECT txid_current()::text AS xid')).rows[0]?.xid);
    } catch (err) {
      this.lastError = (err as Error).message;
      await c.query('ROLLBACK').catch(() => undefined);
      return { kind: 'lost', reason: (await this.lostReason()) ?? `the transaction could not be opened (${(err as Error).message})` };
    }
    await began(xid);
    if (!(await body())) {
      const lost = await this.lostReason();
      if (lost) return { kind: 'lost', reason: lost };
      await c.query('ROLLBACK').catch(() => undefined);
      return { kind: 'failed' };
    }
    const end = opts.end;
    try {
      await c.query(end);
    } catch (err) {
      this.lastError = (err as Error).message;
      const lost = await this.lostReason();
      if (!lost) {
        // COMMIT refused (a deferred constraint, a serialization failure): PostgreSQL rolled it back
        await ended({ outcome: 'failed', observed: sqlErrorText(err, end, this.timeouts), expected: `transaction ${xid} to commit`, xid });
        return { kind: 'failed' };
      }
      if (end === 'ROLLBACK') return { kind: 'lost', reason: lost };
      const status = await this.statusAfterLoss(xid);
      if (status === 'aborted') {
        await ended({ outcome: 'failed', observed: `${lost} during COMMIT; PostgreSQL reports transaction ${xid} aborted`, expected: `transaction ${xid} to commit`, xid });
        return { kind: 'lost', reason: lost };
      }
      if (status === 'committed') {
        await ended({ outcome: 'passed', observed: `transaction ${xid} committed (confirmed on a new connection after ${lost})`, expected: '', xid });
        return { kind: 'passed', xid };
      }
      await ended({ outcome: 'failed', observed: `${lost} during COMMIT; whether transaction ${xid} committed is not known yet (${status})`, expected: `transaction ${xid} to commit`, xid });
      return { kind: 'in_doubt', xid, reason: lost };
    }
    const observed = end === 'COMMIT' ? `transaction ${xid} committed` : `transaction ${xid} rolled back (rehearsal: nothing is kept)`;
    await ended({ outcome: 'passed', observed, expected: '', xid });
    return { kind: 'passed', xid };
  }

  /** Asks a new connection how `xid` ended, giving a dying backend a few seconds to finish aborting it. */
  private async statusAfterLoss(xid: string): Promise<XidStatus> {
    return withTarget(this.target.address, {}, async (s) => {
      for (let i = 0; ; i += 1) {
        const st = await xidStatusOn(s.client, xid);
        if (st !== 'in progress' || i >= 50) return st;
        await new Promise((r) => setTimeout(r, 100));
      }
    }).catch(() => 'unknown' as const);
  }
}

async function xidStatusOn(client: TargetSession['client'], xid: string): Promise<XidStatus> {
  const r = await client.query('SELECT txid_status($1::bigint) AS status', [xid]);
  const s = r.rows[0]?.status;
  return s === 'committed' || s === 'aborted' || s === 'in progress' ? s : 'unknown';
}
