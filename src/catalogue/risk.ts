/**
 * Risk derived from what a DOT's diff does, not from its `risk:` label: a destructive
 * statement, SQL that cannot be parsed, or a command no cited law declares reversible makes
 * the DOT irreversible. The label can only make the gate stricter. Pure.
 */
import { analysisOf } from './sql-memo.js';
import type { Dot, Law } from './schema.js';

/** One reason the diff makes a DOT irreversible, with where it is. */
export interface RiskFinding {
  /** index of the step in `diff` */
  readonly index: number;
  /** character offset in the step's SQL, when the reason is a statement */
  readonly offset: number | null;
  readonly reason: string;
}

/** The risk a DOT carries: its label tightened by what its diff does. */
export interface EffectiveRisk {
  readonly risk: 'reversible' | 'irreversible';
  /** why the content makes it irreversible (empty when only the label does, or nothing does) */
  readonly reasons: readonly string[];
}

/** Command names (argv[0] base names) the DOT's laws declare reversible. */
export function reversibleCommands(spec: Dot, laws: ReadonlyMap<string, Law>): ReadonlySet<string> {
  return new Set(spec.laws.flatMap((id) => laws.get(id)?.reversible_commands ?? []));
}

const baseName = (path: string): string => path.split('/').pop() ?? path;

/** Every step of the diff that makes the DOT irreversible, and why. */
export function riskFindings(spec: Dot, laws: ReadonlyMap<string, Law>): RiskFinding[] {
  const allowed = reversibleCommands(spec, laws);
  const out: RiskFinding[] = [];
  spec.diff.forEach((step, index) => {
    const where = `diff[${index}] "${step.name}"`;
    if (step.kind === 'sql') {
      const a = analysisOf(step.sql);
      if (a.kind === 'syntax_error') {
        out.push({ index, offset: a.position, reason: `${where}: its SQL cannot be parsed, so it cannot be classified` });
        return;
      }
      for (const s of a.statements) {
        if (s.destructive) out.push({ index, offset: s.start, reason: `${where}: ${s.label} — ${s.destructive}` });
      }
    } else if (step.kind === 'command') {
      const name = baseName(step.argv[0] ?? '');
      if (!allowed.has(name)) {
        out.push({ index, offset: null, reason: `${where}: the command ${name} cannot be classified and no law of this DOT lists it in reversible_commands` });
      }
    }
  });
  return out;
}

/** The effective risk of a DOT: irreversible when its label or its diff says so. */
export function effectiveRisk(spec: Dot, laws: ReadonlyMap<string, Law>): EffectiveRisk {
  const reasons = riskFindings(spec, laws).map((f) => f.reason);
  return { risk: spec.risk === 'irreversible' || reasons.length > 0 ? 'irreversible' : 'reversible', reasons };
}
