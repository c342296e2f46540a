/**
 * Apply, rehearse (`--dry-run`) and roll back: the executor's composition. After the gate has
 * passed, every step is logged and the result is a per-step report, not an exception midway.
 *
 * Order: gate → target lock → compare-and-set to `applying` → hard stops → pre-checks →
 * non-transactional diff steps (archive, patch, command, SQL marked non-transactional) in
 * declared order → one transaction with every transactional SQL diff step and every SQL
 * post-verify → COMMIT (ROLLBACK when rehearsing) → the other post-verify checks → `applied`.
 * A failure before COMMIT rolls the transaction back and undoes the non-transactional steps; a
 * failure after it runs the DOTs' rollback sections.
 *
 * The transaction's id is logged before any SQL change runs, so whoever finds the proposal
 * `applying` or `interrupted` later (a killed process, a connection lost during COMMIT) asks
 * PostgreSQL (`txid_status`) whether it committed: if it did, the apply is finished with its
 * post-verify; if not, the file changes the log records are reverted and the apply re-runs.
 */
import { hostname } from 'node:os';
import { GateError, LedgerError } from '../model/errors.js';
import { loadCatalogue } from '../catalogue/load.js';
import type { ValidDot } from '../catalogue/validate.js';
import type { Section, Step } from '../catalogue/schema.js';
import { actingIdentity, loadIdentities, loadSigningKey } from '../gate/keys.js';
import { decideGate, type Unmet } from '../gate/decide.js';
import type { Identity } from '../gate/identities.js';
import { withLedger } from '../ledger/open.js';
import type { LedgerStore, LogRow, NewLogEvent, ProposalRecord, ProposalState } from '../ledger/port.js';
import { bindTemplate } from '../catalogue/steps.js';
import { bindForExecution, bindQuery, resolveSecrets, type SecretValues } from '../catalogue/bind.js';
import { checkSql, type CheckResult } from '../exec/checks.js';
import { liveEffects, rehearsalEffects, type Effects, type EffectResult } from '../exec/effects.js';
import { discardArchive } from '../exec/archive.js';
import { removeStaleTemps, revertPatch } from '../exec/patch.js';
import { collectEvidence } from '../exec/run-checks.js';
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  isConnectionError,
  libpqEnv,
  resolveTarget,
  targetFingerprint,
  withAdvisoryLock,
  withTarget,
  type TargetAddress,
  type TargetSession,
} from '../exec/target.js';
import { companionStatus, eventFor, gateProposal, getProposalOrFail, resolveStored, type LoadedProposal } from './governance.js';
import { nowIso, type EngineOptions } from './options.js';

/** How long an apply waits for another apply on the same target (env DOTCTL_LOCK_WAIT_MS). */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** One step as the report shows it. */
export interface StepReport {
  readonly dotId: string;
  /** `transaction`: the BEGIN / COMMIT of the SQL transaction (its id is what makes an interrupted apply resumable) */
  readonly section: Section | 'undo' | 'transaction';
  readonly index: number;
  readonly name: string;
  readonly kind: string;
  readonly outcome: 'passed' | 'failed' | 'error' | 'skipped' | 'already_applied';
  readonly observed: string;
  readonly expected: string;
  readonly ms: number;
}

/** The result of an apply, a rehearsal or a rollback. */
export interface ApplyReport {
  readonly id: string;
  readonly mode: 'apply' | 'rehearsal' | 'rollback';
  readonly outcome: 'applied' | 'rehearsed' | 'check_failed' | 'rolled_back' | 'rollback_failed' | 'rehearsal_failed';
  readonly exitCode: 0 | 4 | 5 | 6;
  readonly message: string;
  readonly steps: readonly StepReport[];
  /** what a human still has to do (exit 6) */
  readonly leftToDo: readonly string[];
}

/** Line and column of a 1-based character position in SQL (PostgreSQL error `position`). */
export function sqlPosition(sql: string, position: number): { line: number; col: number } {
  const before = sql.slice(0, Math.max(0, position - 1)).split('\n');
  return { line: before.length, col: (before.at(-1)?.length ?? 0) + 1 };
}

/** Session timeouts in force (the strictest of the bundle's DOTs, else the defaults). */
interface Timeouts {
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
}

function sqlErrorText(err: unknown, sql: string, t?: Timeouts): string {
  const e = err as { message?: string; code?: string; position?: string };
  const pos = e.position ? sqlPosition(sql, Number(e.position)) : null;
  let hint = '';
  if (t && e.code === '55P03') hint = ` (lock_timeout is ${t.lockTimeoutMs} ms: another session holds a lock this step needs; find it in pg_stat_activity, or raise the DOT's timeouts.lock_timeout_ms)`;
  if (t && e.code === '57014' && /statement timeout/.test(e.message ?? '')) hint = ` (statement_timeout is ${t.statementTimeoutMs} ms; raise the DOT's timeouts.statement_timeout_ms if the step needs longer)`;
  return `SQL error${e.code ? ` ${e.code}` : ''}${pos ? ` at line ${pos.line} column ${pos.col}` : ''}: ${e.message ?? String(err)}${hint}`;
}

/** Runs an effect; an exception (a file that cannot be written…) becomes an error result. */
async function safely(expected: string, fn: () => Promise<EffectResult>): Promise<EffectResult> {
  try {
    return await fn();
  } catch (err) {
    return { outcome: 'error', observed: (err as Error).message ?? String(err), expected };
  }
}

const failed = (r: { outcome: string }): boolean => r.outcome === 'failed' || r.outcome === 'error';


/** What happened to the SQL transaction. */
type TxOutcome =
  | { readonly kind: 'passed'; readonly xid: string | null }
  | { readonly kind: 'failed' }
  /** the connection died before COMMIT was sent: PostgreSQL aborted the transaction */
  | { readonly kind: 'lost'; readonly reason: string }
  /** the connection died during COMMIT and PostgreSQL could not be asked how it ended */
  | { readonly kind: 'in_doubt'; readonly xid: string; readonly reason: string };

/** A non-transactional step's undo, ready in case a later step fails. */
interface Undo {
  readonly dot: ValidDot;
  readonly index: number;
  readonly name: string;
  readonly run: () => Promise<CheckResult>;
}

/** A file change an earlier, interrupted attempt recorded in the log. */
type RecordedChange =
  | { readonly kind: 'patch'; readonly dotId: string; readonly index: number; readonly name: string; readonly file: string; readonly before: string; readonly after: string }
  | { readonly kind: 'archive'; readonly dotId: string; readonly index: number; readonly name: string; readonly path: string; readonly sha256: string };

/** What the log says about the last attempt on a proposal. */
interface Attempt {
  readonly action: 'apply' | 'rollback';
  readonly start: LogRow;
  /** the SQL transaction it opened, if it got that far */
  readonly xid: string | null;
  /** file changes of every apply attempt of the proposal, in log order */
  readonly changes: readonly RecordedChange[];
}

/**
 * Test-only kill-point hook (test/reliability/kill-points.test.ts). When the environment variable
 * `DOTCTL_PAUSE_AT` equals the key `<DOT id>/<section>/<index>` (section as in StepReport) of the
 * step just recorded — the boundary right after that step ran and was logged — the process
 * writes `dotctl: paused at <key>` to stderr and waits (10 min) so a test can SIGKILL it there.
 * Unset (always, outside the tests), it does nothing.
 */
async function pauseAt(key: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.DOTCTL_PAUSE_AT || env.DOTCTL_PAUSE_AT !== key) return;
  process.stderr.write(`dotctl: paused at ${key}\n`);
  await new Promise((r) => setTimeout(r, 600_000));
}

/** Runs one apply, rehearsal or rollback with its context. */
class Run {
  readonly steps: StepReport[] = [];
  /** set once the target connection is known to be gone */
  lost: string | null = null;
  private lastSqlError: string | null = null;
  constructor(
    readonly o: EngineOptions,
    readonly ledger: LedgerStore,
    readonly me: Identity,
    readonly p: LoadedProposal,
    readonly session: TargetSession,
    readonly effects: Effects,
    readonly secrets: SecretValues,
    readonly mode: ApplyReport['mode'],
    readonly timeouts: Timeouts,
  ) {}

  get live(): boolean {
    return this.effects.kind === 'live';
  }

  event(kind: NewLogEvent['event'], outcome: string | null, detail: Record<string, unknown>, dot?: ValidDot): NewLogEvent {
    return eventFor(this.o, this.me.name, this.p.record, this.p.dots, kind, outcome, detail, dot);
  }

  /** Records a step; live runs write it to the action log (which fails closed). */
  async note(dot: ValidDot, section: StepReport['section'], index: number, name: string, kind: string, r: EffectResult, started: number): Promise<void> {
    const outcome: StepReport['outcome'] = r.skipped ? 'skipped' : r.alreadyApplied ? 'already_applied' : r.outcome;
    const rep: StepReport = { dotId: dot.spec.id, section, index, name, kind, outcome, observed: r.observed, expected: r.expected, ms: Date.now() - started };
    this.steps.push(rep);
    if (this.live) {
      await this.ledger.appendEvent(
        this.event(failed(rep) ? 'step_failed' : 'step_passed', outcome, { section, index, step: name, kind, observed: r.observed, expected: r.expected, ms: rep.ms, ...(r.detail ?? {}) }, dot),
      );
    }
    await pauseAt(`${dot.spec.id}/${section}/${index}`, this.o.env ?? process.env);
  }

  bound(step: Step) {
    return bindForExecution(step, this.p.params, this.secrets);
  }

  /** Runs a statement; a failure becomes a failed result naming where in the SQL it broke. */
  async statement(sql: string): Promise<CheckResult> {
    try {
      const r = await this.session.client.query(sql);
      return { outcome: 'passed', observed: `ok${typeof r.rowCount === 'number' ? ` (${r.rowCount} row(s))` : ''}`, expected: 'the statement to succeed' };
    } catch (err) {
      this.lastSqlError = (err as Error).message ?? String(err);
      return { outcome: 'failed', observed: sqlErrorText(err, sql, this.timeouts), expected: 'the statement to succeed' };
    }
  }

  /** Runs a check query of `step` with its literals as bind parameters. */
  async check(step: Step): Promise<CheckResult> {
    const b = this.bound(step);
    if (b.kind !== 'sql' || step.kind !== 'sql') return { outcome: 'error', observed: `a ${b.kind} step is not an SQL check`, expected: '' };
    const q = bindQuery(step.sql, this.p.params, this.secrets);
    const r = await checkSql(this.session.client, b, q.text, q.values);
    if (failed(r) && r.observed.startsWith('SQL error')) this.lastSqlError = r.observed;
    return r;
  }

  /**
   * Null while the target connection works; else why it is gone. A server error (even
   * "current transaction is aborted") proves the connection is alive.
   */
  async lostReason(): Promise<string | null> {
    if (this.lost) return this.lost;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.session.client.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the target did not answer within 5 s')), 5_000);
        }),
      ]);
      return null;
    } catch (err) {
      if (!isConnectionError(err)) return null;
      const cause = this.session.connectionError()?.message ?? this.lastSqlError ?? (err as Error).message;
      this.lost = `the connection to the target ${targetFingerprint(this.session.address)} was lost (${cause})`;
      return this.lost;
    } finally {
      clearTimeout(timer);
    }
  }

  /** How transaction `xid` ended, asked on `client` (txid_status: committed, aborted, in progress; null when too old). */
  static async xidStatus(client: TargetSession['client'], xid: string): Promise<'committed' | 'aborted' | 'in progress' | 'unknown'> {
    const r = await client.query('SELECT txid_status($1::bigint) AS status', [xid]);
    const s = r.rows[0]?.status;
    return s === 'committed' || s === 'aborted' || s === 'in progress' ? s : 'unknown';
  }

  /** Hard stops and pre-checks, run again now. */
  async checks(proposedEvidence: ReadonlyMap<string, string>): Promise<string | null> {
    for (const dot of this.p.dots) {
      const started = Date.now();
      const results = await collectEvidence(this.session, [dot], this.p.params, this.secrets);
      for (const r of results) {
        await this.note(dot, r.section, r.index, r.name, dot.spec[r.section][r.index]?.kind ?? 'check', r, started);
        if (failed(r)) {
          const what = r.section === 'hard_stops' ? 'hard stop' : 'pre-check';
          const then = proposedEvidence.get(`${dot.spec.id}/${r.section}/${r.index}`);
          const drift = then === 'passed' ? ' — the target drifted since the proposal was made (it passed then)' : '';
          return `${what} "${r.name}" of ${dot.spec.id} failed: saw ${r.observed}, expected ${r.expected}${drift}; nothing was changed`;
        }
      }
    }
    return null;
  }

  /** Tables of a schema whose data an archive must hold. */
  async tablesIn(schema: string): Promise<number> {
    const r = await this.session.client.query(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Non-transactional diff steps, in declared order; collects the undo of what was done. */
  async nonTransactional(undo: Undo[], leftToDo: string[]): Promise<boolean> {
    for (const dot of this.p.dots) {
      for (const [index, step] of dot.spec.diff.entries()) {
        if (step.kind === 'sql' && step.transactional !== false) continue;
        const started = Date.now();
        const b = this.bound(step);
        let r: EffectResult;
        switch (b.kind) {
          case 'archive': {
            const progress = this.live && process.stderr.isTTY ? (bytes: number) => process.stderr.write(`\r  archiving ${b.schema}: ${(bytes / 1048576).toFixed(1)} MiB`) : undefined;
            r = await safely(`a verified archive of ${b.schema}`, async () => this.effects.archive(b, await this.tablesIn(b.schema), progress));
            if (progress) process.stderr.write('\n');
            if (r.undo) undo.push({ dot, index, name: step.name, run: r.undo });
            break;
          }
          case 'patch':
            r = await safely(`the patch applied to ${b.file}`, () => this.effects.patch(b));
            if (r.undo) undo.push({ dot, index, name: step.name, run: r.undo });
            break;
          case 'command':
            r = await safely('the command to run', () => this.effects.command(b, libpqEnv(this.session.address)));
            if (!r.skipped && r.outcome === 'passed') leftToDo.push(`${dot.spec.id}: command "${step.name}" ran and cannot be undone automatically`);
            break;
          case 'sql':
            r = this.effects.runsNonTransactionalSql
              ? await this.statement(b.sql)
              : { outcome: 'passed', skipped: true, observed: 'not rehearsed: SQL outside a transaction would change the target', expected: '' };
            if (!r.skipped && r.outcome === 'passed') leftToDo.push(`${dot.spec.id}: non-transactional SQL "${step.name}" ran; undo it with the DOT's rollback`);
            break;
          default:
            r = { outcome: 'error', observed: `a ${b.kind} step cannot be in diff`, expected: '' };
        }
        try {
          await this.note(dot, 'diff', index, step.name, step.kind, r, started);
        } catch (err) {
          // fail closed: what cannot be logged must not stay done — undo it all, then refuse
          for (const u of [...undo].reverse()) await u.run().catch(() => undefined);
          undo.length = 0;
          throw err;
        }
        if (failed(r)) return false;
      }
    }
    return true;
  }

  /**
   * The transaction: transactional SQL diff steps, then SQL post-verify; COMMIT (ROLLBACK when
   * rehearsing). Its id is logged before the first change.
   */
  async transaction(): Promise<TxOutcome> {
    const c = this.session.client;
    const diff = this.p.dots.flatMap((dot) => dot.spec.diff.map((step, index) => ({ dot, step, index })).filter((x) => x.step.kind === 'sql' && x.step.transactional !== false));
    const verify = this.p.dots.flatMap((dot) => dot.spec.post_verify.map((step, index) => ({ dot, step, index })).filter((x) => x.step.kind === 'sql'));
    const anchor = (diff[0] ?? verify[0])?.dot;
    if (!anchor) return { kind: 'passed', xid: null };
    let started = Date.now();
    let xid: string;
    try {
      await c.query('BEGIN');
      xid = String((await c.query('SELECT txid_current()::text AS xid')).rows[0]?.xid);
    } catch (err) {
      this.lastSqlError = (err as Error).message;
      await c.query('ROLLBACK').catch(() => undefined);
      return { kind: 'lost', reason: (await this.lostReason()) ?? `the transaction could not be opened (${(err as Error).message})` };
    }
    // logged before any change: if this process dies, the next apply asks PostgreSQL about it
    await this.note(anchor, 'transaction', 0, 'BEGIN', 'transaction', { outcome: 'passed', observed: `transaction ${xid} opened`, expected: '', detail: { xid } }, started);
    let ok = true;
    for (const { dot, step, index } of diff) {
      const s = Date.now();
      const b = this.bound(step);
      const r = await this.statement(b.kind === 'sql' ? b.sql : '');
      await this.note(dot, 'diff', index, step.name, 'sql', r, s);
      if (failed(r)) {
        ok = false;
        break;
      }
    }
    if (ok) {
      for (const { dot, step, index } of verify) {
        const s = Date.now();
        const r = await this.check(step);
        await this.note(dot, 'post_verify', index, step.name, 'sql', r, s);
        if (failed(r)) {
          ok = false;
          break;
        }
      }
    }
    if (!ok) {
      const lost = await this.lostReason();
      if (lost) return { kind: 'lost', reason: lost };
      await c.query('ROLLBACK').catch(() => undefined);
      return { kind: 'failed' };
    }
    started = Date.now();
    const end = this.effects.sqlEnd;
    try {
      await c.query(end);
    } catch (err) {
      this.lastSqlError = (err as Error).message;
      const lost = await this.lostReason();
      if (!lost) {
        // COMMIT refused (a deferred constraint, a serialization failure): PostgreSQL rolled it back
        await this.note(anchor, 'transaction', 1, end, 'transaction', { outcome: 'failed', observed: sqlErrorText(err, end, this.timeouts), expected: `transaction ${xid} to commit` }, started);
        return { kind: 'failed' };
      }
      if (end === 'ROLLBACK') return { kind: 'lost', reason: lost };
      // the COMMIT may or may not have happened: ask PostgreSQL on a new connection
      const status = await withTarget(this.session.address, {}, async (s) => {
        // the dying backend may still be aborting it: give it a few seconds to finish
        for (let i = 0; ; i += 1) {
          const st = await Run.xidStatus(s.client, xid);
          if (st !== 'in progress' || i >= 50) return st;
          await new Promise((r) => setTimeout(r, 100));
        }
      }).catch(() => 'unknown' as const);
      if (status === 'aborted') {
        await this.note(anchor, 'transaction', 1, 'COMMIT', 'transaction', { outcome: 'failed', observed: `${lost} during COMMIT; PostgreSQL reports transaction ${xid} aborted`, expected: `transaction ${xid} to commit` }, started);
        return { kind: 'lost', reason: lost };
      }
      if (status === 'committed') {
        await this.note(anchor, 'transaction', 1, 'COMMIT', 'transaction', { outcome: 'passed', observed: `transaction ${xid} committed (confirmed on a new connection after ${lost})`, expected: '', detail: { xid } }, started);
        return { kind: 'passed', xid };
      }
      await this.note(anchor, 'transaction', 1, 'COMMIT', 'transaction', { outcome: 'failed', observed: `${lost} during COMMIT; whether transaction ${xid} committed is not known yet (${status})`, expected: `transaction ${xid} to commit` }, started);
      return { kind: 'in_doubt', xid, reason: lost };
    }
    await this.note(
      anchor,
      'transaction',
      1,
      end,
      'transaction',
      { outcome: 'passed', observed: end === 'COMMIT' ? `transaction ${xid} committed` : `transaction ${xid} rolled back (rehearsal: nothing is kept)`, expected: '', detail: { xid } },
      started,
    );
    return { kind: 'passed', xid };
  }

  /** SQL post-verify in a read-only transaction (an apply resumed after its COMMIT). */
  async postVerifySql(): Promise<boolean> {
    const c = this.session.client;
    try {
      await c.query('BEGIN READ ONLY');
    } catch {
      return false;
    }
    let ok = true;
    outer: for (const dot of this.p.dots) {
      for (const [index, step] of dot.spec.post_verify.entries()) {
        if (step.kind !== 'sql') continue;
        const started = Date.now();
        const r = await this.check(step);
        await this.note(dot, 'post_verify', index, step.name, 'sql', r, started);
        if (failed(r)) {
          ok = false;
          break outer;
        }
      }
    }
    await c.query('ROLLBACK').catch(() => undefined);
    return ok;
  }

  /** Post-verify steps that are not SQL (commands, files), after COMMIT. */
  async postVerifyOutside(): Promise<boolean> {
    for (const dot of this.p.dots) {
      for (const [index, step] of dot.spec.post_verify.entries()) {
        if (step.kind === 'sql') continue;
        const started = Date.now();
        const b = this.bound(step);
        const r: EffectResult = await safely('the check to run', async () =>
          b.kind === 'command' ? this.effects.command(b, libpqEnv(this.session.address)) : b.kind === 'file' ? this.effects.file(b) : { outcome: 'error', observed: `a ${b.kind} step cannot be a post-verify`, expected: '' },
        );
        await this.note(dot, 'post_verify', index, step.name, step.kind, r, started);
        if (failed(r)) return false;
      }
    }
    return true;
  }

  /** Runs the rollback sections, DOTs in reverse order; returns what could not be done. */
  async rollbackSections(): Promise<string[]> {
    const left: string[] = [];
    const c = this.session.client;
    for (const dot of [...this.p.dots].reverse()) {
      const sqlSteps = dot.spec.rollback.map((s, i) => [s, i] as const).filter(([s]) => s.kind === 'sql' && s.transactional !== false);
      // non-transactional rollback steps first (a restore before the SQL that checks it)
      for (const [index, step] of dot.spec.rollback.entries()) {
        if (step.kind === 'sql' && step.transactional !== false) continue;
        const started = Date.now();
        const b = this.bound(step);
        const r: EffectResult = await safely('the rollback step to run', async () => {
          if (b.kind === 'patch') return this.effects.patch(b);
          if (b.kind === 'restore') return this.effects.restore(b);
          if (b.kind === 'command') return this.effects.command(b, libpqEnv(this.session.address));
          if (b.kind === 'sql') return this.statement(b.sql);
          return { outcome: 'error', observed: `a ${b.kind} step cannot be in rollback`, expected: '' };
        });
        await this.note(dot, 'rollback', index, step.name, step.kind, r, started);
        if (failed(r)) left.push(`${dot.spec.id}: rollback step "${step.name}" failed (${r.observed})`);
      }
      if (sqlSteps.length === 0) continue;
      try {
        await c.query('BEGIN');
      } catch (err) {
        this.lastSqlError = (err as Error).message;
        const why = (await this.lostReason()) ?? (err as Error).message;
        left.push(`${dot.spec.id}: its rollback SQL (${sqlSteps.map(([s]) => `"${s.name}"`).join(', ')}) did not run: ${why}`);
        continue;
      }
      let ok = true;
      for (const [step, index] of sqlSteps) {
        const started = Date.now();
        const b = this.bound(step);
        // a rollback step with expect is a check of the restored state
        const r = b.kind === 'sql' && b.expect ? await this.check(step) : await this.statement(b.kind === 'sql' ? b.sql : '');
        await this.note(dot, 'rollback', index, step.name, 'sql', r, started);
        if (failed(r)) {
          ok = false;
          left.push(`${dot.spec.id}: rollback SQL "${step.name}" failed (${r.observed}); nothing of ${dot.spec.id}'s rollback SQL was committed`);
          break;
        }
      }
      try {
        await c.query(ok ? 'COMMIT' : 'ROLLBACK');
      } catch (err) {
        if (ok) left.push(`${dot.spec.id}: the COMMIT of its rollback SQL failed (${sqlErrorText(err, 'COMMIT')}); check whether it took effect`);
      }
    }
    return left;
  }

  /** Undoes non-transactional steps done before a failure, newest first. */
  async undo(undo: readonly Undo[]): Promise<string[]> {
    const left: string[] = [];
    for (const u of [...undo].reverse()) {
      const started = Date.now();
      const r = await safely('the step undone', u.run);
      await this.note(u.dot, 'undo', u.index, `undo: ${u.name}`, 'undo', r, started);
      if (failed(r)) left.push(`${u.dot.spec.id}: could not undo "${u.name}" (${r.observed})`);
    }
    return left;
  }

  /**
   * Reverts the file changes an interrupted attempt recorded (its transaction did not commit):
   * patched files back to their recorded content, unused archives removed. Newest first.
   */
  async revertRecorded(changes: readonly RecordedChange[]): Promise<string[]> {
    const left: string[] = [];
    for (const ch of [...changes].reverse()) {
      const dot = this.p.dots.find((d) => d.spec.id === ch.dotId);
      if (!dot) continue;
      const started = Date.now();
      let r: CheckResult;
      if (ch.kind === 'patch') {
        const step = dot.spec.diff[ch.index];
        const b = step ? this.bound(step) : null;
        if (!b || b.kind !== 'patch') r = { outcome: 'error', observed: `${dot.spec.id} has no patch step ${ch.index} any more`, expected: '' };
        else {
          const out = await revertPatch(ch.file, b.diff, b.reverse, ch.before, ch.after).catch((err: Error) => ({ kind: 'failed' as const, message: err.message }));
          const temps = await removeStaleTemps(ch.file);
          const extra = temps > 0 ? `; removed ${temps} temp file(s) left by the killed write` : '';
          r =
            out.kind === 'failed'
              ? { outcome: 'failed', observed: out.message, expected: `${ch.file} back to sha256 ${ch.before.slice(0, 12)}…` }
              : { outcome: 'passed', observed: `${out.kind === 'reverted' ? 'reverted' : 'already back to'} ${ch.file} (sha256 ${ch.before.slice(0, 12)}…)${extra}`, expected: '' };
        }
      } else {
        const out = await discardArchive(ch.path, ch.sha256).catch((err: Error) => ({ kind: 'failed' as const, message: err.message }));
        r =
          out.kind === 'failed'
            ? { outcome: 'failed', observed: out.message, expected: `the unused archive ${ch.path} removed` }
            : { outcome: 'passed', observed: out.kind === 'discarded' ? `removed the unused archive ${ch.path} (the change it guarded did not commit)` : `${ch.path} is already gone`, expected: '' };
      }
      await this.note(dot, 'undo', ch.index, `undo (interrupted apply): ${ch.name}`, 'undo', r, started);
      if (failed(r)) left.push(`${dot.spec.id}: could not undo "${ch.name}" of the interrupted apply (${r.observed})`);
    }
    return left;
  }

  report(outcome: ApplyReport['outcome'], exitCode: ApplyReport['exitCode'], message: string, leftToDo: readonly string[] = []): ApplyReport {
    return { id: this.p.record.id, mode: this.mode, outcome, exitCode, message, steps: this.steps, leftToDo };
  }
}

/** Evidence recorded when the proposal was made: `dot/section/index` → outcome. */
async function proposedEvidence(ledger: LedgerStore, id: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const [ev] = await ledger.readEvents({ proposalId: id, event: 'proposed', limit: 1 });
  const list = (ev?.detail as { evidence?: { dot: string; section?: string; index?: number; outcome: string }[] } | undefined)?.evidence ?? [];
  for (const e of list) if (e.section !== undefined && e.index !== undefined) out.set(`${e.dot}/${e.section}/${e.index}`, e.outcome);
  return out;
}

/** The last attempt on a proposal, as the log tells it (null when it was never started). */
async function lastAttempt(ledger: LedgerStore, id: string): Promise<Attempt | null> {
  const events = await ledger.readEvents({ proposalId: id });
  const start = events.filter((e) => e.event === 'apply_started').at(-1);
  if (!start) return null;
  const d = (e: LogRow): Record<string, unknown> => e.detail as Record<string, unknown>;
  const xid = events.filter((e) => e.seq > start.seq && e.event === 'step_passed' && d(e).section === 'transaction' && typeof d(e).xid === 'string').map((e) => d(e).xid as string).at(-1) ?? null;
  const changes: RecordedChange[] = [];
  for (const e of events) {
    const x = d(e);
    if (e.event !== 'step_passed' || x.section !== 'diff' || typeof x.index !== 'number' || !e.dotId) continue;
    const name = String(x.step ?? '');
    if (typeof x.file === 'string' && typeof x.sha256_before === 'string' && typeof x.sha256_after === 'string') {
      changes.push({ kind: 'patch', dotId: e.dotId, index: x.index, name, file: x.file, before: x.sha256_before, after: x.sha256_after });
    } else if (typeof x.archive === 'string' && typeof x.sha256 === 'string') {
      changes.push({ kind: 'archive', dotId: e.dotId, index: x.index, name, path: x.archive, sha256: x.sha256 });
    }
  }
  return { action: d(start).action === 'rollback' ? 'rollback' : 'apply', start, xid, changes };
}

/** The pid of the attempt's process when it still runs on this host (else null: dead, or unknowable). */
function stillRunning(a: Attempt | null): number | null {
  const x = a?.start.detail as { pid?: unknown; host?: unknown } | undefined;
  const pid = Number(x?.pid);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || x?.host !== hostname()) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

function strictestTimeouts(dots: readonly ValidDot[]): Timeouts {
  const pick = (k: 'lock_timeout_ms' | 'statement_timeout_ms', dflt: number): number => {
    const vals = dots.map((d) => d.spec.timeouts?.[k]).filter((v): v is number => v !== undefined);
    return vals.length > 0 ? Math.min(...vals) : dflt;
  };
  return { lockTimeoutMs: pick('lock_timeout_ms', DEFAULT_LOCK_TIMEOUT_MS), statementTimeoutMs: pick('statement_timeout_ms', DEFAULT_STATEMENT_TIMEOUT_MS) };
}

function lockWaitMs(env: NodeJS.ProcessEnv): number {
  const v = Number(env.DOTCTL_LOCK_WAIT_MS ?? DEFAULT_LOCK_WAIT_MS);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_LOCK_WAIT_MS;
}

async function refuseGate(ledger: LedgerStore, o: EngineOptions, me: Identity, p: LoadedProposal, action: string, unmet: readonly Unmet[]): Promise<never> {
  await ledger.appendEvent(eventFor(o, me.name, p.record, p.dots, 'refused', 'refused', { action, unmet: unmet.map((u) => ({ kind: u.kind, message: u.message })) }));
  const more = unmet.length > 1 ? ` (and ${unmet.length - 1} more: ${unmet.slice(1).map((u) => u.message).join('; ')})` : '';
  throw new GateError(`${action} of ${p.record.id} refused: ${unmet[0]?.message ?? 'gate refused'}${more}`, { context: { proposal: p.record.id, unmet } });
}

/**
 * Under the target lock: a proposal still marked `applying` belongs to an apply or rollback
 * that died (or lost its connection, and with it the lock). Unless its process still runs on
 * this host, it becomes `interrupted`. Returns what the log says about that attempt.
 */
async function claimInterrupted(run: Run, ledger: LedgerStore, id: string, action: string): Promise<Attempt | null> {
  const fresh = await ledger.getProposal(id);
  const attempt = await lastAttempt(ledger, id);
  if (fresh?.state === 'applying') {
    const pid = stillRunning(attempt);
    if (pid !== null) {
      await refuseGate(ledger, run.o, run.me, run.p, action, [{ kind: 'state', message: `proposal ${id} is being ${attempt?.action === 'rollback' ? 'rolled back' : 'applied'} by process ${pid} on this host (started ${attempt?.start.at}); wait for it` }]);
    }
    await ledger.transitionProposal(
      id,
      ['applying'],
      'interrupted',
      run.event('interrupted', 'interrupted', { reason: `found applying with no ${attempt?.action ?? 'apply'} holding the target lock; the earlier ${attempt?.action ?? 'apply'} (pid ${String((attempt?.start.detail as { pid?: unknown } | undefined)?.pid ?? '?')}) died`, interrupted_action: attempt?.action ?? 'apply' }),
    );
  }
  return attempt;
}

/** Ends a live run that stopped on an unexpected error: the proposal needs a human, never stays `applying`. */
async function stoppedOnError(run: Run, ledger: LedgerStore, err: unknown): Promise<ApplyReport> {
  if (err instanceof LedgerError || err instanceof GateError) throw err;
  const msg = (err as Error).message ?? String(err);
  const left = [`dotctl stopped on an unexpected error (${msg}); the log shows every step it completed: check the target against the DOTs' post-verify and finish or undo by hand`];
  await ledger.transitionProposal(run.p.record.id, ['applying'], 'needs_attention', run.event('rollback_failed', 'error', { reason: msg, left_to_do: left }));
  return run.report('rollback_failed', 6, `${run.mode === 'rollback' ? 'rollback' : 'apply'} of ${run.p.record.id} stopped on an unexpected error and needs a human: ${msg}`, left);
}

/**
 * Applies a proposal (or rehearses it with `dryRun`). Gate refusals throw GateError (exit 3)
 * before anything changes; afterwards the report carries the exit code.
 */
export async function applyProposal(o: EngineOptions, id: string, opts: { dryRun?: boolean } = {}): Promise<ApplyReport> {
  const cat = await loadCatalogue(o.dots);
  const identities = await loadIdentities(o.identities);
  const key = await loadSigningKey(o.key);
  const me = actingIdentity(identities, key);
  const env = o.env ?? process.env;
  const address = resolveTarget(o.target, env);
  const fingerprint = targetFingerprint(address);
  const dry = opts.dryRun === true;
  const action = dry ? 'rehearsal' : 'apply';

  return withLedger(o.ledger, { mode: 'write' }, async (ledger) => {
    const record: ProposalRecord = await getProposalOrFail(ledger, id, o.ledger);
    const p = resolveStored(cat, record, fingerprint);
    const decisions = await ledger.listDecisions(id);
    // a proposal left `applying` may be an interrupted apply; the target lock tells (below)
    const gp = gateProposal(p);
    const gate = decideGate({
      proposal: !dry && gp.state === 'applying' ? { ...gp, state: 'interrupted' } : gp,
      decisions,
      identities,
      requirements: p.requirements,
      now: nowIso(o),
      applier: dry ? null : me,
      companions: dry ? [] : await companionStatus(ledger, p),
      events: await ledger.readEvents({ proposalId: id }),
    });
    // a rehearsal needs no approval (it is how a reviewer gets evidence), but it must be of this exact proposal
    const unmet: Unmet[] = dry ? gate.unmet.filter((u) => ['state', 'hash_changed', 'proposal_expired', 'proposer_invalid', 'ledger_tampered'].includes(u.kind)) : [...gate.unmet];
    if (p.record.targetFingerprint !== fingerprint) {
      await refuseGate(ledger, o, me, p, action, [{ kind: 'hash_changed', message: `${id} was proposed for ${p.record.targetFingerprint}, not ${fingerprint}; point --target at the proposed target or propose again` }]);
    }
    if (!dry && record.state === 'applying') {
      // the apply that set it is still running here: say so now rather than after the lock wait
      const attempt = await lastAttempt(ledger, id);
      const pid = stillRunning(attempt);
      if (pid !== null) unmet.push({ kind: 'state', message: `proposal ${id} is being ${attempt?.action === 'rollback' ? 'rolled back' : 'applied'} by process ${pid} on this host (started ${attempt?.start.at}); wait for it` });
    }
    if (unmet.length > 0) await refuseGate(ledger, o, me, p, action, unmet);
    const secrets = resolveSecrets(p.params, env);
    const timeouts = strictestTimeouts(p.dots);

    return withTarget(address, timeouts, (session) =>
      withAdvisoryLock(session.client, fingerprint, lockWaitMs(env), async () => {
        const effects = dry ? await rehearsalEffects(address) : liveEffects(address);
        const run = new Run(o, ledger, me, p, session, effects, secrets, dry ? 'rehearsal' : 'apply', timeouts);
        try {
          let resume: Attempt | null = null;
          if (!dry) {
            // we hold the target lock: a proposal still marked applying was interrupted
            const attempt = await claimInterrupted(run, ledger, id, action);
            const now = await ledger.getProposal(id);
            if (now?.state === 'interrupted') {
              if (attempt?.action === 'rollback') {
                await refuseGate(ledger, o, me, p, action, [{ kind: 'state', message: `the rollback of ${id} was interrupted; run dotctl rollback ${id} again to finish it` }]);
              }
              resume = attempt;
            }
            const started = await ledger.transitionProposal(
              id,
              ['proposed', 'interrupted'],
              'applying',
              run.event('apply_started', null, { target: fingerprint, approvers: gate.approvers, pid: process.pid, host: hostname(), ...(resume ? { resumes: resume.start.seq } : {}) }),
            );
            if (!started) {
              await refuseGate(ledger, o, me, p, action, [{ kind: 'state', message: `proposal ${id} is ${now?.state ?? 'gone'}; a proposal is applied at most once` }]);
            }
          }
          try {
            return await execute(run, ledger, await proposedEvidence(ledger, id), resume);
          } catch (err) {
            if (!run.live) throw err;
            return await stoppedOnError(run, ledger, err);
          }
        } finally {
          await effects.dispose();
        }
      }),
    );
  });
}

/** Moves the proposal out of `applying` (live) or logs the rehearsal. */
function finisher(run: Run, ledger: LedgerStore) {
  return async (to: ProposalState, kind: NewLogEvent['event'], outcome: string, detail: Record<string, unknown>): Promise<void> => {
    if (run.live) await ledger.transitionProposal(run.p.record.id, ['applying'], to, run.event(kind, outcome, detail));
    else await ledger.appendEvent(run.event('rehearsed', outcome, { ...detail, steps: run.steps.map((s) => ({ dot: s.dotId, section: s.section, step: s.name, outcome: s.outcome, observed: s.observed })) }));
  };
}

function lastFailure(run: Run): string {
  const s = run.steps.filter((x) => failed(x)).at(-1);
  if (!s) return 'a step failed';
  const what = s.section === 'post_verify' ? 'post-verify' : s.section === 'transaction' ? 'the transaction' : 'diff step';
  return s.section === 'transaction' ? `${what} of ${s.dotId} failed at ${s.name}: ${s.observed}` : `${what} "${s.name}" of ${s.dotId} failed: ${s.observed}`;
}

async function execute(run: Run, ledger: LedgerStore, evidence: ReadonlyMap<string, string>, resume: Attempt | null): Promise<ApplyReport> {
  const id = run.p.record.id;
  const finish = finisher(run, ledger);

  if (resume?.xid) {
    const status = await Run.xidStatus(run.session.client, resume.xid);
    const first = run.p.dots[0]!;
    if (status === 'committed') {
      await run.note(first, 'transaction', 0, 'resume', 'transaction', { outcome: 'passed', observed: `the interrupted apply committed transaction ${resume.xid}; finishing it with the post-verify`, expected: '', detail: { xid: resume.xid } }, Date.now());
      if (!(await run.postVerifySql())) return afterCommitFailure(run, finish, lastFailure(run));
      return afterCommit(run, finish);
    }
    if (status === 'in progress') {
      const msg = `transaction ${resume.xid} of the interrupted apply is still in progress on the target; wait for it to end and apply ${id} again`;
      await finish('interrupted', 'refused', 'in_progress', { reason: msg, xid: resume.xid });
      return run.report('check_failed', 4, msg);
    }
    if (status === 'unknown') {
      const left = [`PostgreSQL no longer knows whether transaction ${resume.xid} of the interrupted apply committed: check the target against the DOTs' post-verify by hand`];
      await finish('needs_attention', 'rollback_failed', 'rollback_failed', { reason: left[0], left_to_do: left });
      return run.report('rollback_failed', 6, `the outcome of the interrupted apply of ${id} cannot be known and needs a human`, left);
    }
    // aborted: none of its SQL is on the target
  }
  if (resume && resume.changes.length > 0) {
    const left = await run.revertRecorded(resume.changes);
    if (left.length > 0) {
      await finish('needs_attention', 'rollback_failed', 'rollback_failed', { reason: 'the interrupted apply left file changes that could not be undone', left_to_do: left });
      return run.report('rollback_failed', 6, `the interrupted apply of ${id} left changes that could not be undone and need a human`, left);
    }
  }

  let checkFailure: string | null;
  try {
    checkFailure = await run.checks(evidence);
  } catch (err) {
    const lost = await run.lostReason();
    if (!lost) throw err;
    checkFailure = `${lost} during the hard stops and pre-checks; nothing was changed; apply again once the target is reachable`;
  }
  if (checkFailure) {
    await finish('proposed', 'refused', 'check_failed', { reason: checkFailure });
    return run.report('check_failed', 4, checkFailure);
  }

  const undo: Undo[] = [];
  const irreversible: string[] = [];
  const nonTxOk = await run.nonTransactional(undo, irreversible);
  let tx: TxOutcome;
  if (nonTxOk) tx = await run.transaction();
  else {
    const lost = await run.lostReason();
    tx = lost ? { kind: 'lost', reason: lost } : { kind: 'failed' };
  }
  if (tx.kind === 'in_doubt') {
    // nothing is undone: the change may be in
    const left = [`run dotctl apply ${id} again once the target is reachable: it asks PostgreSQL whether transaction ${tx.xid} committed, then finishes the apply or re-runs it`];
    if (run.live) await finish('interrupted', 'interrupted', 'in_doubt', { reason: tx.reason, xid: tx.xid, left_to_do: left });
    return run.report('rollback_failed', 6, `${tx.reason} during COMMIT; whether ${id} committed is not known yet`, left);
  }
  if (tx.kind === 'failed' || tx.kind === 'lost') {
    const what = tx.kind === 'lost' ? `${tx.reason} before COMMIT` : lastFailure(run);
    const left = [...(await run.undo(undo)), ...irreversible];
    if (!run.live) {
      await finish('proposed', 'rehearsed', 'rehearsal_failed', { reason: what });
      return run.report('rehearsal_failed', 5, `rehearsal failed: ${what}; nothing was changed`);
    }
    if (left.length > 0) {
      await finish('needs_attention', 'rollback_failed', 'rollback_failed', { reason: what, left_to_do: left });
      return run.report('rollback_failed', 6, `${what}; the SQL transaction was rolled back but some changes could not be undone`, left);
    }
    if (tx.kind === 'lost') {
      // not a verdict on the change: it never ran to its end, so it may be applied again
      await finish('interrupted', 'rolled_back', 'connection_lost', { reason: what });
      return run.report('rolled_back', 5, `${what}: PostgreSQL rolled the transaction back${undo.length > 0 ? ' and the file changes were undone' : ''}, nothing changed; apply ${id} again once the target is reachable`);
    }
    await finish('failed', 'rolled_back', 'rolled_back', { reason: what });
    return run.report('rolled_back', 5, `${what}; rolled back, the target is as before`);
  }
  return afterCommit(run, finish);
}

/** After COMMIT: the post-verify outside the transaction, then `applied` (or the rollback sections). */
async function afterCommit(run: Run, finish: ReturnType<typeof finisher>): Promise<ApplyReport> {
  const id = run.p.record.id;
  if (!(await run.postVerifyOutside())) return afterCommitFailure(run, finish, lastFailure(run));
  const registry = run.p.dots
    .filter((d) => d.spec.registry)
    .map((d) => ({ dot: d.spec.id, ...d.spec.registry!, name: bindTemplate(d.spec.registry!.name, run.p.params) }));
  const summary = { steps: run.steps.length, dots: run.p.dots.map((d) => d.spec.id), ...(registry.length > 0 ? { registry } : {}) };
  if (!run.live) {
    await finish('proposed', 'rehearsed', 'rehearsed', summary);
    return run.report('rehearsed', 0, `rehearsal of ${id} passed; nothing was changed`);
  }
  await finish('applied', 'applied', 'ok', summary);
  return run.report('applied', 0, `${id} applied: ${run.p.dots.map((d) => d.spec.id).join(' + ')}`);
}

/** A post-verify failed after COMMIT: the DOTs' rollback sections put the target back. */
async function afterCommitFailure(run: Run, finish: ReturnType<typeof finisher>, what: string): Promise<ApplyReport> {
  if (!run.live) {
    await finish('proposed', 'rehearsed', 'rehearsal_failed', { reason: what });
    return run.report('rehearsal_failed', 5, `rehearsal failed: ${what}; nothing was changed`);
  }
  const left = await run.rollbackSections();
  if (left.length > 0) {
    await finish('needs_attention', 'rollback_failed', 'rollback_failed', { reason: what, left_to_do: left });
    return run.report('rollback_failed', 6, `${what}; the rollback failed too and needs a human`, left);
  }
  await finish('failed', 'rolled_back', 'rolled_back', { reason: what });
  return run.report('rolled_back', 5, `${what}; the DOTs' rollback ran and the target is as before`);
}

/** Rolls back an applied proposal: runs its DOTs' rollback sections (gated, locked, logged). */
export async function rollbackProposal(o: EngineOptions, id: string): Promise<ApplyReport> {
  const cat = await loadCatalogue(o.dots);
  const identities = await loadIdentities(o.identities);
  const key = await loadSigningKey(o.key);
  const me = actingIdentity(identities, key);
  const env = o.env ?? process.env;
  const address: TargetAddress = resolveTarget(o.target, env);
  const fingerprint = targetFingerprint(address);
  return withLedger(o.ledger, { mode: 'write' }, async (ledger) => {
    const record = await getProposalOrFail(ledger, id, o.ledger);
    const p = resolveStored(cat, record, fingerprint);
    // an interrupted rollback is finished by running the rollback again
    const resumable = (record.state === 'applying' || record.state === 'interrupted') && (await lastAttempt(ledger, id))?.action === 'rollback';
    const unmet: Unmet[] = [];
    if (!me.roles.includes('operator')) unmet.push({ kind: 'applier_not_operator', message: `${me.name} is not an operator and may not roll back` });
    if (record.state !== 'applied' && !resumable) unmet.push({ kind: 'state', message: `proposal ${id} is ${record.state}; only an applied proposal can be rolled back` });
    if (record.targetFingerprint !== fingerprint) unmet.push({ kind: 'hash_changed', message: `${id} was applied to ${record.targetFingerprint}, not ${fingerprint}` });
    if (p.requirements.dualControl) {
      // The restore of an irreversible change needs the same dual control as the change itself:
      // the approvals are judged as of the moment the change was applied, so a rollback is not
      // locked out once their TTL has passed.
      const starts = await ledger.readEvents({ proposalId: id, event: 'apply_started' });
      const appliedAt = [...starts].reverse().find((e) => (e.detail as { action?: unknown }).action !== 'rollback')?.at ?? nowIso(o);
      const g = decideGate({ proposal: { ...gateProposal(p), state: 'proposed', expiresAt: null, createdAt: p.record.createdAt }, decisions: await ledger.listDecisions(id), identities, requirements: p.requirements, now: appliedAt, applier: me, companions: [] });
      unmet.push(...g.unmet.filter((u) => u.kind === 'approvals_missing' || u.kind === 'applier_approved' || u.kind === 'hash_changed'));
    }
    if (unmet.length > 0) await refuseGate(ledger, o, me, p, 'rollback', unmet);
    const secrets = resolveSecrets(p.params, env);
    const timeouts = strictestTimeouts(p.dots);
    return withTarget(address, timeouts, (session) =>
      withAdvisoryLock(session.client, fingerprint, lockWaitMs(env), async () => {
        const run = new Run(o, ledger, me, p, session, liveEffects(address), secrets, 'rollback', timeouts);
        const attempt = await claimInterrupted(run, ledger, id, 'rollback');
        const from: ProposalState[] = attempt?.action === 'rollback' ? ['applied', 'interrupted'] : ['applied'];
        const started = await ledger.transitionProposal(id, from, 'applying', run.event('apply_started', null, { action: 'rollback', target: fingerprint, pid: process.pid, host: hostname() }));
        if (!started) {
          const now = await ledger.getProposal(id);
          await refuseGate(ledger, o, me, p, 'rollback', [{ kind: 'state', message: `proposal ${id} is ${now?.state ?? 'gone'}; only an applied proposal can be rolled back` }]);
        }
        try {
          const left = await run.rollbackSections();
          if (left.length > 0) {
            await ledger.transitionProposal(id, ['applying'], 'needs_attention', run.event('rollback_failed', 'rollback_failed', { left_to_do: left }));
            return run.report('rollback_failed', 6, `rollback of ${id} failed and needs a human`, left);
          }
          await ledger.transitionProposal(id, ['applying'], 'rolled_back', run.event('rolled_back', 'ok', { steps: run.steps.length }));
          return run.report('rolled_back', 0, `${id} rolled back: ${p.dots.map((d) => d.spec.id).join(' + ')}`);
        } catch (err) {
          return await stoppedOnError(run, ledger, err);
        }
      }),
    );
  });
}
