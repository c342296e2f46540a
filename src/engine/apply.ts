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
 */
import { hostname } from 'node:os';
import { GateError } from '../model/errors.js';
import { loadCatalogue } from '../spec/load.js';
import type { ValidDot } from '../spec/validate.js';
import type { Section, Step } from '../spec/schema.js';
import { actingIdentity, loadIdentities, loadSigningKey } from '../gate/keys.js';
import { decideGate, type Unmet } from '../gate/decide.js';
import type { Identity } from '../gate/identities.js';
import { withLedger } from '../ledger/open.js';
import type { LedgerStore, NewLogEvent, ProposalRecord } from '../ledger/port.js';
import { bindTemplate } from '../render/steps.js';
import { bindForExecution, bindQuery, resolveSecrets, type SecretValues } from '../exec/bind.js';
import { checkSql, type CheckResult } from '../exec/checks.js';
import { liveEffects, rehearsalEffects, type Effects, type EffectResult } from '../exec/effects.js';
import { collectEvidence } from '../exec/run-checks.js';
import { libpqEnv, resolveTarget, targetFingerprint, withAdvisoryLock, withTarget, type TargetSession } from '../exec/target.js';
import { companionStatus, eventFor, gateProposal, getProposalOrFail, resolveStored, type LoadedProposal } from './governance.js';
import { nowIso, type EngineOptions } from './options.js';

/** How long an apply waits for another apply on the same target. */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** One step as the report shows it. */
export interface StepReport {
  readonly dotId: string;
  readonly section: Section | 'undo';
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

function sqlErrorText(err: unknown, sql: string): string {
  const e = err as { message?: string; code?: string; position?: string };
  const pos = e.position ? sqlPosition(sql, Number(e.position)) : null;
  return `SQL error${e.code ? ` ${e.code}` : ''}${pos ? ` at line ${pos.line} column ${pos.col}` : ''}: ${e.message ?? String(err)}`;
}

/** Runs a statement; a failure becomes a failed result naming where in the SQL it broke. */
async function runStatement(session: TargetSession, sql: string): Promise<CheckResult> {
  try {
    const r = await session.client.query(sql);
    return { outcome: 'passed', observed: `ok${typeof r.rowCount === 'number' ? ` (${r.rowCount} row(s))` : ''}`, expected: 'the statement to succeed' };
  } catch (err) {
    return { outcome: 'failed', observed: sqlErrorText(err, sql), expected: 'the statement to succeed' };
  }
}

const failed = (r: { outcome: string }): boolean => r.outcome === 'failed' || r.outcome === 'error';

/** Runs one apply, rehearsal or rollback with its context. */
class Run {
  readonly steps: StepReport[] = [];
  constructor(
    readonly o: EngineOptions,
    readonly ledger: LedgerStore,
    readonly me: Identity,
    readonly p: LoadedProposal,
    readonly session: TargetSession,
    readonly effects: Effects,
    readonly secrets: SecretValues,
    readonly mode: ApplyReport['mode'],
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
  }

  bound(step: Step) {
    return bindForExecution(step, this.p.params, this.secrets);
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

  /** Non-transactional diff steps, in declared order; returns undo actions of what was done. */
  async nonTransactional(undo: { dot: ValidDot; name: string; run: () => Promise<CheckResult> }[], leftToDo: string[]): Promise<boolean> {
    for (const dot of this.p.dots) {
      for (const [index, step] of dot.spec.diff.entries()) {
        if (step.kind === 'sql' && step.transactional !== false) continue;
        const started = Date.now();
        const b = this.bound(step);
        let r: EffectResult;
        switch (b.kind) {
          case 'archive': {
            const progress = this.live && process.stderr.isTTY ? (bytes: number) => process.stderr.write(`\r  archiving ${b.schema}: ${(bytes / 1048576).toFixed(1)} MiB`) : undefined;
            r = await this.effects.archive(b, await this.tablesIn(b.schema), progress);
            if (progress) process.stderr.write('\n');
            break;
          }
          case 'patch':
            r = await this.effects.patch(b);
            if (r.undo) undo.push({ dot, name: step.name, run: r.undo });
            break;
          case 'command':
            r = await this.effects.command(b, libpqEnv(this.session.address));
            if (!r.skipped && r.outcome === 'passed') leftToDo.push(`${dot.spec.id}: command "${step.name}" ran and cannot be undone automatically`);
            break;
          case 'sql':
            r = this.effects.runsNonTransactionalSql
              ? await runStatement(this.session, b.sql)
              : { outcome: 'passed', skipped: true, observed: 'not rehearsed: SQL outside a transaction would change the target', expected: '' };
            if (!r.skipped && r.outcome === 'passed') leftToDo.push(`${dot.spec.id}: non-transactional SQL "${step.name}" ran; undo it with the DOT's rollback`);
            break;
          default:
            r = { outcome: 'error', observed: `a ${b.kind} step cannot be in diff`, expected: '' };
        }
        await this.note(dot, 'diff', index, step.name, step.kind, r, started);
        if (failed(r)) return false;
      }
    }
    return true;
  }

  /** The transaction: transactional SQL diff steps, then SQL post-verify; COMMIT or ROLLBACK. */
  async transaction(): Promise<boolean> {
    const c = this.session.client;
    await c.query('BEGIN');
    let ok = true;
    try {
      outer: for (const dot of this.p.dots) {
        for (const [index, step] of dot.spec.diff.entries()) {
          if (step.kind !== 'sql' || step.transactional === false) continue;
          const started = Date.now();
          const b = this.bound(step);
          const r = await runStatement(this.session, b.kind === 'sql' ? b.sql : '');
          await this.note(dot, 'diff', index, step.name, 'sql', r, started);
          if (failed(r)) {
            ok = false;
            break outer;
          }
        }
      }
      if (ok) {
        outer2: for (const dot of this.p.dots) {
          for (const [index, step] of dot.spec.post_verify.entries()) {
            if (step.kind !== 'sql') continue;
            const started = Date.now();
            const b = this.bound(step);
            const q = bindQuery(step.sql, this.p.params, this.secrets);
            const r = b.kind === 'sql' ? await checkSql(c, b, q.text, q.values) : { outcome: 'error' as const, observed: '', expected: '' };
            await this.note(dot, 'post_verify', index, step.name, 'sql', r, started);
            if (failed(r)) {
              ok = false;
              break outer2;
            }
          }
        }
      }
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    await c.query(ok ? this.effects.sqlEnd : 'ROLLBACK');
    return ok;
  }

  /** Post-verify steps that are not SQL (commands, files), after COMMIT. */
  async postVerifyOutside(): Promise<boolean> {
    for (const dot of this.p.dots) {
      for (const [index, step] of dot.spec.post_verify.entries()) {
        if (step.kind === 'sql') continue;
        const started = Date.now();
        const b = this.bound(step);
        const r: EffectResult =
          b.kind === 'command' ? await this.effects.command(b, libpqEnv(this.session.address)) : b.kind === 'file' ? await this.effects.file(b) : { outcome: 'error', observed: `a ${b.kind} step cannot be a post-verify`, expected: '' };
        await this.note(dot, 'post_verify', index, step.name, step.kind, r, started);
        if (failed(r)) return false;
      }
    }
    return true;
  }

  /** Runs the rollback sections, DOTs in reverse order; returns what could not be done. */
  async rollbackSections(): Promise<string[]> {
    const left: string[] = [];
    for (const dot of [...this.p.dots].reverse()) {
      const sqlSteps = dot.spec.rollback.map((s, i) => [s, i] as const).filter(([s]) => s.kind === 'sql' && s.transactional !== false);
      for (const [index, step] of dot.spec.rollback.entries()) {
        if (step.kind === 'sql' && step.transactional !== false) continue;
        const started = Date.now();
        const b = this.bound(step);
        let r: EffectResult;
        if (b.kind === 'patch') r = await this.effects.patch(b);
        else if (b.kind === 'restore') r = await this.effects.restore(b);
        else if (b.kind === 'command') r = await this.effects.command(b, libpqEnv(this.session.address));
        else if (b.kind === 'sql') r = await runStatement(this.session, b.sql);
        else r = { outcome: 'error', observed: `a ${b.kind} step cannot be in rollback`, expected: '' };
        // non-transactional rollback steps run first (restore before the SQL that checks it)
        await this.note(dot, 'rollback', index, step.name, step.kind, r, started);
        if (failed(r)) left.push(`${dot.spec.id}: rollback step "${step.name}" failed (${r.observed})`);
      }
      if (sqlSteps.length > 0) {
        await this.session.client.query('BEGIN');
        let ok = true;
        for (const [step, index] of sqlSteps) {
          const started = Date.now();
          const b = this.bound(step);
          let r: CheckResult;
          if (b.kind === 'sql' && b.expect && step.kind === 'sql') {
            // a rollback step with expect is a check of the restored state
            const q = bindQuery(step.sql, this.p.params, this.secrets);
            r = await checkSql(this.session.client, b, q.text, q.values);
          } else r = await runStatement(this.session, b.kind === 'sql' ? b.sql : '');
          await this.note(dot, 'rollback', index, step.name, 'sql', r, started);
          if (failed(r)) {
            ok = false;
            left.push(`${dot.spec.id}: rollback SQL "${step.name}" failed (${r.observed}); nothing of ${dot.spec.id}'s rollback SQL was committed`);
            break;
          }
        }
        await this.session.client.query(ok ? 'COMMIT' : 'ROLLBACK');
      }
    }
    return left;
  }

  /** Undoes non-transactional steps done before a failure. */
  async undo(undo: { dot: ValidDot; name: string; run: () => Promise<CheckResult> }[]): Promise<string[]> {
    const left: string[] = [];
    for (const u of [...undo].reverse()) {
      const started = Date.now();
      const r = await u.run();
      await this.note(u.dot, 'undo', 0, `undo: ${u.name}`, 'undo', r, started);
      if (failed(r)) left.push(`${u.dot.spec.id}: could not undo "${u.name}" (${r.observed})`);
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

function strictestTimeouts(dots: readonly ValidDot[]): { lockTimeoutMs?: number; statementTimeoutMs?: number } {
  const pick = (k: 'lock_timeout_ms' | 'statement_timeout_ms'): number | undefined => {
    const vals = dots.map((d) => d.spec.timeouts?.[k]).filter((v): v is number => v !== undefined);
    return vals.length > 0 ? Math.min(...vals) : undefined;
  };
  return { lockTimeoutMs: pick('lock_timeout_ms'), statementTimeoutMs: pick('statement_timeout_ms') };
}

async function refuseGate(ledger: LedgerStore, o: EngineOptions, me: Identity, p: LoadedProposal, action: string, unmet: readonly Unmet[]): Promise<never> {
  await ledger.appendEvent(eventFor(o, me.name, p.record, p.dots, 'refused', 'refused', { action, unmet: unmet.map((u) => ({ kind: u.kind, message: u.message })) }));
  const more = unmet.length > 1 ? ` (and ${unmet.length - 1} more: ${unmet.slice(1).map((u) => u.message).join('; ')})` : '';
  throw new GateError(`${action} of ${p.record.id} refused: ${unmet[0]?.message ?? 'gate refused'}${more}`, { context: { proposal: p.record.id, unmet } });
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
    const gate = decideGate({
      proposal: gateProposal(p),
      decisions,
      identities,
      requirements: p.requirements,
      now: nowIso(o),
      applier: dry ? null : me,
      companions: dry ? [] : await companionStatus(ledger, p),
    });
    // a rehearsal needs no approval (it is how a reviewer gets evidence), but it must be of this exact proposal
    const unmet = dry ? gate.unmet.filter((u) => ['state', 'hash_changed', 'proposal_expired', 'proposer_invalid'].includes(u.kind)) : gate.unmet;
    if (p.record.targetFingerprint !== fingerprint) {
      await refuseGate(ledger, o, me, p, action, [{ kind: 'hash_changed', message: `${id} was proposed for ${p.record.targetFingerprint}, not ${fingerprint}; point --target at the proposed target or propose again` }]);
    }
    if (unmet.length > 0) await refuseGate(ledger, o, me, p, action, unmet);
    const secrets = resolveSecrets(p.params, env);

    return withTarget(address, strictestTimeouts(p.dots), (session) =>
      withAdvisoryLock(session.client, fingerprint, Number(env.DOTCTL_LOCK_WAIT_MS ?? DEFAULT_LOCK_WAIT_MS), async () => {
        const effects = dry ? await rehearsalEffects(address) : liveEffects(address);
        try {
          const run = new Run(o, ledger, me, p, session, effects, secrets, dry ? 'rehearsal' : 'apply');
          if (!dry) {
            // we hold the target lock: a proposal still marked applying was interrupted
            const fresh = await ledger.getProposal(id);
            if (fresh?.state === 'applying') {
              await ledger.transitionProposal(id, ['applying'], 'interrupted', run.event('interrupted', 'interrupted', { reason: 'found applying with no apply holding the target lock; the earlier apply died' }));
            }
            const started = await ledger.transitionProposal(
              id,
              ['proposed', 'interrupted'],
              'applying',
              run.event('apply_started', null, { target: fingerprint, approvers: gate.approvers, pid: process.pid, host: hostname() }),
            );
            if (!started) {
              const now = await ledger.getProposal(id);
              await refuseGate(ledger, o, me, p, action, [{ kind: 'state', message: `proposal ${id} is ${now?.state ?? 'gone'}; a proposal is applied at most once` }]);
            }
          }
          return await execute(run, ledger, await proposedEvidence(ledger, id));
        } finally {
          await effects.dispose();
        }
      }),
    );
  });
}

async function execute(run: Run, ledger: LedgerStore, evidence: ReadonlyMap<string, string>): Promise<ApplyReport> {
  const id = run.p.record.id;
  const finish = async (to: 'proposed' | 'failed' | 'needs_attention' | 'applied', kind: NewLogEvent['event'], outcome: string, detail: Record<string, unknown>): Promise<void> => {
    if (run.live) await ledger.transitionProposal(id, ['applying'], to, run.event(kind, outcome, detail));
    else await ledger.appendEvent(run.event('rehearsed', outcome, { ...detail, steps: run.steps.map((s) => ({ dot: s.dotId, section: s.section, step: s.name, outcome: s.outcome, observed: s.observed })) }));
  };

  const checkFailure = await run.checks(evidence);
  if (checkFailure) {
    await finish('proposed', 'refused', 'check_failed', { reason: checkFailure });
    return run.report('check_failed', 4, checkFailure);
  }
  const undo: { dot: ValidDot; name: string; run: () => Promise<CheckResult> }[] = [];
  const irreversible: string[] = [];
  const nonTxOk = await run.nonTransactional(undo, irreversible);
  const txOk = nonTxOk ? await run.transaction() : false;
  if (!txOk) {
    const failedStep = run.steps.filter((s) => failed(s)).at(-1);
    const left = [...(await run.undo(undo)), ...irreversible];
    const what = `${failedStep?.section === 'post_verify' ? 'post-verify' : 'diff step'} "${failedStep?.name}" of ${failedStep?.dotId} failed: ${failedStep?.observed}`;
    if (!run.live) {
      await finish('proposed', 'rehearsed', 'rehearsal_failed', { reason: what });
      return run.report('rehearsal_failed', 5, `rehearsal failed: ${what}; nothing was changed`);
    }
    if (left.length > 0) {
      await finish('needs_attention', 'rollback_failed', 'rollback_failed', { reason: what, left_to_do: left });
      return run.report('rollback_failed', 6, `${what}; the SQL transaction was rolled back but some changes could not be undone`, left);
    }
    await finish('failed', 'rolled_back', 'rolled_back', { reason: what });
    return run.report('rolled_back', 5, `${what}; rolled back, the target is as before`);
  }
  const postOk = await run.postVerifyOutside();
  if (!postOk) {
    const failedStep = run.steps.filter((s) => failed(s)).at(-1);
    const what = `post-verify "${failedStep?.name}" of ${failedStep?.dotId} failed: ${failedStep?.observed}`;
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

/** Rolls back an applied proposal: runs its DOTs' rollback sections (gated, locked, logged). */
export async function rollbackProposal(o: EngineOptions, id: string): Promise<ApplyReport> {
  const cat = await loadCatalogue(o.dots);
  const identities = await loadIdentities(o.identities);
  const key = await loadSigningKey(o.key);
  const me = actingIdentity(identities, key);
  const env = o.env ?? process.env;
  const address = resolveTarget(o.target, env);
  const fingerprint = targetFingerprint(address);
  return withLedger(o.ledger, { mode: 'write' }, async (ledger) => {
    const record = await getProposalOrFail(ledger, id, o.ledger);
    const p = resolveStored(cat, record, fingerprint);
    const unmet: Unmet[] = [];
    if (!me.roles.includes('operator')) unmet.push({ kind: 'applier_not_operator', message: `${me.name} is not an operator and may not roll back` });
    if (record.state !== 'applied') unmet.push({ kind: 'state', message: `proposal ${id} is ${record.state}; only an applied proposal can be rolled back` });
    if (record.targetFingerprint !== fingerprint) unmet.push({ kind: 'hash_changed', message: `${id} was applied to ${record.targetFingerprint}, not ${fingerprint}` });
    if (p.requirements.dualControl) {
      // the restore of an irreversible change needs the same dual control as the change itself
      const g = decideGate({ proposal: { ...gateProposal(p), state: 'proposed', expiresAt: null }, decisions: await ledger.listDecisions(id), identities, requirements: p.requirements, now: nowIso(o), applier: me, companions: [] });
      unmet.push(...g.unmet.filter((u) => u.kind === 'approvals_missing' || u.kind === 'applier_approved' || u.kind === 'hash_changed'));
    }
    if (unmet.length > 0) await refuseGate(ledger, o, me, p, 'rollback', unmet);
    const secrets = resolveSecrets(p.params, env);
    return withTarget(address, strictestTimeouts(p.dots), (session) =>
      withAdvisoryLock(session.client, fingerprint, Number(env.DOTCTL_LOCK_WAIT_MS ?? DEFAULT_LOCK_WAIT_MS), async () => {
        const run = new Run(o, ledger, me, p, session, liveEffects(address), secrets, 'rollback');
        const started = await ledger.transitionProposal(id, ['applied'], 'applying', run.event('apply_started', null, { action: 'rollback', target: fingerprint, pid: process.pid, host: hostname() }));
        if (!started) await refuseGate(ledger, o, me, p, 'rollback', [{ kind: 'state', message: `proposal ${id} is no longer applied` }]);
        const left = await run.rollbackSections();
        if (left.length > 0) {
          await ledger.transitionProposal(id, ['applying'], 'needs_attention', run.event('rollback_failed', 'rollback_failed', { left_to_do: left }));
          return run.report('rollback_failed', 6, `rollback of ${id} failed and needs a human`, left);
        }
        await ledger.transitionProposal(id, ['applying'], 'rolled_back', run.event('rolled_back', 'ok', { steps: run.steps.length }));
        return run.report('rolled_back', 0, `${id} rolled back: ${p.dots.map((d) => d.spec.id).join(' + ')}`);
      }),
    );
  });
}
