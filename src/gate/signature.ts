/**
 * Ed25519 signatures over a domain-separated statement binding the action, the proposal id,
 * the exact proposal hash and the time it was made, so a signature can never be replayed onto
 * another proposal, another hash or another action, and its time (from which expiry is
 * computed) cannot be moved.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { publicKeyObject } from './identities.js';

/**
 * What a signature can mean. For `admit` the id is a DOT id and the hash its content hash
 * (a reviewer admits that exact content of that DOT).
 */
export type SignedAction = 'propose' | 'approve' | 'reject' | 'admit' | 'withdraw';

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
