/**
 * The ledger's head, witnessed outside the ledger: every apply and rollback writes a row into the
 * target's `dotctl.witness` in the transaction that makes its change (exec/witness.ts), and the
 * ledger's event that ends the run records the head it witnessed (`witnessed_head`). Before an
 * apply or a rollback, and in `log verify --target`, the two sides are compared by `judgeWitness`,
 * a pure function of what was read from both.
 *
 * Where the row goes: into the run's transaction (an apply's one transaction; for a rollback, the
 * transaction of the last DOT's rollback SQL); a run with no SQL in a transaction (patches,
 * commands, archives, SQL outside a transaction) writes it in a transaction of its own right
 * after its last change step, before the post-verify.
 */
import { LedgerError } from '../model/errors.js';
import type { LedgerStore, LogRow, ProposalState } from '../ledger/port.js';
import { ledgerHeadOf, ledgerIdOf, rowHashesAt } from '../ledger/ledger-id.js';
import { insertWitness, readWitness, witnessOfTransaction, type WitnessRow } from '../exec/witness.js';
import type { TargetClient } from '../exec/target.js';

/** A head of the ledger: a row's seq and hash. */
export interface Head {
  readonly seq: number;
  readonly hash: string;
}

/** What the ledger says it witnessed: the `witnessed_head` of a run's last event. */
export interface WitnessedHead extends Head {
  readonly event: 'apply' | 'rollback';
}

/** One way the target and the ledger disagree. */
export interface WitnessProblem {
  readonly kind: 'bound_elsewhere' | 'head_missing' | 'head_differs' | 'proposal_missing' | 'outcome_missing' | 'witness_missing';
  readonly message: string;
  readonly proposalId?: string;
  readonly headSeq?: number;
}

/** What a proposal of the ledger says about its witnessed runs. */
export interface ProposalFacts {
  readonly state: ProposalState;
  /** the `witnessed_head` of each of its events, with the seq of the event */
  readonly witnessed: readonly (WitnessedHead & { readonly row: number })[];
}

/** Everything `judgeWitness` compares. */
export interface WitnessFacts {
  readonly ledgerId: string;
  readonly ledgerHead: Head | null;
  /** the target's witness rows, oldest first */
  readonly rows: readonly WitnessRow[];
  /** the ledger's hashes at the witnessed heads' seqs */
  readonly hashesAt: ReadonlyMap<number, string>;
  /** the proposals of the rows checked in full (absent: the ledger does not hold it) */
  readonly proposals: ReadonlyMap<string, ProposalFacts | null>;
  /** check proposal and outcome of every row (`log verify --target`), or only of the newest (before a run) */
  readonly scope: 'all' | 'newest';
  /** the ledger's witnessed runs on this target, to find those the target lacks (verify only) */
  readonly claimed?: readonly (WitnessedHead & { readonly proposalId: string; readonly row: number })[];
}

const short = (h: string): string => `${h.slice(0, 16)}…`;
const what = (r: WitnessRow): string => `the ${r.event} of ${r.proposalId} on ${r.at}`;

/** Every disagreement between the target's witness and the ledger (empty: they agree). Pure. */
export function judgeWitness(f: WitnessFacts): WitnessProblem[] {
  const problems: WitnessProblem[] = [];
  const foreign = f.rows.filter((r) => r.ledgerId !== f.ledgerId);
  if (foreign.length > 0) {
    const last = foreign.at(-1)!;
    const others = [...new Set(foreign.map((r) => r.ledgerId))];
    problems.push({
      kind: 'bound_elsewhere',
      message: `the target is bound to another ledger, ${others.join(' and ')} (it witnessed ${foreign.length} run(s) of it, the last ${what(last)}), not to this ledger ${f.ledgerId}; use that ledger, or, to move the target to this ledger on purpose, a target DBA drops the schema dotctl in the target first (DROP SCHEMA dotctl CASCADE)`,
      proposalId: last.proposalId,
    });
  }
  const ours = f.rows.filter((r) => r.ledgerId === f.ledgerId);
  const end = f.ledgerHead ? `ends at seq ${f.ledgerHead.seq}` : 'is empty';
  for (const r of ours) {
    const held = f.hashesAt.get(r.headSeq);
    if (held === undefined) {
      problems.push({
        kind: 'head_missing',
        message: `the target witnessed head seq ${r.headSeq} (${short(r.headHash)}) of this ledger at ${what(r)}, but the ledger ${end}: its newest rows were removed (tail truncation), or that ${r.event} was made from a private copy of the ledger`,
        proposalId: r.proposalId,
        headSeq: r.headSeq,
      });
    } else if (held !== r.headHash) {
      problems.push({
        kind: 'head_differs',
        message: `the target witnessed head seq ${r.headSeq} with hash ${short(r.headHash)} at ${what(r)}, but this ledger's row ${r.headSeq} has hash ${short(held)}: the ledger was re-hashed, or that ${r.event} was made from a private copy of it`,
        proposalId: r.proposalId,
        headSeq: r.headSeq,
      });
    }
  }
  const full = f.scope === 'all' ? ours : ours.slice(-1);
  for (const r of full) {
    if (!f.proposals.has(r.proposalId)) continue;
    const p = f.proposals.get(r.proposalId);
    if (!p) {
      problems.push({
        kind: 'proposal_missing',
        message: `the target witnessed ${what(r)}, a proposal this ledger does not hold: it was applied from a private copy of the ledger`,
        proposalId: r.proposalId,
        headSeq: r.headSeq,
      });
      continue;
    }
    // its own outcome, or that of a later run of the proposal (an interrupted run without a
    // transaction of its own is run again from the start, and witnessed again)
    const recorded = p.witnessed.some((w) => w.event === r.event && (w.seq > r.headSeq || (w.seq === r.headSeq && w.hash === r.headHash)));
    // an apply still running, or interrupted, records its outcome when it is finished
    if (!recorded && p.state !== 'applying' && p.state !== 'interrupted' && f.hashesAt.get(r.headSeq) === r.headHash) {
      problems.push({
        kind: 'outcome_missing',
        message: `the target witnessed ${what(r)} at head seq ${r.headSeq}, but this ledger records no outcome of it after that row: rows after seq ${r.headSeq} were removed (tail truncation)`,
        proposalId: r.proposalId,
        headSeq: r.headSeq,
      });
    }
  }
  for (const c of f.claimed ?? []) {
    if (ours.some((r) => r.proposalId === c.proposalId && r.headSeq === c.seq && r.headHash === c.hash)) continue;
    problems.push({
      kind: 'witness_missing',
      message: `this ledger records the ${c.event} of ${c.proposalId} on this target as witnessed at head seq ${c.seq} (row ${c.row}), but the target holds no such witness row: it was removed, or the target was restored from before that ${c.event}`,
      proposalId: c.proposalId,
      headSeq: c.seq,
    });
  }
  return problems;
}

/** The `witnessed_head` an event's detail records, if any. */
export function witnessedHeadOf(e: LogRow): WitnessedHead | null {
  const w = (e.detail as { witnessed_head?: unknown }).witnessed_head as { seq?: unknown; hash?: unknown; event?: unknown } | undefined;
  if (!w || typeof w.seq !== 'number' || typeof w.hash !== 'string') return null;
  return { seq: w.seq, hash: w.hash, event: w.event === 'rollback' ? 'rollback' : 'apply' };
}

/** What the ledger says about a proposal's witnessed runs (null: it does not hold it). */
export async function proposalFacts(ledger: LedgerStore, id: string): Promise<ProposalFacts | null> {
  const p = await ledger.getProposal(id);
  if (!p) return null;
  const witnessed = (await ledger.readEvents({ proposalId: id })).flatMap((e) => {
    const w = witnessedHeadOf(e);
    return w ? [{ ...w, row: e.seq }] : [];
  });
  return { state: p.state, witnessed };
}

/** The ledger's id, or a LedgerError when it has no rows (nothing can be witnessed of it). */
export async function requireLedgerId(ledger: LedgerStore): Promise<string> {
  const id = await ledgerIdOf(ledger);
  if (id === null) throw new LedgerError('the ledger has no rows, so it has no id to witness in the target; propose something first', { code: 'LEDGER_EMPTY' });
  return id;
}

/** Gathers both sides for a judgement of the target's witness (rows already read from it). */
export async function witnessFacts(ledger: LedgerStore, rows: readonly WitnessRow[], scope: 'all' | 'newest'): Promise<WitnessFacts> {
  const ledgerId = await requireLedgerId(ledger);
  const ours = rows.filter((r) => r.ledgerId === ledgerId);
  const proposals = new Map<string, ProposalFacts | null>();
  for (const r of scope === 'all' ? ours : ours.slice(-1)) {
    if (!proposals.has(r.proposalId)) proposals.set(r.proposalId, await proposalFacts(ledger, r.proposalId));
  }
  return {
    ledgerId,
    ledgerHead: await ledgerHeadOf(ledger),
    rows,
    hashesAt: await rowHashesAt(
      ledger,
      ours.map((r) => r.headSeq),
    ),
    proposals,
    scope,
  };
}

/**
 * Before an apply or a rollback: refuses (exit 7, nothing changed) when the target is bound to
 * another ledger or has seen a head this ledger does not contain.
 */
export async function refuseUnwitnessed(ledger: LedgerStore, client: TargetClient, action: string, id: string): Promise<void> {
  const rows = await readWitness(client);
  if (rows.length === 0) return;
  const problems = judgeWitness(await witnessFacts(ledger, rows, 'newest'));
  const first = problems[0];
  if (!first) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: run dotctl log verify --target)` : '';
  throw new LedgerError(`${action} of ${id} refused: ${first.message}${more}; nothing was changed`, { code: 'LEDGER_NOT_WITNESSED', context: { problems } });
}

/** The witness of one run: written in its transaction, confirmed once that transaction committed. */
export class TargetWitness {
  private pending: Head | null = null;
  private confirmed: Head | null = null;

  constructor(
    private readonly ledger: LedgerStore,
    private readonly row: Omit<WitnessRow, 'headSeq' | 'headHash' | 'xid' | 'at'>,
  ) {}

  /** Writes the row with the ledger's head now, inside the open transaction on `client`. */
  async write(client: TargetClient): Promise<void> {
    const head = await ledgerHeadOf(this.ledger);
    if (!head) throw new LedgerError('the ledger has no rows to witness', { code: 'LEDGER_EMPTY' });
    await insertWitness(client, { ...this.row, headSeq: head.seq, headHash: head.hash });
    this.pending = head;
  }

  /** The transaction that holds the row committed. */
  confirm(): void {
    if (this.pending) this.confirmed = this.pending;
  }

  /** An interrupted run whose transaction `xid` committed: takes the head it witnessed from the target. */
  async recall(client: TargetClient, xid: string): Promise<void> {
    const r = await witnessOfTransaction(client, this.row.proposalId, xid);
    if (r) this.confirmed = { seq: r.headSeq, hash: r.headHash };
  }

  /** What the run's last event records: the head witnessed in the target, once committed. */
  detail(): Record<string, unknown> {
    return this.confirmed ? { witnessed_head: { seq: this.confirmed.seq, hash: this.confirmed.hash, event: this.row.event } } : {};
  }
}
