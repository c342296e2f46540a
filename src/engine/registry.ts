/**
 * The identity registry as the ledger holds it: read back from its signed events (every one
 * re-proven on every read, so a row forged into the log does not make anyone a member), and the
 * registry in force at any seq. The gate asks this module who may act — now, and as of each
 * earlier decision — never a file.
 */
import { GateError, LedgerError } from '../model/errors.js';
import type { AdmissionRecord, DecisionRecord, LogRow } from '../model/records.js';
import type { Identity } from '../gate/identities.js';
import { actingIdentity, type SigningKey } from '../gate/keys.js';
import { checkChange, checkGenesis, checkRegistry, parseRegistryDoc, parseSignatures, type Registry } from '../gate/registry.js';
import type { LedgerStore } from '../ledger/port.js';

/** One registry of the ledger's history: from which row it is in force. */
export interface RegistryEntry {
  readonly seq: number;
  /** the hash of its row (what a change of it names as its base) */
  readonly rowHash: string;
  readonly at: string;
  readonly registry: Registry;
  /** null for the genesis */
  readonly changeId: string | null;
}

/** The ledger's registries, proven. */
export interface RegistryView {
  /** in seq order; empty when the ledger has no registry */
  readonly entries: readonly RegistryEntry[];
  /** the seq of `ledger_upgraded` (rows before it are legacy, unsigned), or null */
  readonly upgradedSeq: number | null;
}

/** A registry event that does not prove what it claims: the ledger was tampered with (exit 7). */
export class RegistryBrokenError extends LedgerError {
  constructor(
    readonly seq: number,
    why: string,
  ) {
    super(`the identity registry of the ledger is broken at seq ${seq}: ${why}; restore the ledger from a backup and find out who changed it before trusting it`, {
      code: 'LEDGER_BROKEN',
      context: { seq },
    });
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Reads and re-proves every registry event of the ledger; a forged or malformed one is a RegistryBrokenError. */
export async function readRegistry(ledger: LedgerStore): Promise<RegistryView> {
  const [genesis, changed, upgraded] = await Promise.all([
    ledger.readEvents({ event: 'registry_genesis' }),
    ledger.readEvents({ event: 'registry_changed' }),
    ledger.readEvents({ event: 'ledger_upgraded' }),
  ]);
  const g = genesis[0];
  if (upgraded.length > 1) throw new RegistryBrokenError(upgraded[1]!.seq, 'a second ledger_upgraded row');
  if (!g) {
    const stray = [...changed, ...upgraded].sort((a, b) => a.seq - b.seq)[0];
    if (stray) throw new RegistryBrokenError(stray.seq, `a ${stray.event} row in a ledger without a genesis registry`);
    return { entries: [], upgradedSeq: null };
  }
  if (genesis.length > 1) throw new RegistryBrokenError(genesis[1]!.seq, 'a second genesis registry');
  const up = upgraded[0];
  if (up ? g.seq !== up.seq + 1 : g.seq !== 1) throw new RegistryBrokenError(g.seq, up ? 'the genesis registry does not follow ledger_upgraded' : 'the genesis registry is not the first row');
  const entries: RegistryEntry[] = [genesisEntry(g)];
  for (const row of changed) {
    if (row.seq < g.seq) throw new RegistryBrokenError(row.seq, 'a registry change before the genesis');
    // a change that reached its quorum against a registry replaced meanwhile (two last
    // signatures at once) lost the race: proven, but never in force
    const entry = changeEntry(row, entries);
    if (entry) entries.push(entry);
  }
  return { entries, upgradedSeq: up?.seq ?? null };
}

function genesisEntry(row: LogRow): RegistryEntry {
  const d = row.detail as Record<string, unknown>;
  const registry = parseRegistryDoc(d.registry);
  if (typeof registry === 'string') throw new RegistryBrokenError(row.seq, registry);
  const nonce = str(d.nonce);
  const sigs = parseSignatures(d.signatures);
  if (!nonce || !sigs) throw new RegistryBrokenError(row.seq, 'the genesis registry lacks its nonce or signatures');
  const why = checkGenesis(registry, nonce, sigs) ?? checkRegistry(registry, null, [])[0] ?? null;
  if (why) throw new RegistryBrokenError(row.seq, `the genesis registry is ${why.startsWith('not signed') ? why : `not valid: ${why}`}`);
  return { seq: row.seq, rowHash: row.hash, at: row.at, registry, changeId: null };
}

function changeEntry(row: LogRow, before: readonly RegistryEntry[]): RegistryEntry | null {
  const d = row.detail as Record<string, unknown>;
  const registry = parseRegistryDoc(d.registry);
  if (typeof registry === 'string') throw new RegistryBrokenError(row.seq, registry);
  const id = str(d.change_id);
  const sigs = parseSignatures(d.signatures);
  if (!id || !sigs) throw new RegistryBrokenError(row.seq, 'the registry change lacks its id or signatures');
  const at = before.findIndex((e) => e.rowHash === d.base_hash);
  const base = before[at];
  if (!base) throw new RegistryBrokenError(row.seq, `registry change ${id} replaces no registry this ledger ever had in force`);
  const history = before.slice(0, at + 1).map((e) => e.registry);
  const why = checkChange(base.registry, base.rowHash, registry, id, sigs) ?? checkRegistry(registry, base.registry, history)[0] ?? null;
  if (why) throw new RegistryBrokenError(row.seq, `registry change ${id} is not proven: ${why}`);
  return at === before.length - 1 ? { seq: row.seq, rowHash: row.hash, at: row.at, registry, changeId: id } : null;
}

/** The registry in force at `seq` (its row included); legacy rows before the genesis are judged by the genesis. */
export function registryAt(view: RegistryView, seq: number): Registry | null {
  let found: RegistryEntry | undefined = view.entries[0];
  for (const e of view.entries) if (e.seq <= seq) found = e;
  return found?.registry ?? null;
}

/** The registry in force now, or a refusal naming the way out (exit 3). */
export function currentRegistry(view: RegistryView, ledgerName: string): { entry: RegistryEntry; registry: Registry } {
  const entry = view.entries.at(-1);
  if (!entry) {
    throw new GateError(
      `the ledger ${ledgerName} has no identity registry, so nobody may act on it; create one with dotctl ledger init --identities FILE --key KEY (one --key per member), or for a ledger of an earlier dotctl dotctl ledger upgrade --identities FILE --key KEY …`,
    );
  }
  return { entry, registry: entry.registry };
}

/** Who acts: the key's member in the registry in force (refused when none or disabled). */
export async function actorFrom(ledger: LedgerStore, ledgerName: string, key: SigningKey): Promise<{ view: RegistryView; registry: Registry; me: Identity }> {
  const view = await readRegistry(ledger);
  const { registry } = currentRegistry(view, ledgerName);
  return { view, registry, me: actingIdentity(registry.members, key) };
}

/**
 * For each decision of a proposal, the registry in force at its row of the log (matched by kind,
 * actor and signed time; a row of an earlier dotctl by kind and actor), or null when no row
 * records it.
 */
export function decisionRegistry(view: RegistryView, events: readonly LogRow[]): (d: DecisionRecord) => readonly Identity[] | null {
  return (d) => {
    const kind = d.kind === 'approve' ? 'approved' : 'rejected';
    const mine = events.filter((e) => e.event === kind && e.actor === d.actor);
    const row = mine.find((e) => atOf(e) === d.at) ?? (view.upgradedSeq !== null ? mine.find((e) => e.seq < view.upgradedSeq!) : undefined);
    return row ? (registryAt(view, row.seq)?.members ?? null) : null;
  };
}

/** The registry in force when the proposal was made (its `proposed` row), else the current one. */
export function proposerRegistry(view: RegistryView, events: readonly LogRow[]): readonly Identity[] | undefined {
  const row = events.find((e) => e.event === 'proposed');
  return row ? registryAt(view, row.seq)?.members : undefined;
}

/** For each admission, the registry in force at its `admitted` row (matched by DOT, actor, time and content), or null. */
export function admissionRegistry(view: RegistryView, rows: readonly LogRow[]): (a: AdmissionRecord) => readonly Identity[] | null {
  return (a) => {
    const row = rows.find((e) => e.dotId === a.dotId && e.actor === a.actor && atOf(e) === a.at && (e.detail as { content_hash?: unknown }).content_hash === a.contentHash);
    return row ? (registryAt(view, row.seq)?.members ?? null) : null;
  };
}

/** The time a row's writer claimed: its `at`, or the `claimed_at` kept when the ledger dated it at its head's time. */
function atOf(e: LogRow): string {
  const claimed = (e.detail as { claimed_at?: unknown }).claimed_at;
  return typeof claimed === 'string' ? claimed : e.at;
}
