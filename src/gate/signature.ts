/**
 * Ed25519 signatures over a domain-separated statement binding the action, the proposal id,
 * the exact proposal hash and the time it was made, so a signature can never be replayed onto
 * another proposal, another hash or another action, and its time (from which expiry is
 * computed) cannot be moved.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { publicKeyObject } from './identities.js';
import { canonicalJson } from '../model/canonical.js';

/**
 * What a signature can mean. For `admit` the id is a DOT id and the hash its content hash
 * (a reviewer admits that exact content of that DOT). For `registry` the id is a registry change
 * id (`genesis` for the first registry) and the hash that of the registry change.
 */
export type SignedAction = 'propose' | 'approve' | 'reject' | 'admit' | 'withdraw' | 'registry';

/** The exact bytes that are signed. */
export function signedStatement(action: SignedAction, proposalId: string, hash: string, at: string): Buffer {
  return Buffer.from(`dotctl/v1\n${action}\n${proposalId}\n${hash}\n${at}`, 'utf8');
}

/** Signs a statement with a private key; base64 signature. */
export function signStatement(privateKey: KeyObject, action: SignedAction, proposalId: string, hash: string, at: string): string {
  return sign(null, signedStatement(action, proposalId, hash, at), privateKey).toString('base64');
}

/** True when `signature` is `publicKey`'s signature of that statement. */
export function verifyStatement(publicKey: string, signature: string, action: SignedAction, proposalId: string, hash: string, at: string): boolean {
  try {
    return verify(null, signedStatement(action, proposalId, hash, at), publicKeyObject(publicKey), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** What a signed head vouches for: this ledger's row `seq` hashes to `hash`, signed by `actor` at `at`. */
export interface HeadClaim {
  /** the ledger id: the hash of its row seq 1 */
  readonly ledgerId: string;
  readonly seq: number;
  readonly hash: string;
  readonly actor: string;
  readonly at: string;
}

/** The exact bytes of a head signature: the canonical JSON of the claim. */
export function headStatement(c: HeadClaim): Buffer {
  return Buffer.from(canonicalJson({ ledger_id: c.ledgerId, seq: c.seq, hash: c.hash, actor: c.actor, at: c.at }), 'utf8');
}

/** Signs a head claim; base64 signature. */
export function signHead(privateKey: KeyObject, c: HeadClaim): string {
  return sign(null, headStatement(c), privateKey).toString('base64');
}

/** True when `signature` is `publicKey`'s signature of the head claim. */
export function verifyHead(publicKey: string, signature: string, c: HeadClaim): boolean {
  try {
    return verify(null, headStatement(c), publicKeyObject(publicKey), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

// Decoded public keys by their `ed25519:` text: a ledger's heads are signed by a few keys, and
// decoding one per head (JWK import) cost 1.3 s of 20 s verifying 90,909 heads.
const keyCache = new Map<string, KeyObject | null>();

function cachedKey(publicKey: string): KeyObject | null {
  let k = keyCache.get(publicKey);
  if (k === undefined) {
    try {
      k = publicKeyObject(publicKey);
    } catch {
      k = null;
    }
    if (keyCache.size >= 1024) keyCache.clear();
    keyCache.set(publicKey, k);
  }
  return k;
}

/**
 * `verifyHead`, off this thread: the verification runs in libuv's thread pool, so a caller can
 * keep several in flight (one per core) while it goes on. Resolves true exactly when verifyHead
 * would return true; never rejects.
 */
export function verifyHeadAsync(publicKey: string, signature: string, c: HeadClaim): Promise<boolean> {
  const key = cachedKey(publicKey);
  if (key === null) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, headStatement(c), key, Buffer.from(signature, 'base64'), (err, ok) => resolve(err === null && ok === true));
    } catch {
      resolve(false);
    }
  });
}
