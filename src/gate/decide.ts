/**
 * Gate decisions: pure functions of the proposal, its approvals/rejections, the identities,
 * the requirements of the laws and `now`. Every unmet requirement is spelled out.
 */
import type { DecisionRecord, LogRow, ProposalState } from '../model/records.js';
import { sha256Hex } from '../model/canonical.js';
import { addHours, CLOCK_SKEW_MS, isFutureDated } from '../model/time.js';
import type { GateRequirements } from '../catalogue/laws.js';
import { actsAs, type Identity, type Role } from './identities.js';
import { verifyStatement } from './signature.js';

/** What the gate needs to know about a proposal. */
export interface GateProposal {
  readonly id: string;
  /** the hash stored (and signed) when it was proposed */
  readonly hash: string;
  /** the hash recomputed now from the current DOT files, params and target */
  readonly currentHash: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly state: ProposalState;
  readonly signature: string | null;
  /** the canonical JSON stored with it (must hash to `hash`) */
  readonly canonical?: string;
}

/** How long a proposal may wait for its apply, from the (signed) time it was made. */
export const PROPOSAL_TTL_HOURS = 72;

/** Companion status for the gate: in the same bundle, applied on the target, or missing. */
export interface CompanionStatus {
  readonly dotId: string;
  readonly requiredBy: string;
  readonly status: 'in_bundle' | 'applied' | 'missing';
}

/** A requirement that is not met, in one sentence. */
export interface Unmet {
  readonly kind:
    | 'state'
    | 'proposal_expired'
    | 'future_dated'
    | 'hash_changed'
    | 'proposer_invalid'
    | 'rejected'
    | 'approvals_missing'
    | 'group_approvals_missing'
    | 'applier_not_operator'
    | 'applier_approved'
    | 'companion_missing'
    | 'restore_drill_missing'
    | 'ledger_tampered';
  readonly message: string;
}

/** An approval that does not count, and why. */
export interface Discounted {
  readonly actor: string;
  readonly reason: string;
}

/** The gate's verdict. */
export interface GateDecision {
  readonly kind: 'allow' | 'refuse';
  readonly approvers: readonly string[];
  readonly discounted: readonly Discounted[];
  readonly unmet: readonly Unmet[];
}

/** Everything a gate decision depends on. */
export interface GateInput {
  readonly proposal: GateProposal;
  readonly decisions: readonly DecisionRecord[];
  readonly identities: readonly Identity[];
  readonly requirements: GateRequirements;
  /**
   * the trusted clock's time; null when it is not known yet: everything but time is judged (a
   * refusal then holds at any time, so it may be given before the trusted clock is reached)
   */
  readonly now: string | null;
  /** who wants to apply (null for a status read) */
  readonly applier: Identity | null;
  readonly companions: readonly CompanionStatus[];
  /** the proposal's rows of dot_action_log, cross-checked against the stored records */
  readonly events?: readonly LogRow[];
  /**
   * the registry in force when a decision was made (its row of the log), by which its signature
   * and its signer's roles are judged; absent: `identities` (a key rotated or revoked later does
   * not void an earlier signature, and a key is never judged by a registry it was not in)
   */
  readonly identitiesFor?: (d: DecisionRecord) => readonly Identity[] | null;
  /** the registry in force when the proposal was made; absent: `identities` */
  readonly proposerIdentities?: readonly Identity[];
  /** the newest restore drill that passed on the proposal's target (null: none); not judged when absent */
  readonly drill?: DrillStatus | null;
}

/** A restore drill applied (and so passed) on a target: its proposal and the trusted time of its `applied` row. */
export interface DrillStatus {
  readonly proposalId: string;
  readonly at: string;
}

/**
 * The restore-drill law: an irreversible bundle is applied only when a drill passed on the same
 * target within the hours a cited law names. Without the trusted time (`now` null) only a drill
 * that never happened is judged, since that holds at any time. Pure.
 */
export function drillShortfall(req: GateRequirements, drill: DrillStatus | null | undefined, now: string | null): Unmet | null {
  const hours = req.restoreDrillHours;
  // undefined: not looked up (a caller that judges something else); null: looked up, none passed
  if (hours === undefined || drill === undefined) return null;
  const law = (req.sources.restore_drill_hours ?? []).join(', ') || 'restore_drill_hours';
  const way = 'apply a restore drill (DOT-PG-RESTORE-DRILL) on this target first, then apply this proposal again';
  if (!drill)
    return { kind: 'restore_drill_missing', message: `${law} requires a restore drill that passed on this target within ${hours} h before an irreversible change, and none ever passed here; ${way}` };
  if (now === null) return null;
  const until = addHours(drill.at, hours);
  if (now < until) return null;
  return {
    kind: 'restore_drill_missing',
    message: `${law} requires a restore drill that passed on this target within ${hours} h before an irreversible change, and the last one (${drill.proposalId}, ${drill.at}) is older; ${way}`,
  };
}

/**
 * What the hash-chained action log says that the stored records contradict: a rejection it
 * records but the decisions lack, an apply it records but the state denies, a canonical text
 * that no longer hashes to the proposal's hash. Pure.
 */
export function crossCheckLedger(p: GateProposal, decisions: readonly DecisionRecord[], events: readonly LogRow[]): Unmet[] {
  const out: Unmet[] = [];
  const tampered = (what: string): Unmet => ({ kind: 'ledger_tampered', message: `${what}: the ledger was tampered with; run dotctl log verify and restore it before going on` });
  if (p.canonical !== undefined && sha256Hex(p.canonical) !== p.hash) out.push(tampered(`the stored canonical JSON of ${p.id} no longer hashes to its hash`));
  for (const e of events) {
    if (e.event === 'rejected' && !decisions.some((d) => d.kind === 'reject' && d.actor === e.actor)) {
      out.push(tampered(`${e.actor} rejected ${p.id} (action log seq ${e.seq}) but that rejection is missing from the decisions`));
    }
  }
  const lifecycle = events.filter((e) => e.event === 'applied' || e.event === 'rolled_back');
  const last = lifecycle.at(-1);
  // after an `applied` row only a rollback (which starts with its own apply_started) moves the state
  const rollbackStarted = last !== undefined && events.some((e) => e.seq > last.seq && e.event === 'apply_started');
  if (last?.event === 'applied' && !rollbackStarted && p.state !== 'applied') {
    out.push(tampered(`the action log records ${p.id} as applied (seq ${last.seq}) but its stored state is ${p.state}`));
  }
  return out;
}

const byName = (ids: readonly Identity[], name: string): Identity | undefined => ids.find((i) => i.name === name);
const has = (i: Identity | undefined, role: Role): boolean => actsAs(i, role);
const sources = (r: GateRequirements, key: string): string => {
  const s = r.sources[key];
  return s && s.length > 0 ? ` (${s.join(', ')})` : '';
};

/** States from which a proposal may still be applied. */
export const APPLICABLE_STATES: readonly ProposalState[] = ['proposed', 'interrupted'];

/** Decides whether a proposal may be applied now (or, with no applier, whether it is ready). */
export function decideGate(input: GateInput): GateDecision {
  const { proposal: p, requirements: req, identities, now } = input;
  const unmet: Unmet[] = [];
  const discounted: Discounted[] = [];

  if (!APPLICABLE_STATES.includes(p.state)) {
    unmet.push({ kind: 'state', message: `proposal ${p.id} is ${p.state}; only a proposed (or interrupted) proposal can be applied` });
  }
  // expiry is computed from the signed creation time, never from a stored, unsigned column
  const proposalExpires = addHours(p.createdAt, PROPOSAL_TTL_HOURS);
  if (now !== null && now >= proposalExpires) {
    unmet.push({ kind: 'proposal_expired', message: `proposal ${p.id} expired at ${proposalExpires}; propose it again` });
  }
  // `now` is the trusted clock's (the ledger server's or the target's): a signed time beyond the
  // skew after it was made by a clock set forward, and would stretch every TTL judged from it
  if (now !== null && isFutureDated(p.createdAt, now)) {
    unmet.push({
      kind: 'future_dated',
      message: `proposal ${p.id} is dated ${p.createdAt}, more than ${CLOCK_SKEW_MS / 60_000} min in the future of the trusted clock (${now}); it was made with a clock set forward: propose it again`,
    });
  }
  const hashChanged = p.currentHash !== p.hash;
  if (hashChanged) {
    unmet.push({
      kind: 'hash_changed',
      message: `the DOT files, parameters or target changed since ${p.id} was proposed (hash ${p.hash.slice(0, 12)}… is now ${p.currentHash.slice(0, 12)}…); every approval is void; propose again`,
    });
  }
  const proposer = byName(input.proposerIdentities ?? identities, p.createdBy);
  if (!has(proposer, 'operator') && !has(proposer, 'automation')) {
    unmet.push({ kind: 'proposer_invalid', message: `proposer ${p.createdBy} was not an enabled operator (or automation) in the identity registry when it was proposed` });
  } else if (!p.signature || !verifyStatement(proposer!.publicKey, p.signature, 'propose', p.id, p.hash, p.createdAt)) {
    unmet.push({ kind: 'proposer_invalid', message: `the proposer's signature on ${p.id} does not verify against ${p.createdBy}'s key: the proposal record was tampered with or re-attributed` });
  }
  unmet.push(...crossCheckLedger(p, input.decisions, input.events ?? []));

  const approvers: string[] = [];
  const rejecters: string[] = [];
  for (const d of input.decisions) {
    const asOf = input.identitiesFor ? input.identitiesFor(d) : identities;
    const who = asOf ? byName(asOf, d.actor) : undefined;
    const counted = (reason: string | null): void => {
      if (reason) discounted.push({ actor: d.actor, reason });
    };
    if (!asOf) {
      counted(`${d.actor}'s ${d.kind === 'approve' ? 'approval' : 'rejection'} has no row in the action log, so no registry can vouch for it`);
      continue;
    }
    if (!who) {
      counted(`${d.actor} was not in the identity registry when the ${d.kind === 'approve' ? 'approval' : 'rejection'} was made`);
      continue;
    }
    if (!verifyStatement(who.publicKey, d.signature, d.kind, p.id, d.hashSigned, d.at)) {
      counted(`the signature of ${d.actor}'s ${d.kind === 'approve' ? 'approval' : 'rejection'} does not verify for this proposal (wrong key, other proposal or tampered)`);
      continue;
    }
    if (who.disabled) {
      counted(`${d.actor} is disabled`);
      continue;
    }
    if (!has(who, 'reviewer')) {
      counted(who.roles.includes('automation') ? `${d.actor} is an automation identity, which never approves` : `${d.actor} is not a reviewer`);
      continue;
    }
    // a rejection blocks whatever its date (refusing it would let a skewed clock unblock)
    if (d.kind === 'reject') {
      if (!rejecters.includes(d.actor)) rejecters.push(d.actor);
      continue;
    }
    if (now !== null && isFutureDated(d.at, now))
      counted(`${d.actor}'s approval is dated ${d.at}, more than ${CLOCK_SKEW_MS / 60_000} min in the future of the trusted clock (${now}); it was signed with a clock set forward and does not count`);
    else if (d.actor === p.createdBy) counted(`${d.actor} proposed it and may not approve it`);
    else if (d.hashSigned !== p.currentHash) counted(`${d.actor} approved hash ${d.hashSigned.slice(0, 12)}…, not the current one`);
    else if (now !== null && now >= addHours(d.at, req.approvalTtlHours)) counted(`${d.actor}'s approval expired at ${addHours(d.at, req.approvalTtlHours)}`);
    else if (approvers.includes(d.actor)) counted(`${d.actor} already approved; one reviewer counts once`);
    else approvers.push(d.actor);
  }
  for (const r of rejecters) unmet.push({ kind: 'rejected', message: `${r} rejected ${p.id}; a rejection blocks it` });

  if (approvers.length < req.minApprovals) {
    const missing = req.minApprovals - approvers.length;
    const dual = req.dualControl ? `dual control${sources(req, 'dual_control')}: ` : '';
    unmet.push({
      kind: 'approvals_missing',
      message: `${dual}${req.minApprovals} approval(s) from distinct reviewers required${sources(req, 'min_approvals')}, ${approvers.length} valid (${missing} missing)${approvers.length > 0 ? `; approved by ${approvers.join(', ')}` : ''}; ${p.createdBy} may not approve`,
    });
  }

  unmet.push(...groupShortfalls(req, approvers, identities));

  const a = input.applier;
  if (a) {
    if (!has(a, 'operator')) {
      const why = a.roles.includes('automation') ? 'is an automation identity, which drafts proposals but never applies them' : 'is not an enabled operator';
      unmet.push({ kind: 'applier_not_operator', message: `${a.name} ${why} and may not apply` });
    }
    if (input.decisions.some((d) => d.actor === a.name && d.kind === 'approve')) {
      unmet.push({ kind: 'applier_approved', message: `${a.name} approved ${p.id} and may not also apply it (separation of duties${sources(req, 'separation_of_duties')})` });
    }
  }
  for (const c of input.companions) {
    if (c.status === 'missing') {
      unmet.push({
        kind: 'companion_missing',
        message: `companion ${c.dotId} of ${c.requiredBy} is neither in this bundle nor applied on the target${sources(req, 'companions_applied')}; bundle it or apply it first`,
      });
    }
  }
  const drill = drillShortfall(req, input.drill, now);
  if (drill) unmet.push(drill);
  return { kind: unmet.length === 0 ? 'allow' : 'refuse', approvers, discounted, unmet };
}

/**
 * Control groups: for each group a law names, whether enough of the valid approvers belong to it.
 * `approvers` are the reviewers whose approvals already count (valid, distinct, not the proposer).
 * A group with no enabled reviewer in it is named as such, so the way out is clear. Pure.
 */
export function groupShortfalls(req: GateRequirements, approvers: readonly string[], identities: readonly Identity[]): Unmet[] {
  const out: Unmet[] = [];
  for (const g of req.groupApprovals ?? []) {
    const members = identities.filter((i) => has(i, 'reviewer') && (i.groups ?? []).includes(g.group)).map((i) => i.name);
    const counted = approvers.filter((a) => members.includes(a));
    if (counted.length >= g.min) continue;
    const from = g.sources.length > 0 ? ` (${g.sources.join(', ')})` : '';
    const who =
      members.length === 0
        ? `no enabled reviewer belongs to group ${g.group}; add ${g.group} to the groups: of a reviewer by a registry change (dotctl identities change)`
        : `members: ${members.join(', ')}`;
    out.push({
      kind: 'group_approvals_missing',
      message: `control group ${g.group}${from}: ${g.min} approval(s) from its members required, ${counted.length} valid (${g.min - counted.length} missing)${counted.length > 0 ? `; approved by ${counted.join(', ')}` : ''}; ${who}`,
    });
  }
  return out;
}

/** Why `who` may not approve/reject `p` now, or null when they may. */
export function checkDecider(p: GateProposal, who: Identity, kind: 'approve' | 'reject', prior: readonly DecisionRecord[], now: string): string | null {
  if (who.disabled) return `${who.name} is disabled in the identity registry`;
  if (who.roles.includes('automation')) return `${who.name} is an automation identity; automation drafts proposals and never ${kind === 'approve' ? 'approves' : 'rejects'} them`;
  if (!who.roles.includes('reviewer')) return `${who.name} is not a reviewer; only reviewers ${kind}`;
  if (!['proposed', 'interrupted'].includes(p.state)) return `proposal ${p.id} is ${p.state} and can no longer be ${kind === 'approve' ? 'approved' : 'rejected'}`;
  if (now >= addHours(p.createdAt, PROPOSAL_TTL_HOURS)) return `proposal ${p.id} expired at ${addHours(p.createdAt, PROPOSAL_TTL_HOURS)}`;
  if (kind === 'approve') {
    if (who.name === p.createdBy) return `${who.name} proposed ${p.id} and may not approve it`;
    if (p.currentHash !== p.hash) return `the DOT files, parameters or target changed since ${p.id} was proposed; propose again`;
    if (prior.some((d) => d.kind === 'approve' && d.actor === who.name && d.hashSigned === p.hash && (d.expiresAt === null || now < d.expiresAt))) {
      return `${who.name} has already approved ${p.id}`;
    }
  }
  return null;
}
