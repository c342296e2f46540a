/**
 * Runs the read-only checks of a bundle (hard stops, pre-checks) and records what they saw.
 * SQL runs inside a READ ONLY transaction; nothing on the target changes.
 */
import type { CheckEvidence } from '../model/evidence.js';
import type { ValidDot } from '../catalogue/validate.js';
import type { BoundParams } from '../catalogue/params.js';
import { bindForExecution, bindQuery, type SecretValues } from '../catalogue/bind.js';
import { checkCommand, checkFile, checkHost, checkSql, type CheckResult } from './checks.js';
import { libpqEnv, withTransaction, type TargetSession } from './target.js';

/** Sections that are checks run before any change. */
export type CheckSection = 'hard_stops' | 'pre_check';

/** One check's evidence with what was expected. */
export interface CheckRecord extends CheckEvidence {
  readonly expected: string;
}

/** Runs one check step of a DOT. */
export async function runCheck(
  session: TargetSession | null,
  dot: ValidDot,
  section: 'hard_stops' | 'pre_check' | 'post_verify',
  index: number,
  params: BoundParams,
  secrets: SecretValues,
  cwd?: string,
): Promise<CheckResult> {
  const step = dot.spec[section][index];
  if (!step) throw new RangeError(`no step ${section}[${index}] in ${dot.spec.id}`);
  const bound = bindForExecution(step, params, secrets);
  switch (bound.kind) {
    case 'sql': {
      if (!session) return { outcome: 'error', observed: 'no target connection', expected: 'a target' };
      const q = bindQuery(step.kind === 'sql' ? step.sql : '', params, secrets);
      return checkSql(session.client, bound, q.text, q.values);
    }
    case 'file':
      return checkFile(bound);
    case 'host':
      return checkHost(bound);
    case 'command':
      return checkCommand(bound, session ? libpqEnv(session.address) : {}, cwd);
    default:
      return { outcome: 'error', observed: `a ${bound.kind} step is not a check`, expected: 'a check step' };
  }
}

/**
 * Runs every hard stop and pre-check of the bundle read-only, in order, before any approval (the
 * proposal's evidence). SQL checks share one READ ONLY transaction that is rolled back; commands
 * run only when the admitted DOT marks them `read_only`, else they are recorded as not run.
 * Without a session, SQL checks are skipped.
 */
export async function collectEvidence(
  session: TargetSession | null,
  dots: readonly ValidDot[],
  params: BoundParams,
  secrets: SecretValues,
  sections: readonly CheckSection[] = ['hard_stops', 'pre_check'],
): Promise<CheckRecord[]> {
  const out: CheckRecord[] = [];
  const run = async (): Promise<void> => {
    for (const dot of dots) {
      for (const section of sections) {
        for (let i = 0; i < dot.spec[section].length; i += 1) {
          const step = dot.spec[section][i];
          if (!step) continue;
          if (step.kind === 'command' && step.read_only !== true) {
            // nothing a reviewer has not approved runs before approval unless the admitted DOT says it only reads
            out.push({ dotId: dot.spec.id, section, index: i, name: step.name, outcome: 'not_run', observed: 'not run before approval: the DOT does not mark this command read_only', expected: '' });
            continue;
          }
          if (!session && step.kind === 'sql') {
            out.push({ dotId: dot.spec.id, section, index: i, name: step.name, outcome: 'error', observed: 'skipped: no target (offline)', expected: '' });
            continue;
          }
          const guarded = session !== null && step.kind === 'sql';
          if (guarded) await session.client.query('SAVEPOINT dotctl_check');
          const r = await runCheck(session, dot, section, i, params, secrets);
          if (guarded) await session.client.query(r.outcome === 'error' ? 'ROLLBACK TO SAVEPOINT dotctl_check' : 'RELEASE SAVEPOINT dotctl_check');
          out.push({ dotId: dot.spec.id, section, index: i, name: step.name, outcome: r.outcome, observed: r.observed, expected: r.expected });
        }
      }
    }
  };
  if (session) {
    // a failing SQL check aborts the transaction; each runs under a savepoint so later checks still run
    await withTransaction(session.client, { readOnly: true, rollback: true }, run);
  } else {
    await run();
  }
  return out;
}
