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
  /**
   * Control groups: approvals that must come from members of a named group, with the laws that
   * ask for them. Absent when no cited law names a group (so a proposal's canonical JSON, and its
   * hash, stay what they were for laws without groups).
   */
  readonly groupApprovals?: readonly GroupRequirement[];
  /**
   * Hours within which a restore drill must have passed on the same target before the apply: set
   * only when an irreversible DOT of the bundle cites a law with `restore_drill_hours` (absent
   * otherwise, so the canonical JSON of other proposals stays what it was).
   */
  readonly restoreDrillHours?: number;
  /** requirement name → the law ids (or `risk:irreversible`, `risk:derived` when the diff's content makes it irreversible) that impose it */
  readonly sources: Readonly<Record<string, readonly string[]>>;
}

/** At least `min` valid approvals from members of `group`, asked by `sources`. */
export interface GroupRequirement {
  readonly group: string;
  readonly min: number;
  readonly sources: readonly string[];
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

/** The yes/no requirements a law can make, and the field of GateRequirements each sets. */
const FLAG_REQUIREMENTS = [
  ['dual_control', 'dualControl'],
  ['separation_of_duties', 'separationOfDuties'],
  ['archive_before_diff', 'archiveBeforeDiff'],
  ['rollback_required', 'rollbackRequired'],
  ['pre_check_required', 'preCheckRequired'],
  ['post_verify_required', 'postVerifyRequired'],
  ['action_log', 'actionLog'],
  ['registry_entry', 'registryEntry'],
  ['companions_applied', 'companionsApplied'],
] as const;

/** Requirements of a bundle of DOTs (one DOT is a bundle of one). */
export function gateRequirements(dots: readonly Dot[], laws: ReadonlyMap<string, Law>): GateRequirements {
  const r = emptyRequirements();
  const groups: GroupRequirement[] = [];
  const note = (req: string, src: string): void => {
    const list = r.sources[req] ?? [];
    r.sources[req] = list;
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
      for (const [key, field] of FLAG_REQUIREMENTS) {
        if (!q[key]) continue;
        r[field] = true;
        note(key, id);
      }
      if (q.approval_ttl_hours !== undefined) {
        r.approvalTtlHours = Math.min(r.approvalTtlHours, q.approval_ttl_hours);
        note('approval_ttl_hours', id);
      }
      for (const g of q.group_approvals ?? []) addGroup(groups, g.group, g.min, id);
    }
    // the label can only tighten: a diff that destroys makes the DOT irreversible whatever it says
    if (effectiveRisk(dot, laws).risk === 'irreversible') {
      for (const id of dot.laws) {
        const hours = laws.get(id)?.requires.restore_drill_hours;
        if (hours === undefined) continue;
        r.restoreDrillHours = Math.min(r.restoreDrillHours ?? hours, hours);
        note('restore_drill_hours', id);
      }
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
  if (groups.length > 0) {
    r.groupApprovals = groups;
    // a group approval is also an approval: the total can never be lower than what the groups ask
    const most = Math.max(...groups.map((g) => g.min));
    if (most > r.minApprovals) {
      r.minApprovals = most;
      for (const g of groups) if (g.min === most) for (const s of g.sources) note('min_approvals', s);
    }
  }
  return r;
}

/** Adds (or tightens) one group requirement: the strictest `min` per group wins, sources accumulate. */
function addGroup(groups: GroupRequirement[], group: string, min: number, source: string): void {
  const i = groups.findIndex((g) => g.group === group);
  const prev = groups[i];
  if (!prev) {
    groups.push({ group, min, sources: [source] });
    return;
  }
  groups[i] = { group, min: Math.max(prev.min, min), sources: prev.sources.includes(source) ? prev.sources : [...prev.sources, source] };
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
