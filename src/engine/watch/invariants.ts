/**
 * The standing checks of applied proposals: each DOT's `invariants` and its post-verify checks
 * marked `standing`, run from the content frozen in the proposal with its stored parameters —
 * never today's files — against the target, under the pre-check rules: SQL in a READ ONLY
 * transaction that is rolled back (one that errs ends it and the next checks run in a fresh
 * one, so it does not stop them), commands only as the admitted DOT marked them read-only.
 */
import { bindForExecution, bindQuery, resolveSecrets, type SecretValues } from '../../catalogue/bind.js';
import { stepsIn, type Step } from '../../catalogue/schema.js';
import type { ValidDot } from '../../catalogue/validate.js';
import type { BoundParams } from '../../catalogue/params.js';
import { checkCommand, checkFile, checkHost, judgeRows, type CheckResult } from '../../exec/checks.js';
import { sqlErrorText } from '../../exec/sql-error.js';
import { libpqEnv, readServerIdentity, serverFingerprint, targetFingerprint, withTarget, withTransaction, type TargetAddress, type TargetSession } from '../../exec/target.js';
import type { ProposalRecord } from '../../model/records.js';
import type { DraftSpec, WatchCheck, WatchStatus } from './types.js';

/** An applied proposal re-created from its frozen content, as the watch needs it. */
export interface WatchedProposal {
  readonly record: ProposalRecord;
  readonly dots: readonly ValidDot[];
  readonly params: BoundParams;
  /** why its frozen content cannot be re-created (then nothing of it runs) */
  readonly error: string | null;
}

/** One standing check of a DOT: where it sits and the step. */
interface Standing {
  readonly section: 'invariants' | 'post_verify';
  readonly index: number;
  readonly step: Step;
}

/** A DOT's standing checks: its invariants, then its post-verify checks marked standing. */
export function standingChecks(dot: ValidDot): Standing[] {
  const out: Standing[] = stepsIn(dot.spec, 'invariants').map((step, index) => ({ section: 'invariants' as const, index, step }));
  dot.spec.post_verify.forEach((step, index) => {
    if ('standing' in step && step.standing === true) out.push({ section: 'post_verify', index, step });
  });
  return out;
}

const clip = (s: string, n = 300): string => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
};

const statusOf = (r: CheckResult): WatchStatus => (r.outcome === 'passed' ? 'holding' : r.outcome === 'not_run' ? 'not_run' : 'failing');

/** The proposals to draft from a failing check's rows: one per distinct set of mapped values. */
function draftsFor(step: Step, rows: readonly Record<string, unknown>[], p: WatchedProposal, dot: ValidDot): DraftSpec[] {
  if (step.kind !== 'sql' || !step.remedy) return [];
  const map = step.remedy.params_from_columns;
  const inherited: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.record.params)) if (!(k in map) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) inherited[k] = String(v);
  const seen = new Set<string>();
  const out: DraftSpec[] = [];
  for (const row of rows) {
    const fromRows: Record<string, string> = {};
    for (const [param, column] of Object.entries(map)) {
      const v = row[column];
      if (v === null || v === undefined) break;
      fromRows[param] = String(v);
    }
    if (Object.keys(fromRows).length !== Object.keys(map).length) continue;
    const key = JSON.stringify(fromRows);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ dotId: step.remedy.dot ?? dot.spec.id, fromRows, inherited });
  }
  return out;
}

/** Runs one standing check; never throws (a check that throws fails, in one sentence). */
async function runStanding(
  session: TargetSession,
  p: WatchedProposal,
  dot: ValidDot,
  s: Standing,
  secrets: SecretValues,
  seen: Map<string, { rows: Record<string, unknown>[]; fields: { name: string }[] }>,
): Promise<{ r: CheckResult; rows: readonly Record<string, unknown>[] }> {
  const step = s.step;
  try {
    if (step.kind === 'sql') {
      const q = bindQuery(step.sql, p.params, secrets);
      try {
        // A on fifty schemas asks fifty times whether the dump role can enter every schema: once per cycle is enough
        const key = `${q.text}\0${JSON.stringify(q.values)}`;
        let res = seen.get(key);
        if (!res) {
          res = await session.client.query({ text: q.text, values: q.values, queryMode: 'extended' });
          seen.set(key, res);
        }
        return { r: judgeRows(step.expect, res.rows, res.fields), rows: res.rows };
      } catch (err) {
        if (session.connectionError()) throw err;
        // the error aborted the READ ONLY transaction: a fresh one for the checks after it
        await session.client.query('ROLLBACK');
        await session.client.query('BEGIN READ ONLY');
        return { r: { outcome: 'error', observed: clip(sqlErrorText(err, q.text)), expected: 'the query to run' }, rows: [] };
      }
    }
    const bound = bindForExecution(step, p.params, secrets);
    switch (bound.kind) {
      case 'file':
        return { r: await checkFile(bound), rows: [] };
      case 'host':
        return { r: checkHost(bound), rows: [] };
      case 'command':
        // validation admits only read_only commands here; a frozen DOT from before that rule is not run unattended
        if (step.kind === 'command' && step.read_only !== true) return { r: { outcome: 'not_run', observed: 'not run: the DOT does not mark this command read_only', expected: '' }, rows: [] };
        return { r: await checkCommand(bound, libpqEnv(session.address)), rows: [] };
      default:
        return { r: { outcome: 'error', observed: `a ${bound.kind} step is not a check`, expected: 'a check' }, rows: [] };
    }
  } catch (err) {
    if (session.connectionError()) throw err;
    return { r: { outcome: 'error', observed: `the check could not run: ${clip((err as Error).message ?? String(err))}`, expected: `${dot.spec.id} to be checkable` }, rows: [] };
  }
}

/** The record of one check of a proposal. */
function checkOf(p: WatchedProposal, dot: ValidDot | null, id: string, name: string, status: WatchStatus, observed: string, expected: string, drafts?: DraftSpec[]): WatchCheck {
  return {
    id,
    kind: 'invariant',
    name,
    status,
    observed,
    expected,
    proposalId: p.record.id,
    dotId: dot?.spec.id ?? p.record.dotIds.join('+'),
    actionCode: dot?.spec.action_code ?? null,
    proposalHash: p.record.hash,
    ...(drafts && drafts.length > 0 ? { drafts } : {}),
  };
}

const idOf = (p: WatchedProposal, dot: ValidDot, s: Standing): string => `${p.record.id}/${dot.spec.id}/${s.section}[${s.index}]`;

/**
 * Runs every standing check of `proposals` (applied, with standing checks) against the target in
 * one session. The target itself is a check: unreachable, it fails in one sentence and the
 * invariants are not run (their last known state stands). Proposals applied on another server or
 * database are named in `notes`.
 */
export async function runInvariants(proposals: readonly WatchedProposal[], address: TargetAddress, env: NodeJS.ProcessEnv, notes: string[]): Promise<WatchCheck[]> {
  const label = targetFingerprint(address);
  const targetCheck = (status: WatchStatus, observed: string): WatchCheck => ({
    id: `target:${label}`,
    kind: 'target',
    name: `target ${label} reachable`,
    status,
    observed,
    expected: 'a connection to the server the proposals were applied on',
    proposalId: null,
    dotId: null,
    actionCode: null,
    proposalHash: null,
  });
  const notRun = (why: string): WatchCheck[] =>
    proposals.flatMap((p) => p.dots.flatMap((dot) => standingChecks(dot).map((s) => checkOf(p, dot, idOf(p, dot, s), s.step.name, 'not_run', `not run: ${why}`, ''))));
  try {
    return await withTarget(address, {}, async (session) => {
      const fp = serverFingerprint(await readServerIdentity(session.client));
      const out: WatchCheck[] = [targetCheck('holding', `connected (${fp})`)];
      const elsewhere = proposals.filter((p) => p.record.targetFingerprint !== fp);
      if (elsewhere.length > 0)
        notes.push(
          `${elsewhere.length} applied proposal(s) with standing checks are on another server or database than ${label} (${elsewhere.map((p) => p.record.id).join(', ')}); run the watch with --target (or --env) for theirs`,
        );
      const seen = new Map<string, { rows: Record<string, unknown>[]; fields: { name: string }[] }>();
      await withTransaction(session.client, { readOnly: true, rollback: true }, async () => {
        for (const p of proposals.filter((x) => x.record.targetFingerprint === fp)) {
          if (p.error !== null) {
            out.push(checkOf(p, null, `${p.record.id}/frozen`, `frozen content of ${p.record.id}`, 'failing', `its invariants cannot run: ${p.error}`, 'the frozen content to re-create its DOTs'));
            continue;
          }
          let secrets: SecretValues = new Map();
          try {
            secrets = resolveSecrets(p.params, env);
          } catch {
            // a check that needs a missing secret fails on its own, naming the variable
          }
          for (const dot of p.dots) {
            for (const s of standingChecks(dot)) {
              const { r, rows } = await runStanding(session, p, dot, s, secrets, seen);
              const status = statusOf(r);
              out.push(checkOf(p, dot, idOf(p, dot, s), s.step.name, status, r.observed, r.expected, status === 'failing' ? draftsFor(s.step, rows, p, dot) : undefined));
            }
          }
        }
      });
      return out;
    });
  } catch (err) {
    const msg = clip((err as Error).message ?? String(err));
    return [targetCheck('failing', msg), ...notRun(`the target ${label} could not be checked`)];
  }
}
