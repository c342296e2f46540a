/**
 * The identity registry: who may act, kept in the ledger as signed events rather than in a file.
 * The first registry (genesis) is signed by every member; each later one is a change signed by a
 * quorum of the signers of the registry it replaces (its admins, or its reviewers when it has no
 * admin). One key, one identity: a key never moves to another name, and a key taken out of use
 * never comes back. Pure: documents, hashes, rules and signature checks.
 */
import * as z from 'zod';
import { canonicalJson, sha256Hex } from '../model/canonical.js';
import { IdentitySchema, type Identity, type Role } from './identities.js';
import { signStatement, verifyStatement } from './signature.js';
import type { KeyObject } from 'node:crypto';

export { DEFAULT_QUORUM } from './roles.js';

/** A registry: its members and the signatures a change of it needs. */
export interface Registry {
  readonly quorum: number;
  readonly members: readonly Identity[];
}

/** The registry as stored in a log row's detail (snake_case, members by name). */
export interface RegistryDoc {
  readonly quorum: number;
  readonly members: readonly {
    readonly name: string;
    readonly roles: readonly Role[];
    readonly public_key: string;
    readonly disabled: boolean;
    readonly groups?: readonly string[];
  }[];
}

/** One member's signature of a registry (genesis) or of a registry change. */
export interface RegistrySignature {
  readonly name: string;
  readonly public_key: string;
  /** the time signed (part of the statement) */
  readonly at: string;
  readonly signature: string;
}

const DocSchema = z.strictObject({ quorum: z.number().int().min(1).max(100), members: z.array(IdentitySchema).min(1) });
const SignatureSchema = z.strictObject({ name: z.string(), public_key: z.string(), at: z.string(), signature: z.string() });
const SignaturesSchema = z.array(SignatureSchema).min(1);

/** The stored form of a registry. */
export function registryDoc(r: Registry): RegistryDoc {
  const members = [...r.members]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => ({
      name: m.name,
      roles: [...m.roles].sort(),
      public_key: m.publicKey,
      disabled: m.disabled,
      ...(m.groups && m.groups.length > 0 ? { groups: [...m.groups].sort() } : {}),
    }));
  return { quorum: r.quorum, members };
}

/** A registry read back from a row's detail, or why it is not one. */
export function parseRegistryDoc(value: unknown): Registry | string {
  const parsed = DocSchema.safeParse(value);
  if (!parsed.success) return `not a registry (${parsed.error.issues[0]?.path.join('.') || 'document'}: ${parsed.error.issues[0]?.message})`;
  const members = parsed.data.members.map((m) => ({
    name: m.name,
    roles: m.roles,
    publicKey: m.public_key,
    disabled: m.disabled ?? false,
    ...(m.groups && m.groups.length > 0 ? { groups: m.groups } : {}),
  }));
  return { quorum: parsed.data.quorum, members };
}

/** The registry as its stored form reads back (roles and groups in order): what is compared and shown. */
export function normalizeRegistry(r: Registry): Registry {
  const back = parseRegistryDoc(registryDoc(r));
  if (typeof back === 'string') throw new TypeError(back);
  return back;
}

/** Signatures read back from a row's detail, or null when malformed. */
export function parseSignatures(value: unknown): readonly RegistrySignature[] | null {
  const parsed = SignaturesSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** What the genesis members sign: the registry and the ledger's nonce. */
export function genesisHash(r: Registry, nonce: string): string {
  return sha256Hex(canonicalJson({ nonce, registry: registryDoc(r) }));
}

/** What the signers of a change sign: the new registry and the row of the registry it replaces. */
export function changeHash(baseRowHash: string, r: Registry): string {
  return sha256Hex(canonicalJson({ base: baseRowHash, registry: registryDoc(r) }));
}

/** Who signs changes of `r`: its enabled admins, or its enabled reviewers when it has no admin. */
export function registrySigners(r: Registry): { readonly role: Role; readonly members: readonly Identity[] } {
  const enabled = r.members.filter((m) => !m.disabled);
  const admins = enabled.filter((m) => m.roles.includes('admin'));
  // an admin disabled still makes it an admin-governed registry: disabling the last admin does not hand the registry to reviewers
  const hasAdmin = r.members.some((m) => m.roles.includes('admin'));
  return hasAdmin ? { role: 'admin', members: admins } : { role: 'reviewer', members: enabled.filter((m) => m.roles.includes('reviewer')) };
}

/** Signs a registry statement (`genesis` or a change id) with a member's key. */
export function signRegistry(privateKey: KeyObject, id: string, hash: string, at: string): string {
  return signStatement(privateKey, 'registry', id, hash, at);
}

/**
 * The distinct members of `signedBy` whose signature of (`id`, `hash`) verifies with their key
 * in `r`, and each signature that does not count with the reason.
 */
export function countSignatures(
  r: Registry,
  signedBy: readonly Identity[],
  id: string,
  hash: string,
  sigs: readonly RegistrySignature[],
): { readonly valid: readonly string[]; readonly invalid: readonly string[] } {
  const valid: string[] = [];
  const invalid: string[] = [];
  for (const s of sigs) {
    const who = signedBy.find((m) => m.name === s.name);
    const member = r.members.find((m) => m.name === s.name);
    if (!member) invalid.push(`${s.name} is not a member`);
    else if (member.publicKey !== s.public_key) invalid.push(`${s.name}'s signature is made with a key that is not theirs (${s.public_key.slice(0, 20)}…)`);
    else if (!verifyStatement(member.publicKey, s.signature, 'registry', id, hash, s.at)) invalid.push(`${s.name}'s signature does not verify`);
    else if (!who) invalid.push(`${s.name} may not sign registry changes`);
    else if (!valid.includes(s.name)) valid.push(s.name);
  }
  return { valid, invalid };
}

/** Why the genesis signatures do not prove the registry (every member signs), or null. */
export function checkGenesis(r: Registry, nonce: string, sigs: readonly RegistrySignature[]): string | null {
  const hash = genesisHash(r, nonce);
  const { valid, invalid } = countSignatures(r, r.members, 'genesis', hash, sigs);
  if (invalid.length > 0) return invalid.join('; ');
  const missing = r.members.filter((m) => !valid.includes(m.name)).map((m) => m.name);
  return missing.length > 0 ? `not signed by ${missing.join(', ')}; every member of the first registry signs it` : null;
}

/** Why a change of `base` to the registry it signs is not proven by a quorum, or null. */
export function checkChange(base: Registry, baseRowHash: string, next: Registry, id: string, sigs: readonly RegistrySignature[]): string | null {
  const signers = registrySigners(base);
  const { valid, invalid } = countSignatures(base, signers.members, id, changeHash(baseRowHash, next), sigs);
  if (valid.length >= base.quorum) return null;
  return `${valid.length} valid signature(s) of ${base.quorum} required from distinct ${signers.role}s${invalid.length > 0 ? ` (${invalid.join('; ')})` : ''}`;
}

/**
 * Problems of a registry that would replace `base` (null for the first one), given every registry
 * in force before it: a key moved to another name or brought back, a quorum no one can reach, no
 * change at all.
 */
export function checkRegistry(next: Registry, base: Registry | null, history: readonly Registry[]): string[] {
  const problems: string[] = [];
  const keys = new Map<string, string>();
  for (const m of next.members) {
    const other = keys.get(m.publicKey);
    if (other) problems.push(`${m.name} and ${other} share a key; one key, one identity`);
    keys.set(m.publicKey, m.name);
  }
  if (new Set(next.members.map((m) => m.name)).size !== next.members.length) problems.push('a name is listed twice');
  for (const m of next.members) {
    for (const old of history) {
      const owner = old.members.find((o) => o.publicKey === m.publicKey);
      if (owner && owner.name !== m.name) {
        problems.push(`the key of ${m.name} was ${owner.name}'s; a key never moves to another identity (dotctl keygen makes a new one)`);
        break;
      }
    }
    const now = base?.members.find((o) => o.name === m.name);
    const retired = history.some((old) => old.members.some((o) => o.name === m.name && o.publicKey === m.publicKey));
    if (base && retired && now?.publicKey !== m.publicKey)
      problems.push(`the key given for ${m.name} was retired by an earlier change; a retired key never comes back (dotctl keygen makes a new one)`);
  }
  const signers = registrySigners(next);
  if (signers.members.length < next.quorum) {
    problems.push(
      `quorum ${next.quorum} needs at least ${next.quorum} enabled ${signers.role}s to sign the next change, and this registry has ${signers.members.length}; add ${signers.role}s or lower quorum:`,
    );
  }
  if (base && canonicalJson(registryDoc(base)) === canonicalJson(registryDoc(next))) problems.push('it is the registry in force already; change a member, a role, a key or the quorum');
  return problems;
}

/** One line per difference between two registries, for people. */
export function describeChange(base: Registry, next: Registry): string[] {
  const out: string[] = [];
  if (base.quorum !== next.quorum) out.push(`quorum ${base.quorum} → ${next.quorum}`);
  for (const m of next.members) {
    const was = base.members.find((b) => b.name === m.name);
    if (!was) {
      out.push(`add ${m.name} (${m.roles.join(', ')})${m.disabled ? ', disabled' : ''}`);
      continue;
    }
    if (was.publicKey !== m.publicKey) out.push(`rotate ${m.name}'s key`);
    if (was.roles.join() !== m.roles.join()) out.push(`${m.name}: roles ${was.roles.join(', ')} → ${m.roles.join(', ')}`);
    if (was.disabled !== m.disabled) out.push(`${m.disabled ? 'disable' : 'enable'} ${m.name}`);
    if ((was.groups ?? []).join() !== (m.groups ?? []).join()) out.push(`${m.name}: groups [${(was.groups ?? []).join(', ')}] → [${(m.groups ?? []).join(', ')}]`);
  }
  for (const b of base.members) if (!next.members.some((m) => m.name === b.name)) out.push(`remove ${b.name}`);
  return out;
}

/** The registry as an identities file (the import/export format). */
export function registryYaml(r: Registry, header: readonly string[]): string {
  const lines = [...header.map((h) => `# ${h}`), `quorum: ${r.quorum}`, 'identities:'];
  for (const m of registryDoc(r).members) {
    lines.push(`  - name: ${m.name}`, `    roles: [${m.roles.join(', ')}]`, `    public_key: ${m.public_key}`);
    if (m.disabled) lines.push('    disabled: true');
    if (m.groups) lines.push(`    groups: [${m.groups.join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}
