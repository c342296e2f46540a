/**
 * The plan of an apply, built before anything runs: which steps are checks, which run outside
 * the SQL transaction, which inside it, which verify after COMMIT, and the reverse of each DOT.
 * Pure: a function of the bundle alone.
 */
import type { Section, Step } from '../../catalogue/schema.js';
import type { ValidDot } from '../../catalogue/validate.js';

/** One step of a DOT, where it sits in the DOT. */
export interface PlannedStep {
  readonly dot: ValidDot;
  readonly section: Section;
  readonly index: number;
  readonly step: Step;
}

/** How one DOT is undone: its rollback section, split the way it runs. */
export interface ReversePlan {
  readonly dot: ValidDot;
  /** restores, patches, commands and SQL marked non-transactional, first (a restore before the SQL that checks it) */
  readonly outside: readonly PlannedStep[];
  /** SQL run in one transaction of its own per DOT */
  readonly inTransaction: readonly PlannedStep[];
}

/** The ordered plan of a bundle. */
export interface ApplyPlan {
  /** hard stops then pre-checks, DOT by DOT */
  readonly checks: readonly PlannedStep[];
  /** archives, patches, commands, non-transactional SQL, in declared order, before the transaction */
  readonly outside: readonly PlannedStep[];
  /** transactional SQL of the diff */
  readonly inTransaction: readonly PlannedStep[];
  /** SQL post-verify, inside the same transaction */
  readonly verifyInTransaction: readonly PlannedStep[];
  /** post-verify that is not SQL (commands, files), after COMMIT */
  readonly verifyAfter: readonly PlannedStep[];
  /** the DOTs' rollback sections, DOTs in reverse order */
  readonly reverse: readonly ReversePlan[];
}

const inTx = (s: Step): boolean => s.kind === 'sql' && s.transactional !== false;

function stepsOf(dot: ValidDot, section: Section, keep: (s: Step) => boolean): PlannedStep[] {
  return dot.spec[section].flatMap((step, index) => (keep(step) ? [{ dot, section, index, step }] : []));
}

/** Builds the plan of a bundle (DOTs already in apply order). */
export function planApply(dots: readonly ValidDot[]): ApplyPlan {
  const all = (section: Section, keep: (s: Step) => boolean): PlannedStep[] => dots.flatMap((d) => stepsOf(d, section, keep));
  return {
    checks: dots.flatMap((d) => [...stepsOf(d, 'hard_stops', () => true), ...stepsOf(d, 'pre_check', () => true)]),
    outside: all('diff', (s) => !inTx(s)),
    inTransaction: all('diff', inTx),
    verifyInTransaction: all('post_verify', (s) => s.kind === 'sql'),
    verifyAfter: all('post_verify', (s) => s.kind !== 'sql'),
    reverse: [...dots].reverse().map((dot) => ({ dot, outside: stepsOf(dot, 'rollback', (s) => !inTx(s)), inTransaction: stepsOf(dot, 'rollback', inTx) })),
  };
}

/** The key a step is known by in the journal and to kill-point tests: `<DOT>/<section>/<index>`. */
export function stepKey(dotId: string, section: string, index: number): string {
  return `${dotId}/${section}/${index}`;
}
