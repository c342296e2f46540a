/**
 * Withdrawing a proposal that will not be applied (stale, superseded by another): an operator —
 * its proposer or another — signs the withdrawal, the proposal moves from `proposed` to
 * `withdrawn` by compare-and-set, and the log records who, why and the signature. A withdrawn
 * proposal can never be applied; nothing on the target is touched.
 */
import { GateError, InputError } from '../model/errors.js';
import { signStatement } from '../gate/signature.js';
import { eventFor, getProposalOrFail, resolveStored } from './governance.js';
import { catalogueOf, ledgerName, nowIso, signerOf, withLedgerOf, type EngineOptions } from './options.js';
import { actorFrom } from './registry.js';
import { actsAs } from '../gate/identities.js';

/** What a withdrawal reports. */
export interface WithdrawResult {
  readonly id: string;
  readonly state: 'withdrawn';
  readonly actor: string;
  readonly reason: string;
  readonly supersededBy: string | null;
}

/** Withdraws proposal `id` (state `proposed` only), giving `reason` and optionally the proposal that supersedes it. */
export async function withdrawProposal(o: EngineOptions, id: string, reason: string, supersededBy: string | null = null): Promise<WithdrawResult> {
  if (reason.trim() === '') throw new InputError('a withdrawal needs a reason: pass --reason TEXT');
  const cat = await catalogueOf(o);
  const key = await signerOf(o);
  return withLedgerOf(o, 'write', async (ledger) => {
    const { me } = await actorFrom(ledger, ledgerName(o), key);
    const p = await resolveStored(cat, await getProposalOrFail(ledger, id, ledgerName(o)), o.catalogueCache);
    const refuse = async (why: string): Promise<never> => {
      await ledger.appendEvent(eventFor(o, me.name, p.record, p.dots, 'refused', 'refused', { action: 'withdraw', reason: why }));
      throw new GateError(`withdraw of ${id} refused: ${why}`, { context: { proposal: id } });
    };
    if (!actsAs(me, 'operator')) await refuse(`${me.name} is not an operator; an operator (its proposer or another) withdraws a proposal`);
    if (supersededBy !== null) {
      const other = await ledger.getProposal(supersededBy);
      if (!other) throw new InputError(`--superseded-by ${supersededBy}: no such proposal in ${ledgerName(o)}; give the id of the proposal that replaces ${id}`);
      if (supersededBy === id) throw new InputError(`--superseded-by ${supersededBy}: a proposal cannot supersede itself`);
    }
    const at = nowIso(o);
    const signature = signStatement(key.privateKey, 'withdraw', id, p.record.hash, at);
    const detail = { reason, ...(supersededBy ? { superseded_by: supersededBy } : {}), signature };
    const done = await ledger.transitionProposal(id, ['proposed'], 'withdrawn', { ...eventFor(o, me.name, p.record, p.dots, 'withdrawn', 'withdrawn', detail), at });
    if (!done) {
      const now = await ledger.getProposal(id);
      await refuse(`proposal ${id} is ${now?.state ?? 'gone'}; only a proposal that was never applied (state proposed) can be withdrawn`);
    }
    return { id, state: 'withdrawn', actor: me.name, reason, supersededBy };
  });
}
