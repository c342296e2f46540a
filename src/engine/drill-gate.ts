/**
 * The restore drills the gate may count: from the ledger, the newest proposal applied on a
 * target whose run restored a dump and passed (its last `restore_drill` step row before the
 * `applied` row is `step_passed`), dated by that `applied` row — a time the trusted clock wrote.
 */
import type { DrillStatus } from '../gate/decide.js';
import type { LedgerStore } from '../ledger/port.js';

/** The newest passing restore drill on `fingerprint`, or null. */
export async function lastPassingDrill(ledger: LedgerStore, fingerprint: string): Promise<DrillStatus | null> {
  let best: DrillStatus | null = null;
  for (const p of await ledger.listProposals('applied')) {
    if (p.targetFingerprint !== fingerprint) continue;
    const events = await ledger.readEvents({ proposalId: p.id });
    const applied = events.filter((e) => e.event === 'applied').at(-1);
    if (!applied) continue;
    const drill = events.filter((e) => e.seq < applied.seq && (e.event === 'step_passed' || e.event === 'step_failed') && (e.detail as { kind?: unknown }).kind === 'restore_drill').at(-1);
    if (drill?.event !== 'step_passed') continue;
    if (!best || applied.at > best.at) best = { proposalId: p.id, at: applied.at };
  }
  return best;
}

/** The drill status the gate needs for `requirements`: only looked up when a law asks for a drill. */
export async function drillFor(ledger: LedgerStore, requirements: { readonly restoreDrillHours?: number }, fingerprint: string | null): Promise<DrillStatus | null | undefined> {
  if (requirements.restoreDrillHours === undefined) return undefined;
  return fingerprint === null ? null : lastPassingDrill(ledger, fingerprint);
}
