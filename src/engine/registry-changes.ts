/**
 * Creating and changing the identity registry: `ledger init` (the genesis, signed by every
 * member), `ledger upgrade` (a ledger of an earlier dotctl: its history marked legacy, then the
 * genesis), and registry changes — proposed by one signer, approved by others, in force once a
 * quorum of the registry in force signed them. Each writes through the signed-head wrapper.
 */
import { ledgerIdOf } from '../ledger/ledger-id.js';
import { randomBytes } from 'node:crypto';
import { GateError, InputError } from '../model/errors.js';
import type { LogRow, NewLogEvent } from '../model/records.js';
import type { Identity } from '../gate/identities.js';
import { loadIdentitiesFile, loadSigningKey, type SigningKey } from '../gate/keys.js';
import {
  DEFAULT_QUORUM,
  changeHash,
  checkRegistry,
  countSignatures,
  describeChange,
  genesisHash,
  normalizeRegistry,
  parseRegistryDoc,
  parseSignatures,
  registryDoc,
  registrySigners,
  registryYaml,
  signRegistry,
  type Registry,
  type RegistrySignature,
} from '../gate/registry.js';
import { withLedger } from '../ledger/open.js';
import type { LedgerStore } from '../ledger/port.js';
import { withTrustedTime } from './clock.js';
import { actorFrom, currentRegistry, readRegistry, type RegistryView } from './registry.js';
import { withSignedHead } from './signed-head.js';
import { requireVerified } from './signed-history.js';
import { ledgerName, nowIso, signerOf, withLedgerOf, type EngineOptions } from './options.js';

/** What `ledger init` / `ledger upgrade` are given. */
export interface LedgerInitOptions {
  /** the ledger (opened and closed here when a path or URL) */
  readonly ledger: string | LedgerStore;
  /** the first members: an identities file, or the identities */
  readonly identities: string | readonly Identity[];
  /** signatures a registry change will need (default: the file's `quorum:`, else 2) */
  readonly quorum?: number;
  /** every member's key (or key file): each signs the registry */
  readonly keys: readonly (string | SigningKey)[];
  /** the clock (default: the ledger server's, else the local one) */
  readonly clock?: () => Date;
}

/** What `ledger init` / `ledger upgrade` did. */
export interface LedgerInitResult {
  /** the ledger id: the hash of its row seq 1 */
  readonly ledgerId: string;
  readonly genesisSeq: number;
  readonly members: readonly string[];
  readonly quorum: number;
  /** rows of an earlier dotctl, now marked legacy, unsigned (0 for a new ledger) */
  readonly legacyRows: number;
}

/** Creates the identity registry of a ledger that has none and no rows (`dotctl ledger init`). */
export function initLedger(opts: LedgerInitOptions): Promise<LedgerInitResult> {
  return createGenesis(opts, 'init');
}

/** Gives a ledger of an earlier dotctl (rows, no registry) its registry; its history is marked legacy, unsigned (`dotctl ledger upgrade`). */
export function upgradeLedger(opts: LedgerInitOptions): Promise<LedgerInitResult> {
  return createGenesis(opts, 'upgrade');
}

const registryEvent = (at: string, actor: string, event: NewLogEvent['event'], detail: Record<string, unknown>): NewLogEvent => ({
  at,
  actor,
  event,
  proposalId: null,
  dotId: null,
  actionCode: null,
  proposalHash: null,
  outcome: 'ok',
  detail,
});

async function createGenesis(opts: LedgerInitOptions, mode: 'init' | 'upgrade'): Promise<LedgerInitResult> {
  const file = typeof opts.identities === 'string' ? await loadIdentitiesFile(opts.identities) : { identities: opts.identities, quorum: null };
  const source = typeof opts.identities === 'string' ? opts.identities : 'the identities given';
  if (file.identities.length === 0) {
    throw new InputError(`${source} cannot be the first registry: it lists no identity; add every member's entry (dotctl keygen NAME --role ROLE prints it) and run ledger init again`);
  }
  const registry = normalizeRegistry({ quorum: opts.quorum ?? file.quorum ?? DEFAULT_QUORUM, members: file.identities });
  const problems = checkRegistry(registry, null, []);
  if (problems.length > 0) throw new InputError(`${source} cannot be the first registry: ${problems.join('; ')}`);
  if (opts.keys.length === 0) throw new InputError('pass every member’s key with --key FILE (one per member): each signs the first registry');
  const keys = await Promise.all(opts.keys.map((k) => (typeof k === 'string' ? loadSigningKey(k) : Promise.resolve(k))));
  const signer = new Map<string, SigningKey>();
  for (const k of keys) {
    const m = registry.members.find((x) => x.publicKey === k.publicKey);
    if (!m) throw new InputError(`the key ${k.file} belongs to no member of ${source}; pass the keys of its members only`);
    signer.set(m.name, k);
  }
  const unsigned = registry.members.filter((m) => !signer.has(m.name)).map((m) => m.name);
  if (unsigned.length > 0) throw new GateError(`the first registry must be signed by every member, and ${unsigned.join(', ')} did not sign: pass their keys with --key`);
  const first = keys[0]!;
  const actor = registry.members.find((m) => m.publicKey === first.publicKey)!.name;
  const name = typeof opts.ledger === 'string' ? opts.ledger : 'the ledger';
  const run = (store: LedgerStore): Promise<LedgerInitResult> =>
    withSignedHead(
      store,
      async () => first,
      async (ledger) => {
        const view = await readRegistry(ledger);
        const g = view.entries[0];
        if (g) throw new InputError(`the ledger ${name} already has an identity registry (seq ${g.seq}); change it with dotctl identities change FILE`);
        const [last] = await ledger.readEvents({ limit: 1 });
        const rows = last?.seq ?? 0;
        if (mode === 'init' && rows > 0)
          throw new InputError(`the ledger ${name} holds ${rows} rows of an earlier dotctl and no registry; run dotctl ledger upgrade --identities FILE --key … instead`);
        if (mode === 'upgrade' && rows === 0) throw new InputError(`the ledger ${name} is empty; run dotctl ledger init --identities FILE --key … instead`);
        const o = await withTrustedTime({ dots: '', ledger, target: undefined, identities: undefined, key: undefined, ...(opts.clock ? { now: opts.clock } : {}) }, ledger, null);
        let at = nowIso(o);
        // the chain's time may not run backwards: a genesis is never dated before the row it follows
        if (last && last.at > at) at = last.at;
        if (mode === 'upgrade') {
          await ledger.appendEvent(
            registryEvent(at, actor, 'ledger_upgraded', { legacy_rows: rows, legacy_head: last?.hash, note: 'the rows before this one were written by an earlier dotctl: legacy, unsigned' }),
          );
        }
        const nonce = randomBytes(16).toString('hex');
        const hash = genesisHash(registry, nonce);
        const signatures: RegistrySignature[] = registry.members.map((m) => {
          const k = signer.get(m.name)!;
          return { name: m.name, public_key: k.publicKey, at, signature: signRegistry(k.privateKey, 'genesis', hash, at) };
        });
        const row = await ledger.appendEvent(registryEvent(at, actor, 'registry_genesis', { registry: registryDoc(registry), nonce, registry_hash: hash, signatures }));
        return { ledgerId: (await ledgerIdOf(ledger)) ?? row.hash, genesisSeq: row.seq, members: registry.members.map((m) => m.name), quorum: registry.quorum, legacyRows: rows };
      },
    );
  return typeof opts.ledger === 'string' ? withLedger(opts.ledger, { mode: 'write' }, run) : run(opts.ledger);
}

/** Where a registry change stands. */
export interface RegistryChangeResult {
  readonly changeId: string;
  readonly hash: string;
  /** what it changes, one line each */
  readonly changes: readonly string[];
  /** the members whose signatures count */
  readonly signedBy: readonly string[];
  readonly required: number;
  /** whether it is in force now (the quorum was reached) */
  readonly inForce: boolean;
  /** the row that records this step */
  readonly seq: number;
}

/** A proposed registry change read back from the log. */
interface Proposed {
  readonly row: LogRow;
  readonly id: string;
  readonly baseHash: string;
  readonly baseSeq: number;
  readonly registry: Registry;
  readonly signatures: RegistrySignature[];
}

/** The registry changes proposed in the log, each with every signature collected so far. */
async function readProposed(ledger: LedgerStore): Promise<Proposed[]> {
  const [proposed, approved] = await Promise.all([ledger.readEvents({ event: 'registry_proposed' }), ledger.readEvents({ event: 'registry_approved' })]);
  const out: Proposed[] = [];
  for (const row of proposed) {
    const d = row.detail as Record<string, unknown>;
    const registry = parseRegistryDoc(d.registry);
    const sigs = parseSignatures([d.signature]);
    if (typeof registry === 'string' || !sigs || typeof d.change_id !== 'string' || typeof d.base_hash !== 'string') continue;
    const more = approved.filter((a) => (a.detail as { change_id?: unknown }).change_id === d.change_id).flatMap((a) => parseSignatures([(a.detail as { signature?: unknown }).signature]) ?? []);
    out.push({ row, id: d.change_id, baseHash: d.base_hash, baseSeq: Number(d.base_seq), registry, signatures: [...sigs, ...more] });
  }
  return out;
}

/**
 * Proposes a new registry (the whole of it: an identities file, or the identities and quorum) as
 * the signer, who must be one of the registry's signers (its admins, or reviewers when it has
 * none). With a quorum of 1 it is in force at once.
 */
export async function proposeRegistryChange(o: EngineOptions, next: string | { readonly identities: readonly Identity[]; readonly quorum?: number }): Promise<RegistryChangeResult> {
  const file = typeof next === 'string' ? await loadIdentitiesFile(next) : { identities: next.identities, quorum: next.quorum ?? null };
  const source = typeof next === 'string' ? next : 'the identities given';
  if (file.identities.length === 0) throw new InputError(`${source} lists no identity; a registry keeps at least its signers`);
  const key = await signerOf(o);
  return withLedgerOf(o, 'write', async (ledger) => {
    const { view, registry: base, me } = await actorFrom(ledger, ledgerName(o), key);
    const signers = registrySigners(base);
    if (!signers.members.some((m) => m.name === me.name)) {
      throw new GateError(`${me.name} is not an enabled ${signers.role}; only ${signers.role}s propose and sign registry changes`);
    }
    const registry = normalizeRegistry({ quorum: file.quorum ?? base.quorum, members: file.identities });
    const problems = checkRegistry(
      registry,
      base,
      view.entries.map((e) => e.registry),
    );
    if (problems.length > 0) throw new InputError(`${source} cannot replace the registry in force: ${problems.join('; ')}`);
    const t = await withTrustedTime(o, ledger, null);
    const at = nowIso(t);
    const entry = view.entries.at(-1)!;
    const id = `R-${at.slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
    const hash = changeHash(entry.rowHash, registry);
    const signature: RegistrySignature = { name: me.name, public_key: key.publicKey, at, signature: signRegistry(key.privateKey, id, hash, at) };
    const changes = describeChange(base, registry);
    const common = { change_id: id, base_seq: entry.seq, base_hash: entry.rowHash, registry: registryDoc(registry), change_hash: hash, changes };
    const inForce = base.quorum <= 1;
    const row = inForce
      ? await ledger.appendEvent(registryEvent(at, me.name, 'registry_changed', { ...common, signatures: [signature] }))
      : await ledger.appendEvent(registryEvent(at, me.name, 'registry_proposed', { ...common, signature }));
    return { changeId: id, hash, changes, signedBy: [me.name], required: base.quorum, inForce, seq: row.seq };
  });
}

/**
 * Signs a proposed registry change as the signer. Refused (exit 3) for anyone who may not sign
 * changes of the registry in force, and for a change proposed against an older registry than the
 * one in force (stale). The signature that reaches the quorum is written as `registry_changed`,
 * carrying every signature, so the change and its last approval are one row.
 */
export async function approveRegistryChange(o: EngineOptions, changeId: string): Promise<RegistryChangeResult> {
  const key = await signerOf(o);
  return withLedgerOf(o, 'write', async (ledger) => {
    await requireVerified(ledger, ledgerName(o), 'change the identity registry');
    const { view, registry: base, me } = await actorFrom(ledger, ledgerName(o), key);
    const change = (await readProposed(ledger)).find((p) => p.id === changeId);
    if (!change) throw new InputError(`no registry change ${changeId} was proposed in ${ledgerName(o)}; list them with dotctl identities pending`);
    const entry = view.entries.at(-1)!;
    if (entry.changeId === changeId || view.entries.some((e) => e.changeId === changeId)) throw new InputError(`registry change ${changeId} is in force already`);
    if (change.baseHash !== entry.rowHash) {
      throw new GateError(
        `registry change ${changeId} was proposed against the registry of seq ${change.baseSeq}, and the registry in force is that of seq ${entry.seq}: it is stale; propose it again`,
      );
    }
    const signers = registrySigners(base);
    if (!signers.members.some((m) => m.name === me.name)) throw new GateError(`${me.name} is not an enabled ${signers.role}; only ${signers.role}s sign registry changes`);
    const hash = changeHash(entry.rowHash, change.registry);
    const prior = countSignatures(base, signers.members, changeId, hash, change.signatures);
    if (prior.valid.includes(me.name)) throw new GateError(`${me.name} has signed registry change ${changeId} already; it needs another ${signers.role}`);
    const at = nowIso(await withTrustedTime(o, ledger, null));
    const signature: RegistrySignature = { name: me.name, public_key: key.publicKey, at, signature: signRegistry(key.privateKey, changeId, hash, at) };
    const valid = change.signatures.filter((s) => prior.valid.includes(s.name));
    const signedBy = [...prior.valid, me.name];
    const changes = describeChange(base, change.registry);
    const inForce = signedBy.length >= base.quorum;
    const row = inForce
      ? await ledger.appendEvent(
          registryEvent(at, me.name, 'registry_changed', {
            change_id: changeId,
            base_seq: entry.seq,
            base_hash: entry.rowHash,
            registry: registryDoc(change.registry),
            change_hash: hash,
            changes,
            signatures: [...valid, signature],
          }),
        )
      : await ledger.appendEvent(registryEvent(at, me.name, 'registry_approved', { change_id: changeId, change_hash: hash, signature }));
    return { changeId, hash, changes, signedBy, required: base.quorum, inForce, seq: row.seq };
  });
}

/** The registry in force, with the changes waiting for signatures. */
export interface RegistryReport {
  readonly seq: number;
  readonly at: string;
  readonly quorum: number;
  readonly members: readonly Identity[];
  /** the registry as an identities file (import/export only: editing it changes nothing) */
  readonly yaml: string;
  readonly pending: readonly {
    readonly changeId: string;
    readonly proposedBy: string;
    readonly at: string;
    readonly changes: readonly string[];
    readonly signedBy: readonly string[];
    readonly stale: boolean;
  }[];
}

/** The registry in force and the pending changes (read-only). */
export async function readRegistryReport(o: EngineOptions): Promise<RegistryReport> {
  return withLedgerOf(o, 'read', async (ledger) => {
    const view: RegistryView = await readRegistry(ledger);
    const { entry, registry } = currentRegistry(view, ledgerName(o));
    const done = new Set(view.entries.map((e) => e.changeId));
    const pending = (await readProposed(ledger))
      .filter((p) => !done.has(p.id))
      .map((p) => ({
        changeId: p.id,
        proposedBy: p.row.actor,
        at: p.row.at,
        changes: describeChange(registry, p.registry),
        signedBy: [...new Set(p.signatures.map((s) => s.name))],
        stale: p.baseHash !== entry.rowHash,
      }));
    const yaml = registryYaml(registry, [
      `The identity registry in force in ${ledgerName(o)} since seq ${entry.seq} (${entry.at}).`,
      'Import/export form only: editing this file changes nothing. To change the registry, edit a copy',
      'and run dotctl identities change FILE; it is in force once the quorum has signed it.',
    ]);
    return { seq: entry.seq, at: entry.at, quorum: registry.quorum, members: registry.members, yaml, pending };
  });
}
