/**
 * Ed25519 signatures over a domain-separated statement binding the action, the proposal id
 * and the exact proposal hash, so a signature can never be replayed onto another proposal,
 * another hash or another action.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { publicKeyObject } from './identities.js';

/** What a signature can mean. */
export type SignedAction = 'propose' | 'approve' | 'reject';

/** The exact bytes that are signed. */
export function signedStatement(action: SignedAction, proposalId: string, hash: string): Buffer {
  return Buffer.from(`dotctl/v1\n${action}\n${proposalId}\n${hash}`, 'utf8');
}

/** Signs a statement with a private key; base64 signature. */
export function signStatement(privateKey: KeyObject, action: SignedAction, proposalId: string, hash: string): string {
  return sign(null, signedStatement(action, proposalId, hash), privateKey).toString('base64');
}

/** True when `signature` is `publicKey`'s signature of that statement. */
export function verifyStatement(publicKey: string, signature: string, action: SignedAction, proposalId: string, hash: string): boolean {
  try {
    return verify(null, signedStatement(action, proposalId, hash), publicKeyObject(publicKey), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
