/**
 * What the laws a DOT cites require of it, plus what its risk class implies. The gate
 * requirements of a bundle are the strictest of its DOTs. Pure.
 */
import { effectiveRisk } from './risk.js';
import type { Dot, Law } from './schema.js';

/** Default approval lifetime when no law shortens it. */
export const DEFAULT_APPROVAL_TTL_HOURS = 24;

/** Effective, machine-checkable requirements, with the laws each one comes from. */
export interface GateRequirements {
  readonly minApprovals: number;
  readonly dualControl: boolean;
  readonly separationOfDuties: boolean;
  readonly archiveBeforeDiff: boolean;
  readonly rollbackRequired: boolean;
  readonly preCheckRequired: boolean;
  readonly postVerifyRequired: boolean;
  readonly actionLog: boolean;
  readonly registryEntry: boolean;
  readonly companionsApplied: boolean;
  readonly approvalTtlHours: number;
  /** requirement name → the law ids (or `risk:irreversible`, `risk:derived` when the diff's content makes it irreversible) that impose it */
  readonly sources: Readonly<Record<string, readonly string[]>>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function emptyRequirements(): Mutable<GateRequirements> & { sources: Record<string, string[]> } {
  return {
    minApprovals: 1,
    dualControl: false,
    separationOfDuties: true,
    archiveBeforeDiff: false,
    rollbackRequired: false,
    preCheckRequired: false,
    postVerifyRequired: false,
    actionLog: true,
    registryEntry: false,
    companionsApplied: true,
    approvalTtlHours: DEFAULT_APPROVAL_TTL_HOURS,
    sources: {},
  };
}

/** Requirements of a bundle of DOTs (one DOT is a bundle of one). */
export function gateRequirements(dots: readonly Dot[], laws: ReadonlyMap<string, Law>): GateRequirements {
  const r = emptyRequirements();
  const note = (req: string, src: string): void => {
    const list = (r.sources[req] ??= []);
    if (!list.includes(src)) list.push(src);
  };
  for (const dot of dots) {
    for (const id of dot.laws) {
      const law = laws.get(id);
      if (!law) continue;
      const q = law.requires;
      if (q.min_approvals !== undefined) {
        note('min_approvals', id);
        r.minApprovals = Math.max(r.minApprovals, q.min_approvals);
      }
      if (q.dual_control) (r.dualControl = true), note('dual_control', id);
      if (q.separation_of_duties) (r.separationOfDuties = true), note('separation_of_duties', id);
      if (q.archive_before_diff) (r.archiveBeforeDiff = true), note('archive_before_diff', id);
      if (q.rollback_required) (r.rollbackRequired = true), note('rollback_required', id);
      if (q.pre_check_required) (r.preCheckRequired = true), note('pre_check_required', id);
      if (q.post_verify_required) (r.postVerifyRequired = true), note('post_verify_required', id);
      if (q.action_log) (r.actionLog = true), note('action_log', id);
      if (q.registry_entry) (r.registryEntry = true), note('registry_entry', id);
      if (q.companions_applied) (r.companionsApplied = true), note('companions_applied', id);
      if (q.approval_ttl_hours !== undefined) {
        r.approvalTtlHours = Math.min(r.approvalTtlHours, q.approval_ttl_hours);
        note('approval_ttl_hours', id);
      }
    }
    // the label can only tighten: a diff that destroys makes the DOT irreversible whatever it says
    if (effectiveRisk(dot, laws).risk === 'irreversible') {
      const src = dot.risk === 'irreversible' ? 'risk:irreversible' : 'risk:derived';
      r.dualControl = true;
      r.archiveBeforeDiff = true;
      r.rollbackRequired = true;
      note('dual_control', src);
      note('archive_before_diff', src);
      note('rollback_required', src);
    }
  }
  if (r.dualControl) {
    r.minApprovals = Math.max(r.minApprovals, 2);
    note('min_approvals', r.sources.dual_control?.[0] ?? 'dual_control');
  }
  return r;
}

/** What the laws a DOT cites ask of its admission: the most reviewers any of them names. */
export interface AdmissionLaw {
  /** 0 when no cited law says anything (the defaults apply) */
  readonly minimum: number;
  /** the law ids that set it */
  readonly sources: readonly string[];
}

/** The admission requirement the laws a DOT cites impose (the strictest of them). */
export function admissionLaw(dot: Dot, laws: ReadonlyMap<string, Law>): AdmissionLaw {
  let minimum = 0;
  const sources: string[] = [];
  for (const id of dot.laws) {
    const n = laws.get(id)?.requires.admission_approvals;
    if (n === undefined) continue;
    sources.push(id);
    minimum = Math.max(minimum, n);
  }
  return { minimum, sources };
}
