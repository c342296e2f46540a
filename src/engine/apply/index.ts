/**
 * Apply, rehearse (`--dry-run`) and roll back: gate → target lock → compare-and-set to
 * `applying` → the plan run by `execute`. Gate refusals throw GateError before anything
 * changes; afterwards the result is a report whose outcome the CLI maps to an exit code.
 *
 * Order of an apply: hard stops → pre-checks → steps outside the transaction (archive, patch,
 * command, SQL marked non-transactional) in declared order → one transaction with every
 * transactional SQL diff step and every SQL post-verify → COMMIT (ROLLBACK when rehearsing) →
 * the other post-verify → `applied`. The transaction's id is logged before any SQL change, so
 * whoever finds the proposal interrupted later asks PostgreSQL whether it committed.
 */
import { hostname } from 'node:os';
import { GateError, LedgerError } from '../../model/errors.js';
import { resolveSecrets } from '../../catalogue/bind.js';
import { decideGate, type GateDecision, type GateInput, type Unmet } from '../../gate/decide.js';
import { actsAs, type Identity } from '../../gate/identities.js';
import type { LedgerStore, ProposalState } from '../../ledger/port.js';
import { liveEffects, rehearsalEffects, type Effects } from '../../exec/effects.js';
import { SqlSession, strictestTimeouts } from '../../exec/sql-session.js';
import { readServerIdentity, resolveTarget, serverFingerprint, targetFingerprint, withAdvisoryLock, withTarget, type TargetAddress, type TargetSession } from '../../exec/target.js';
import { asOfDecisions, companionStatus, eventFor, gateProposal, getProposalOrFail, resolveStored, type LoadedProposal } from '../governance.js';
import { actorFrom } from '../registry.js';
import { requireVerified } from '../signed-history.js';
import { onTargetClock, withTrustedTime } from '../clock.js';
import { drillFor } from '../drill-gate.js';
import { DEFAULT_LOCK_WAIT_MS, nowIso, type EngineOptions, catalogueOf, ledgerName, signerOf, withLedgerOf } from '../options.js';
import { refuseUnwitnessed, requireLedgerId, TargetWitness } from '../witness.js';
import { execute, executeRollback, finish } from './execute.js';
import { Journal } from './journal.js';
import { planApply } from './plan.js';
import { attemptLiveness, lastAttempt, proposedEvidence, type Attempt } from './recovery.js';
import type { ApplyReport } from './report.js';
import type { RunContext } from './run.js';

export type { ApplyReport, ApplyOutcome, StepReport } from './report.js';

async function refuseGate(ledger: LedgerStore, o: EngineOptions, me: Identity, p: LoadedProposal, action: string, unmet: readonly Unmet[]): Promise<never> {
  await ledger.appendEvent(eventFor(o, me.name, p.record, p.dots, 'refused', 'refused', { action, unmet: unmet.map((u) => ({ kind: u.kind, message: u.message })) }));
  const more =
    unmet.length > 1
      ? ` (and ${unmet.length - 1} more: ${unmet
          .slice(1)
          .map((u) => u.message)
          .join('; ')})`
      : '';
  throw new GateError(`${action} of ${p.record.id} refused: ${unmet[0]?.message ?? 'gate refused'}${more}`, { context: { proposal: p.record.id, unmet } });
}

const busyMessage = (id: string, a: Attempt, pid: number): string =>
  `proposal ${id} is being ${a.action === 'rollback' ? 'rolled back' : 'applied'} by process ${pid} on this host (started ${a.start.at}); wait for it`;

/**
 * Under the target lock: a proposal still marked `applying` belongs to an apply or rollback that
 * died (or lost its connection, and with it the lock). Unless its process still runs on this
 * host, it becomes `interrupted`. Returns what the log says about that attempt.
 */
async function claimInterrupted(ledger: LedgerStore, o: EngineOptions, me: Identity, p: LoadedProposal, action: string): Promise<Attempt | null> {
  const id = p.record.id;
  const fresh = await ledger.getProposal(id);
  const attempt = await lastAttempt(ledger, id);
  if (fresh?.state === 'applying') {
    const live = attemptLiveness(attempt?.start);
    if (live.kind === 'alive' && attempt) await refuseGate(ledger, o, me, p, action, [{ kind: 'state', message: busyMessage(id, attempt, live.pid) }]);
    const what = attempt?.action ?? 'apply';
    const pid = String((attempt?.start.detail as { pid?: unknown } | undefined)?.pid ?? '?');
    await ledger.transitionProposal(
      id,
      ['applying'],
      'interrupted',
      eventFor(o, me.name, p.record, p.dots, 'interrupted', 'interrupted', {
        reason: `found applying with no ${what} holding the target lock; the earlier ${what} (pid ${pid}) died`,
        interrupted_action: what,
      }),
    );
  }
  return attempt;
}

/** What both entries build once the gate has passed. */
interface Prepared {
  readonly o: EngineOptions;
  readonly ledger: LedgerStore;
  readonly me: Identity;
  readonly p: LoadedProposal;
  readonly mode: ApplyReport['mode'];
  /** what a refusal calls the run: apply, rehearsal, rollback */
  readonly action: string;
}

/**
 * One connection to the target for the whole run (the witness check, the target's clock, the
 * lock and every step), with the strictest timeouts of the proposal's DOTs.
 */
function withTargetOf<T>(p: LoadedProposal, address: TargetAddress, fn: (session: TargetSession) => Promise<T>): Promise<T> {
  return withTarget(address, strictestTimeouts(p.dots), fn);
}

/** On the run's connection: takes the target lock, builds the run and hands it to `body`; an unexpected error leaves the proposal needing a human, never `applying`. */
async function withRun(x: Prepared, session: TargetSession, makeEffects: () => Promise<Effects>, body: (run: RunContext) => Promise<ApplyReport>): Promise<ApplyReport> {
  const { o, ledger, me, p, mode } = x;
  const env = o.env ?? process.env;
  const address = session.address;
  const timeouts = strictestTimeouts(p.dots);
  {
    // the approval binds the server and database themselves, not the URL's spelling
    const server = serverFingerprint(await readServerIdentity(session.client));
    if (server !== p.record.targetFingerprint) {
      await refuseGate(ledger, o, me, p, x.action, [
        {
          kind: 'hash_changed',
          message: `${p.record.id} was proposed for ${p.record.targetFingerprint}, but the target ${targetFingerprint(address)} is ${server}; point --target at the proposed server and database, or propose again`,
        },
      ]);
    }
    const label = `${targetFingerprint(address)} (${server})`;
    return withAdvisoryLock(
      session.client,
      server,
      o.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
      async () => {
        // again under the lock: no other apply can witness another head between this check and ours
        if (mode !== 'rehearsal') await refuseUnwitnessed(ledger, session.client, x.action, p.record.id);
        const witness =
          mode === 'rehearsal'
            ? undefined
            : new TargetWitness(ledger, {
                ledgerId: await requireLedgerId(ledger),
                proposalId: p.record.id,
                proposalHash: p.record.hash,
                event: mode === 'rollback' ? 'rollback' : 'apply',
                actor: me.name,
              });
        const effects = await makeEffects();
        const journal = new Journal(ledger, effects.kind === 'live', (kind, outcome, detail, dot) => eventFor(o, me.name, p.record, p.dots, kind, outcome, detail, dot), o.hooks);
        const run: RunContext = {
          id: p.record.id,
          dots: p.dots,
          params: p.params,
          secrets: resolveSecrets(p.params, env),
          mode,
          sql: new SqlSession(session, timeouts),
          effects,
          journal,
          onProgress: o.onProgress,
          witness,
        };
        try {
          return await body(run);
        } catch (err) {
          if (effects.kind !== 'live' || err instanceof LedgerError || err instanceof GateError) throw err;
          const msg = (err as Error).message ?? String(err);
          const left = [`dotctl stopped on an unexpected error (${msg}); the log shows every step it completed: check the target against the DOTs' post-verify and finish or undo by hand`];
          return finish(
            run,
            ledger,
            { kind: 'stopped_on_error' },
            `${mode === 'rollback' ? 'rollback' : 'apply'} of ${p.record.id} stopped on an unexpected error and needs a human: ${msg}`,
            { reason: msg },
            left,
          );
        } finally {
          await effects.dispose();
        }
      },
      label,
    );
  }
}

/** Applies a proposal (or rehearses it with `dryRun`). */
export async function applyProposal(given: EngineOptions, id: string, opts: { dryRun?: boolean } = {}): Promise<ApplyReport> {
  const cat = await catalogueOf(given);
  const key = await signerOf(given);
  const address = resolveTarget(given.target, given.env ?? process.env);
  const dry = opts.dryRun === true;
  const action = dry ? 'rehearsal' : 'apply';

  return withLedgerOf(given, 'write', async (ledger) => {
    // the gate decides on a ledger that verifies (chain, signed heads, registry) or not at all
    await requireVerified(ledger, ledgerName(given), dry ? 'rehearse' : 'apply');
    const { view, registry, me } = await actorFrom(ledger, ledgerName(given), key);
    // expiry is judged, and every row stamped, by the ledger server's clock; on a SQLite ledger
    // first by the local one (a refusal needs no trust and comes before any connection to the
    // target), then again by the target's before anything runs
    const pre = await withTrustedTime(given, ledger, null);
    const record = await getProposalOrFail(ledger, id, ledgerName(given));
    const p = await resolveStored(cat, record, given.catalogueCache);
    const fingerprint = record.targetFingerprint;
    // a proposal left `applying` may be an interrupted apply; the target lock tells (below)
    const gp = gateProposal(p);
    const events = await ledger.readEvents({ proposalId: id });
    const input: Omit<GateInput, 'now'> = {
      proposal: !dry && gp.state === 'applying' ? { ...gp, state: 'interrupted' } : gp,
      decisions: await ledger.listDecisions(id),
      identities: registry.members,
      ...asOfDecisions(view, events),
      requirements: p.requirements,
      applier: dry ? null : me,
      companions: dry ? [] : await companionStatus(ledger, p),
      events,
      // the restore-drill law is judged at apply (a drill may pass between approval and apply)
      drill: dry ? undefined : await drillFor(ledger, p.requirements, fingerprint),
    };
    // on the local clock only what holds at any time is judged (GateInput.now null)
    const judge = (at: EngineOptions): { gate: GateDecision; unmet: Unmet[] } => {
      const gate = decideGate({ ...input, now: at.clock?.source === 'local' ? null : nowIso(at) });
      // a rehearsal needs no approval (it is how a reviewer gets evidence), but it must be of this exact proposal
      const unmet: Unmet[] = dry ? gate.unmet.filter((u) => ['state', 'hash_changed', 'proposal_expired', 'future_dated', 'proposer_invalid', 'ledger_tampered'].includes(u.kind)) : [...gate.unmet];
      return { gate, unmet };
    };
    let { gate, unmet } = judge(pre);
    if (!dry && record.state === 'applying') {
      // the apply that set it is still running here: say so now rather than after the lock wait
      const attempt = await lastAttempt(ledger, id);
      const live = attemptLiveness(attempt?.start);
      if (live.kind === 'alive' && attempt) unmet.push({ kind: 'state', message: busyMessage(id, attempt, live.pid) });
    }
    if (unmet.length > 0) await refuseGate(ledger, pre, me, p, action, unmet);
    return withTargetOf(p, address, async (session) => {
      // what the gate relies on is checked against the head the target witnessed (exit 7, nothing written)
      if (!dry) await refuseUnwitnessed(ledger, session.client, action, id);
      const o = await onTargetClock(pre, session.client);
      if (o !== pre) {
        ({ gate, unmet } = judge(o));
        if (unmet.length > 0) await refuseGate(ledger, o, me, p, action, unmet);
      }
      const plan = planApply(p.dots);
      const makeEffects = async (): Promise<Effects> => (dry ? rehearsalEffects(address) : liveEffects(address));
      return withRun({ o, ledger, me, p, mode: dry ? 'rehearsal' : 'apply', action }, session, makeEffects, async (run) => {
        let resume: Attempt | null = null;
        if (!dry) {
          // we hold the target lock: a proposal still marked applying was interrupted
          const attempt = await claimInterrupted(ledger, o, me, p, action);
          const now = await ledger.getProposal(id);
          if (now?.state === 'interrupted') {
            if (attempt?.action === 'rollback')
              await refuseGate(ledger, o, me, p, action, [{ kind: 'state', message: `the rollback of ${id} was interrupted; run dotctl rollback ${id} again to finish it` }]);
            resume = attempt;
          }
          const started = await ledger.transitionProposal(
            id,
            ['proposed', 'interrupted'],
            'applying',
            run.journal.event('apply_started', null, {
              target: fingerprint,
              address: targetFingerprint(address),
              approvers: gate.approvers,
              pid: process.pid,
              host: hostname(),
              ...(resume ? { resumes: resume.start.seq } : {}),
            }),
          );
          if (!started) await refuseGate(ledger, o, me, p, action, [{ kind: 'state', message: `proposal ${id} is ${now?.state ?? 'gone'}; a proposal is applied at most once` }]);
        }
        return execute(run, ledger, plan, await proposedEvidence(ledger, id), resume);
      });
    });
  });
}

/** The states `dotctl rollback` starts from: an applied change, or an apply that left something behind. */
const ROLLBACK_FROM: readonly ProposalState[] = ['applied', 'failed', 'needs_attention'];

/** Rolls back a proposal (applied, failed or needs_attention): runs its DOTs' rollback sections (gated, locked, logged). */
export async function rollbackProposal(given: EngineOptions, id: string): Promise<ApplyReport> {
  const cat = await catalogueOf(given);
  const key = await signerOf(given);
  const address = resolveTarget(given.target, given.env ?? process.env);
  return withLedgerOf(given, 'write', async (ledger) => {
    await requireVerified(ledger, ledgerName(given), 'roll back');
    const { view, registry, me } = await actorFrom(ledger, ledgerName(given), key);
    const pre = await withTrustedTime(given, ledger, null);
    const record = await getProposalOrFail(ledger, id, ledgerName(given));
    const p = await resolveStored(cat, record, given.catalogueCache);
    const fingerprint = record.targetFingerprint;
    // an interrupted rollback is finished by running the rollback again
    const resumable = (record.state === 'applying' || record.state === 'interrupted') && (await lastAttempt(ledger, id))?.action === 'rollback';
    const unmet: Unmet[] = [];
    if (!actsAs(me, 'operator'))
      unmet.push({ kind: 'applier_not_operator', message: `${me.name} is not ${me.roles.includes('automation') ? 'an operator but an automation identity' : 'an operator'} and may not roll back` });
    // a failed or needs_attention apply may have left something (SQL outside the transaction, a rollback that stopped): its rollback cleans up
    if (!ROLLBACK_FROM.includes(record.state) && !resumable)
      unmet.push({ kind: 'state', message: `proposal ${id} is ${record.state}; only an applied, failed or needs_attention proposal can be rolled back` });
    // a rollback runs the content frozen in the applied proposal, bound to its hash, never today's files
    if (p.recomputeError || p.currentHash !== record.hash) {
      unmet.push({ kind: 'hash_changed', message: `the frozen content of ${id} does not reproduce its hash${p.recomputeError ? ` (${p.recomputeError})` : ''}; it cannot be rolled back by dotctl` });
    }
    const decisions = await ledger.listDecisions(id);
    if (decisions.some((d) => d.kind === 'approve' && d.actor === me.name)) {
      unmet.push({ kind: 'applier_approved', message: `${me.name} approved ${id} and may not roll it back; another operator does` });
    }
    if (p.requirements.dualControl) {
      // The restore of an irreversible change needs the same dual control as the change itself:
      // the approvals are judged as of the moment the change was applied, so a rollback is not
      // locked out once their TTL has passed.
      const starts = await ledger.readEvents({ proposalId: id, event: 'apply_started' });
      const appliedAt = [...starts].reverse().find((e) => (e.detail as { action?: unknown }).action !== 'rollback')?.at ?? nowIso(pre);
      const g = decideGate({
        proposal: { ...gateProposal(p), state: 'proposed', expiresAt: null, createdAt: p.record.createdAt },
        decisions,
        identities: registry.members,
        ...asOfDecisions(view, await ledger.readEvents({ proposalId: id })),
        requirements: p.requirements,
        now: appliedAt,
        applier: me,
        companions: [],
      });
      unmet.push(...g.unmet.filter((u) => u.kind === 'approvals_missing' || u.kind === 'group_approvals_missing'));
    }
    if (unmet.length > 0) await refuseGate(ledger, pre, me, p, 'rollback', unmet);
    return withTargetOf(p, address, async (session) => {
      await refuseUnwitnessed(ledger, session.client, 'rollback', id);
      const o = await onTargetClock(pre, session.client);
      const plan = planApply(p.dots);
      return withRun(
        { o, ledger, me, p, mode: 'rollback', action: 'rollback' },
        session,
        async () => liveEffects(address),
        async (run) => {
          const attempt = await claimInterrupted(ledger, o, me, p, 'rollback');
          const from: ProposalState[] = attempt?.action === 'rollback' ? [...ROLLBACK_FROM, 'interrupted'] : [...ROLLBACK_FROM];
          const started = await ledger.transitionProposal(
            id,
            from,
            'applying',
            run.journal.event('apply_started', null, { action: 'rollback', target: fingerprint, address: targetFingerprint(address), pid: process.pid, host: hostname() }),
          );
          if (!started) {
            const now = await ledger.getProposal(id);
            await refuseGate(ledger, o, me, p, 'rollback', [
              { kind: 'state', message: `proposal ${id} is ${now?.state ?? 'gone'}; only an applied, failed or needs_attention proposal can be rolled back` },
            ]);
          }
          return executeRollback(run, ledger, plan, record.state === 'failed' || record.state === 'needs_attention');
        },
      );
    });
  });
}
