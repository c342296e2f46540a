/**
 * A watcher that drafts its own fix: a failing standing check whose DOT names a `remedy` (A's
 * "USAGE on every schema the backup dumps" names A itself) becomes a proposal of that DOT per
 * failing row — the new schema and its owner — with the other parameters of the proposal whose
 * check failed, proposed by the automation identity with the failing check as its evidence. It is
 * only proposed: reviewers approve it and an operator applies it (the gate refuses automation
 * both). The same failure is never drafted twice: a proposal of the same DOT, target and row
 * values that is pending, applied, rejected or withdrawn stands for it.
 */
import type { ProposalRecord, ProposalState } from '../../model/records.js';
import { DotctlError, GateError } from '../../model/errors.js';
import { findDot } from '../../catalogue/bundle.js';
import { proposeBundle } from '../governance.js';
import { admissionJudges, checkAdmitted } from '../admission.js';
import { catalogueOf, ledgerName, withLedgerOf, type EngineOptions } from '../options.js';
import { currentRegistry, readRegistry } from '../registry.js';
import type { WatchCheck, WatchDraft } from './types.js';

/** States in which an earlier draft still answers the same failure (not rolled back, failed or expired). */
const ANSWERED: readonly ProposalState[] = ['proposed', 'applying', 'interrupted', 'applied', 'needs_attention', 'rejected', 'withdrawn'];

/** Whether `p` is a proposal of `dotId` on `target` with the row values `fromRows`. */
function sameDraft(p: ProposalRecord, dotId: string, target: string | null, fromRows: Readonly<Record<string, string>>): boolean {
  return p.dotIds.length === 1 && p.dotIds[0] === dotId && p.targetFingerprint === target && ANSWERED.includes(p.state) && Object.entries(fromRows).every(([k, v]) => String(p.params[k]) === v);
}

/**
 * Drafts the remedies of the failing checks that have one and were not drafted before; never
 * throws for one draft. `tried` holds the drafts that failed in this process (not retried until
 * their check holds again); a remedy DOT whose content is not admitted is reported without
 * proposing, so a watch run from cron does not log a refusal every minute.
 */
export async function draftRemedies(o: EngineOptions, failing: readonly WatchCheck[], at: string, tried: Set<string>): Promise<WatchDraft[]> {
  const wanted = failing.filter((c) => c.status === 'failing' && (c.drafts?.length ?? 0) > 0);
  if (wanted.length === 0) return [];
  const { proposals, byId } = await withLedgerOf(o, 'read', async (ledger) => {
    const all = [...(await ledger.listProposals())];
    return { proposals: all, byId: new Map(all.map((p) => [p.id, p])) };
  });
  const out: WatchDraft[] = [];
  for (const c of wanted) {
    const target = c.proposalId === null ? null : (byId.get(c.proposalId)?.targetFingerprint ?? null);
    for (const d of c.drafts ?? []) {
      const key = `${c.id}\0${d.dotId}\0${JSON.stringify(d.fromRows)}`;
      if (tried.has(key) || proposals.some((p) => sameDraft(p, d.dotId, target, d.fromRows))) continue;
      let params: Record<string, string> = { ...d.fromRows };
      try {
        const cat = await catalogueOf(o);
        const dot = findDot(cat, d.dotId);
        const unadmitted = await withLedgerOf(o, 'read', async (ledger) => {
          const view = await readRegistry(ledger);
          return checkAdmitted(ledger, cat, [dot], await admissionJudges(ledger, view, currentRegistry(view, ledgerName(o)).registry.members), at);
        });
        if (unadmitted[0]) throw new GateError(unadmitted[0].message);
        // the failing proposal's values for what this DOT declares; the row's values win
        const inherited = Object.fromEntries(Object.entries(d.inherited).filter(([k]) => k in dot.spec.params && dot.spec.params[k]?.type !== 'secret'));
        params = { ...inherited, ...d.fromRows };
        const r = await proposeBundle(
          o,
          [d.dotId],
          Object.entries(params).map(([k, v]) => `${k}=${v}`),
          {
            trigger: { check: c.id, name: c.name, observed: c.observed, expected: c.expected, failing_proposal: c.proposalId, seen_at: at },
          },
        );
        out.push({ check: c.id, dotId: d.dotId, params, proposalId: r.id, error: null });
        const made = await withLedgerOf(o, 'read', (l) => l.getProposal(r.id));
        if (made) proposals.push(made);
      } catch (err) {
        tried.add(key);
        const msg = err instanceof DotctlError ? err.message : `internal error: ${(err as Error).message}`;
        out.push({ check: c.id, dotId: d.dotId, params, proposalId: null, error: `could not draft ${d.dotId} (${Object.values(d.fromRows).join(', ')}): ${msg}` });
      }
    }
  }
  return out;
}
