/**
 * Identities: who may propose, review or audit, each with an Ed25519 public key. The acting
 * identity is always derived from the key that signs, never from a flag. Parsing is pure.
 */
import * as z from 'zod';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readPositionedYaml } from '../catalogue/yaml-doc.js';
import type { Problem } from '../model/errors.js';
import { ROLES, type Role } from './roles.js';

export { ROLES, type Role } from './roles.js';

/**
 * Whether an identity acts in `role` now: enabled and holding it. An identity that holds
 * `automation` acts as nothing else, whatever other roles it lists: a key left on a host for an
 * unattended process must never be able to approve or apply.
 */
export function actsAs(i: Identity | undefined, role: Role): boolean {
  return !!i && !i.disabled && i.roles.includes(role) && (role === 'automation' || !i.roles.includes('automation'));
}

/** `ed25519:` followed by the base64 of the 32-byte raw public key. */
export const PUBLIC_KEY = /^ed25519:[A-Za-z0-9+/]{43}=$/;

/** One identity entry as written (untrusted). */
export const IdentitySchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9._-]{0,62}$/, 'names are lower-case letters, digits, . _ -'),
  roles: z.array(z.enum(ROLES)).min(1),
  public_key: z.string().regex(PUBLIC_KEY, 'must be ed25519:<base64 of the 32-byte key>, as printed by dotctl keygen'),
  disabled: z.boolean().optional(),
  groups: z
    .array(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'group names are lower-case letters, digits, _ and -'))
    .optional()
    .describe('Control groups this identity belongs to (e.g. data-owners); a law may require approvals from a group.'),
});

/** The identities file: the import/export form of a ledger's identity registry. */
export const IdentitiesSchema = z.strictObject({
  quorum: z.number().int().min(1).max(100).optional().describe('Signatures of distinct admins (reviewers when no member is an admin) a registry change needs; default 2.'),
  identities: z.array(IdentitySchema),
});

/** A validated identity. */
export interface Identity {
  readonly name: string;
  readonly roles: readonly Role[];
  readonly publicKey: string; // ed25519:…
  readonly disabled: boolean;
  /** control groups the identity belongs to (absent: none) */
  readonly groups?: readonly string[];
}

/** Decodes `ed25519:<base64>` into a KeyObject. */
export function publicKeyObject(publicKey: string): KeyObject {
  const raw = Buffer.from(publicKey.slice('ed25519:'.length), 'base64');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** Encodes a public KeyObject as `ed25519:<base64>`. */
export function encodePublicKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return `ed25519:${Buffer.from(jwk.x, 'base64url').toString('base64')}`;
}

/** Parses an identities file; every problem with its position, or the identities. */
export function parseIdentities(file: string, text: string): { kind: 'valid'; identities: readonly Identity[]; quorum: number | null } | { kind: 'invalid'; problems: readonly Problem[] } {
  const y = readPositionedYaml(file, text);
  if (y.kind === 'invalid') return y;
  const { value, at, nodeAt } = y;
  const parsed = IdentitiesSchema.safeParse(value);
  if (!parsed.success) {
    return { kind: 'invalid', problems: parsed.error.issues.map((i) => at(nodeAt(i.path), `${i.path.join('.') || 'document'}: ${i.message}`)) };
  }
  const problems: Problem[] = [];
  const names = new Map<string, number>();
  const keys = new Map<string, string>();
  const out: Identity[] = [];
  parsed.data.identities.forEach((e, i) => {
    if (names.has(e.name)) problems.push(at(nodeAt(['identities', i, 'name']), `identity ${e.name} is listed twice`));
    const owner = keys.get(e.public_key);
    if (owner) problems.push(at(nodeAt(['identities', i, 'public_key']), `the key of ${e.name} is already listed under ${owner}; one key, one identity`));
    try {
      publicKeyObject(e.public_key);
    } catch {
      problems.push(at(nodeAt(['identities', i, 'public_key']), `the public key of ${e.name} is not a valid Ed25519 key`));
    }
    names.set(e.name, i);
    keys.set(e.public_key, e.name);
    out.push({ name: e.name, roles: [...new Set(e.roles)], publicKey: e.public_key, disabled: e.disabled ?? false, ...(e.groups && e.groups.length > 0 ? { groups: [...new Set(e.groups)] } : {}) });
  });
  return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'valid', identities: out, quorum: parsed.data.quorum ?? null };
}

/** The identity holding a public key, if any. */
export function identityByKey(identities: readonly Identity[], publicKey: string): Identity | undefined {
  return identities.find((i) => i.publicKey === publicKey);
}
