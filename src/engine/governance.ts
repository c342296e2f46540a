/**
 * Propose, approve, reject and status: the governance half of the pipeline. Each reads the
 * catalogue and the identities, derives the acting identity from the key, decides with the
 * pure gate, and writes the ledger (which fails closed).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GateError, InputError, CheckError } from '../model/errors.js';
import type { Evidence } from '../model/evidence.js';
import type { Catalogue, ValidDot } from '../catalogue/validate.js';
import { bindParams, parseParamPairs, paramsForRecord, withParamDefaults, type BoundParams } from '../catalogue/params.js';
import { gateRequirements, type GateRequirements } from '../catalogue/laws.js';
import { renderProposal } from '../render/proposal.js';
import { codeSpan } from '../render/markdown.js';
import { resolveBundle } from '../catalogue/bundle.js';
import { freezeContent } from '../catalogue/content.js';
import { signStatement } from '../gate/signature.js';
import { checkDecider, decideGate, PROPOSAL_TTL_HOURS, type CompanionStatus, type GateDecision, type GateInput, type GateProposal } from '../gate/decide.js';
import { actorFrom, decisionRegistry, proposerRegistry, readRegistry, type RegistryView } from './registry.js';
import { requireVerified } from './signed-history.js';
import { actsAs } from '../gate/identities.js';
import { unknownProposal } from '../ledger/failure.js';
import type { DecisionRecord, LedgerStore, LogRow, NewLogEvent, ProposalRecord } from '../ledger/port.js';
import { readServerIdentity, resolveTarget, serverFingerprint, targetFingerprint, withTarget, type TargetAddress } from '../exec/target.js';
import { strictestTimeouts } from '../exec/sql-session.js';
import { collectEvidence, type CheckRecord } from '../exec/run-checks.js';
import { onTargetClock, withTrustedTime } from './clock.js';
import { addHours, nowIso, type EngineOptions, catalogueOf, ledgerName, signerOf, withLedgerOf } from './options.js';
import { attemptLiveness } from './apply/recovery.js';
import { drillFor } from './drill-gate.js';
import { loadFrozen, requireAdmitted } from './admission.js';

/** A proposal as stored, with what it binds resolved against today's catalogue. */
export interface LoadedProposal {
  readonly record: ProposalRecord;
  readonly dots: readonly ValidDot[];
  readonly params: BoundParams;
  readonly requirements: GateRequirements;
  /** hash recomputed now from current DOT files, params and target */
  readonly currentHash: string;
  readonly recomputeError: string | null;
}

/** The event skeleton for a proposal. */
export function eventFor(
  o: EngineOptions,
  actor: string,
  record: ProposalRecord,
  dots: readonly ValidDot[],
  event: NewLogEvent['event'],
  outcome: string | null,
  detail: Record<string, unknown>,
  dot?: ValidDot,
): NewLogEvent {
  return {
    at: nowIso(o),
    actor,
    event,
    proposalId: record.id,
    dotId: dot ? dot.spec.id : dots.map((d) => d.spec.id).join('+'),
    actionCode: dot ? dot.spec.action_code : dots.map((d) => d.spec.action_code).join('+'),
    proposalHash: record.hash,
    outcome,
    detail,
  };
}

/** Raw `name=value` strings from stored params (secrets are re-bound to their env vars). */
function storedPairs(params: ProposalRecord['params']): string[] {
  return Object.entries(params)
    .filter(([, v]) => !(typeof v === 'object' && v !== null))
    .map(([k, v]) => `${k}=${String(v)}`);
}

/**
 * Resolves a stored proposal from the DOT content frozen in it (never today's files: `cat` only
 * names the DOTs of a record that cannot be resolved; `cacheDir`: the catalogue cache) and
 * recomputes its hash over that content, the stored params and target. Frozen content that is
 * missing or tampered with is unrenderable: no DOTs to run, and a hash that matches nothing.
 */
export async function resolveStored(cat: Catalogue, record: ProposalRecord, cacheDir?: string): Promise<LoadedProposal> {
  try {
    const { dots, catalogue } = await loadFrozen(record, cacheDir);
    const params = bindParams(
      dots.map((d) => d.spec),
      parseParamPairs(storedPairs(record.params)),
    );
    const r = renderProposal({ dots, laws: catalogue.laws, params, target: record.targetFingerprint });
    return { record, dots, params, requirements: r.requirements, currentHash: r.hash, recomputeError: null };
  } catch (err) {
    const msg = (err as Error).message;
    const named = record.dotIds.flatMap((id) => (cat.dots.has(id) ? [cat.dots.get(id) as ValidDot] : []));
    // the DOTs are named for messages and the gate only; with a recompute error nothing may run them
    return {
      record,
      dots: [],
      params: {},
      requirements: gateRequirements(
        named.map((d) => d.spec),
        cat.laws,
      ),
      currentHash: `unrenderable: ${msg}`,
      recomputeError: msg,
    };
  }
}

/** Reads a proposal or says it does not exist (exit 2). */
export async function getProposalOrFail(ledger: LedgerStore, id: string, spec: string): Promise<ProposalRecord> {
  const p = await ledger.getProposal(id);
  if (!p) throw unknownProposal(spec, id);
  return p;
}

/** The gate's view of a loaded proposal. */
export function gateProposal(p: LoadedProposal): GateProposal {
  const r = p.record;
  return { id: r.id, hash: r.hash, currentHash: p.currentHash, createdBy: r.createdBy, createdAt: r.createdAt, expiresAt: r.expiresAt, state: r.state, signature: r.signature, canonical: r.canonical };
}

/** The gate's registries as of each decision and of the proposal (their rows in `events`). */
export function asOfDecisions(view: RegistryView, events: readonly LogRow[]): Pick<GateInput, 'identitiesFor' | 'proposerIdentities'> {
  const proposer = proposerRegistry(view, events);
  return { identitiesFor: decisionRegistry(view, events), ...(proposer ? { proposerIdentities: proposer } : {}) };
}

/** Companion status of a bundle on its target, from the ledger. */
export async function companionStatus(ledger: LedgerStore, p: { readonly record: Pick<ProposalRecord, 'targetFingerprint'>; readonly dots: readonly ValidDot[] }): Promise<CompanionStatus[]> {
  const inBundle = new Set(p.dots.map((d) => d.spec.id));
  const out: CompanionStatus[] = [];
  // every applied proposal is read only when a companion is outside the bundle (on a big ledger that list is long)
  const outside = p.dots.some((d) => d.spec.companions.some((c) => !inBundle.has(c)));
  const applied = outside ? (await ledger.listProposals('applied')).filter((x) => x.targetFingerprint === p.record.targetFingerprint) : [];
  for (const d of p.dots) {
    for (const c of d.spec.companions) {
      const status = inBundle.has(c) ? 'in_bundle' : applied.some((x) => x.dotIds.includes(c)) ? 'applied' : 'missing';
      out.push({ dotId: c, requiredBy: d.spec.id, status });
    }
  }
  return out;
}

/** Result of propose. */
export interface ProposeResult {
  readonly id: string;
  readonly hash: string;
  readonly dots: readonly string[];
  /** the server fingerprint the hash binds (`pg:<system id>/<db oid>/<db name>`) */
  readonly target: string;
  /** the address as given (`postgres://host:port/db`), for people */
  readonly address: string;
  readonly markdownPath: string;
  readonly evidence: readonly CheckRecord[];
  readonly requirements: GateRequirements;
  /** what will stop the apply later though the proposal is valid now (a companion neither in the bundle nor applied) */
  readonly warnings: readonly string[];
}

/**
 * Proposes a bundle: binds params, checks the proposer is an operator, runs the hard stops and
 * pre-checks read-only (unless offline), renders, signs, stores and logs `proposed`.
 */
export async function proposeBundle(
  given: EngineOptions,
  refs: readonly string[],
  pairs: readonly string[],
  opts: { offline?: boolean; out?: string; trigger?: Readonly<Record<string, unknown>> } = {},
): Promise<ProposeResult> {
  const cat = await catalogueOf(given);
  const dots = resolveBundle(cat, refs);
  const specs = dots.map((d) => d.spec);
  // the workspace environment's values (e.g. expected_host) under the -p ones, which win
  const params = bindParams(specs, withParamDefaults(specs, given.paramDefaults, parseParamPairs(pairs)));
  const key = await signerOf(given);
  const env = given.env ?? process.env;
  const address = resolveTarget(given.target, env);
  // who acts is the key's member in the ledger's registry; only admitted DOT content may run
  // anything, even the read-only checks below (judged before any connection to the target)
  const { pre, me } = await withLedgerOf(given, 'write', async (ledger) => {
    const { view, registry, me } = await actorFrom(ledger, ledgerName(given), key);
    // automation (dotctl watch) drafts proposals too; it never approves or applies them (gate/decide.ts)
    if (!actsAs(me, 'operator') && !actsAs(me, 'automation')) throw new GateError(`${me.name} is not an operator; only operators propose (and the watch's automation identity drafts)`);
    const trusted = await withTrustedTime(given, ledger, null);
    await requireAdmitted(trusted, ledger, cat, dots, { view, identities: registry.members }, me.name, 'propose');
    return { pre: trusted, me };
  });
  // the proposal is dated (and its TTL runs) by the ledger server's clock, else the target's
  const o = await onTargetClock(pre, address);

  const where = targetFingerprint(address); // for people; the hash binds the server's identity
  const at = nowIso(o);
  const { fingerprint, evidence } = await readTargetForProposal(address, dots, params, opts.offline === true);
  // a check whose optional tool is missing is not a failure: the evidence shows it as not_run to the reviewer
  const bad = evidence.find((e) => e.outcome === 'failed' || e.outcome === 'error');
  if (bad) {
    const what = bad.section === 'hard_stops' ? 'hard stop' : 'pre-check';
    throw new CheckError(`${what} "${bad.name}" of ${bad.dotId} failed on ${where}: saw ${bad.observed}, expected ${bad.expected}; nothing was proposed`, {
      context: { dot: bad.dotId, step: bad.name },
    });
  }
  const evidenceDoc: Evidence | null = opts.offline ? null : { collectedAt: at, target: `${where} (${fingerprint})`, checks: evidence };
  const rendered = renderProposal({ dots, laws: cat.laws, params, target: fingerprint, evidence: evidenceDoc });
  const id = `P-${at.slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
  const record: ProposalRecord = {
    id,
    dotIds: dots.map((d) => d.spec.id),
    params: paramsForRecord(params),
    targetFingerprint: fingerprint,
    canonical: rendered.canonical,
    hash: rendered.hash,
    state: 'proposed',
    createdBy: me.name,
    createdAt: at,
    expiresAt: addHours(at, PROPOSAL_TTL_HOURS),
    signature: signStatement(key.privateKey, 'propose', id, rendered.hash, at),
    content: freezeContent(dots),
  };
  const dir = o.proposalsDir ?? 'proposals';
  const markdownPath = opts.out ?? join(dir, `${id}.md`);
  const warnings: string[] = [];
  await withLedgerOf(o, 'write', async (ledger) => {
    // a missing companion refuses the apply only after reviewers signed: say it now
    for (const c of (await companionStatus(ledger, { record, dots })).filter((x) => x.status === 'missing')) {
      const label = (id: string): string => {
        const d = cat.dots.get(id);
        return d?.spec.option ? `${id} (${d.spec.option})` : id;
      };
      warnings.push(
        `${label(c.requiredBy)} needs its companion ${label(c.dotId)}, which is neither in this proposal nor applied on this target: the apply will be refused until it is; propose them together, or apply the companion first`,
      );
    }
    await ledger.putProposal(
      record,
      eventFor(o, me.name, record, dots, 'proposed', 'ok', {
        target: fingerprint,
        address: where,
        offline: opts.offline === true,
        evidence: evidence.map((e) => ({ dot: e.dotId, section: e.section, index: e.index, check: e.name, outcome: e.outcome, observed: e.observed })),
        // drafted by dotctl watch: the failing standing check it answers
        ...(opts.trigger ? { trigger: opts.trigger } : {}),
      }),
    );
  });
  await mkdir(opts.out ? join(markdownPath, '..') : dir, { recursive: true });
  const t = opts.trigger;
  const why = t
    ? `> Drafted by dotctl watch (${me.name}, automation) because the standing check ${codeSpan(String(t.name))} failed: ${codeSpan(String(t.observed))}. Reviewers approve it and an operator applies it; the watch never does.\n\n`
    : '';
  const header = `<!-- proposal ${id}, proposed by ${me.name} at ${at} -->\n${why}`;
  await writeFile(markdownPath, header + rendered.markdown);
  await writeFile(`${markdownPath.replace(/\.md$/, '')}.json`, rendered.canonical);
  return { id, hash: rendered.hash, dots: record.dotIds, target: fingerprint, address: where, markdownPath, evidence, requirements: rendered.requirements, warnings };
}

/**
 * One session on the target at propose time: the server's identity (always, also `--offline`:
 * the hash binds the server, not the URL spelling) and, unless offline, the hard stops and
 * pre-checks run read-only as evidence. `--offline` means "no checks run", not "no connection".
 */
async function readTargetForProposal(address: TargetAddress, dots: readonly ValidDot[], params: BoundParams, offline: boolean): Promise<{ fingerprint: string; evidence: CheckRecord[] }> {
  // secrets are not needed to gather evidence; checks never see them
  const secrets = new Map<string, string>();
  return withTarget(address, strictestTimeouts(dots), async (s) => ({
    fingerprint: serverFingerprint(await readServerIdentity(s.client)),
    evidence: offline ? [] : await collectEvidence(s, dots, params, secrets),
  }));
}

/** Result of approve/reject. */
export interface DecisionResult {
  readonly id: string;
  readonly actor: string;
  readonly kind: 'approve' | 'reject';
  readonly hash: string;
  readonly expiresAt: string | null;
  readonly gate: GateDecision;
}

async function refuse(ledger: LedgerStore, o: EngineOptions, actor: string, p: LoadedProposal, reason: string, action: string): Promise<never> {
  await ledger.appendEvent(eventFor(o, actor, p.record, p.dots, 'refused', 'refused', { action, reason }));
  throw new GateError(reason, { context: { proposal: p.record.id } });
}

/** Approves or rejects a proposal: signs its hash, stores the decision, logs it. */
export async function decideProposal(given: EngineOptions, id: string, kind: 'approve' | 'reject', comment: string | null): Promise<DecisionResult> {
  if (kind === 'reject' && (!comment || comment.trim() === '')) throw new InputError('a rejection needs a reason: pass --reason TEXT');
  const cat = await catalogueOf(given);
  const key = await signerOf(given);
  return withLedgerOf(given, 'write', async (ledger) => {
    // the gate decides on a ledger that verifies (chain, signed heads, registry) or not at all
    await requireVerified(ledger, ledgerName(given), kind);
    const { view, registry, me } = await actorFrom(ledger, ledgerName(given), key);
    const identities = registry.members;
    // no target is touched: the ledger server's clock, on a SQLite ledger the local one (README, Time)
    const o = await withTrustedTime(given, ledger, null);
    // reviewers sign what was proposed: the hash over today's DOT files, the params and the stored target
    const loaded = await resolveStored(cat, await getProposalOrFail(ledger, id, ledgerName(o)), o.catalogueCache);
    const at = nowIso(o);
    const prior = await ledger.listDecisions(id);
    const why = checkDecider(gateProposal(loaded), me, kind, prior, at);
    if (why) await refuse(ledger, o, me.name, loaded, why, kind);
    const decision: DecisionRecord = {
      proposalId: id,
      kind,
      hashSigned: loaded.record.hash,
      actor: me.name,
      signature: signStatement(key.privateKey, kind, id, loaded.record.hash, at),
      comment,
      at,
      expiresAt: kind === 'approve' ? addHours(at, loaded.requirements.approvalTtlHours) : null,
    };
    // the row is dated as the signed decision: the registry in force at it judges the decision later
    await ledger.addDecision(decision, { ...eventFor(o, me.name, loaded.record, loaded.dots, kind === 'approve' ? 'approved' : 'rejected', 'ok', { comment, expires_at: decision.expiresAt }), at });
    const events = await ledger.readEvents({ proposalId: id });
    const gate = decideGate({
      proposal: gateProposal(loaded),
      decisions: [...prior, decision],
      identities,
      ...asOfDecisions(view, events),
      requirements: loaded.requirements,
      now: at,
      applier: null,
      companions: await companionStatus(ledger, loaded),
      events,
      drill: await drillFor(ledger, loaded.requirements, loaded.record.targetFingerprint),
    });
    return { id, actor: me.name, kind, hash: loaded.record.hash, expiresAt: decision.expiresAt, gate };
  });
}

/** A proposal with its decisions, events and the gate's current verdict. */
export interface ProposalStatus {
  readonly proposal: ProposalRecord;
  readonly decisions: readonly DecisionRecord[];
  readonly events: readonly LogRow[];
  readonly gate: GateDecision | null;
  readonly currentHash: string;
  readonly requirements: GateRequirements | null;
  readonly note: string | null;
  /** for a proposal marked applying: whether its apply process is still alive */
  readonly liveness: string | null;
  /** each companion the bundle's DOTs require: in the bundle, applied on the same target, or missing */
  readonly companions: readonly CompanionStatus[];
}

/** Whether the process that started an apply still runs (only knowable on the same host). */
function applyLiveness(record: ProposalRecord, events: readonly LogRow[]): string | null {
  if (record.state !== 'applying') return null;
  const started = [...events].reverse().find((e) => e.event === 'apply_started');
  const live = attemptLiveness(started);
  if (!started || live.kind === 'unknown') return 'applying (started on another host; its liveness cannot be checked from here)';
  if (live.kind === 'alive') return `applying: the apply (pid ${live.pid}) is still running`;
  const what = (started.detail as { action?: unknown }).action === 'rollback' ? 'rollback' : 'apply';
  return `interrupted: the ${what} (pid ${live.pid}, started ${started.at}) is gone; dotctl ${what} ${record.id} again re-checks and completes it`;
}

/** Reads a proposal's status; the gate verdict needs the ledger's identity registry (else it is omitted with a note). */
export async function proposalStatus(given: EngineOptions, id: string): Promise<ProposalStatus> {
  return withLedgerOf(given, 'read', async (ledger) => {
    const o = await withTrustedTime(given, ledger, null);
    const record = await getProposalOrFail(ledger, id, ledgerName(o));
    const decisions = await ledger.listDecisions(id);
    const events = await ledger.readEvents({ proposalId: id });
    let gate: GateDecision | null = null;
    let note: string | null = null;
    let currentHash = record.hash;
    let requirements: GateRequirements | null = null;
    let companions: readonly CompanionStatus[] = [];
    try {
      const cat = await catalogueOf(o);
      // the stored target: status reads the ledger and catalogue, it does not connect anywhere
      const loaded = await resolveStored(cat, record, o.catalogueCache);
      currentHash = loaded.currentHash;
      requirements = loaded.requirements;
      companions = await companionStatus(ledger, loaded);
      const view = await readRegistry(ledger);
      const registry = view.entries.at(-1)?.registry;
      if (registry) {
        gate = decideGate({
          proposal: gateProposal(loaded),
          decisions,
          identities: registry.members,
          ...asOfDecisions(view, events),
          requirements: loaded.requirements,
          now: nowIso(o),
          applier: null,
          companions,
          events,
          drill: await drillFor(ledger, loaded.requirements, record.targetFingerprint),
        });
      } else note = 'the ledger has no identity registry (dotctl ledger init), so no gate decision can be made';
    } catch (err) {
      note = `gate not evaluated: ${(err as Error).message}`;
    }
    return { proposal: record, decisions, events, gate, currentHash, requirements, note, liveness: applyLiveness(record, events), companions };
  });
}
