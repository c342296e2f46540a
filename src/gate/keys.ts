/**
 * Private key files: Ed25519 keys in PKCS#8 PEM, written 0600 and refused when group or others
 * can read them (as ssh does). The acting identity is derived from the key, never from a flag.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { open, readFile, stat, mkdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, GateError } from '../model/errors.js';
import { encodePublicKey, parseIdentities, identityByKey, type Identity } from './identities.js';
import { SpecError } from '../model/errors.js';

/** Largest identities file read. */
const MAX_IDENTITIES_BYTES = 1024 * 1024;

/** A loaded private key and the public key it implies. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: string; // ed25519:…
  readonly file: string;
}

/** Writes a new key pair for `name` into `dir` (private key 0600); returns its path and public key. */
export async function generateKeyFile(name: string, dir: string): Promise<{ file: string; publicKey: string }> {
  if (!/^[a-z][a-z0-9._-]{0,62}$/.test(name)) {
    throw new InputError(`identity name ${JSON.stringify(name)} must be lower-case letters, digits, . _ - (starting with a letter)`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const file = join(dir, `${name}.key`);
  let fh: FileHandle;
  try {
    fh = await open(file, 'wx', 0o600); // never overwrite an existing key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new InputError(`${file} already exists; choose another --dir or remove the old key first`);
    throw new InputError(`cannot write ${file} (${(err as NodeJS.ErrnoException).code}); choose a writable --dir`);
  }
  try {
    await fh.writeFile(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { file, publicKey: encodePublicKey(publicKey) };
}

/** Loads a private key file, refusing one that group or others can read. */
export async function loadSigningKey(file: string | undefined): Promise<SigningKey> {
  if (!file) throw new InputError('no key given; pass --key FILE or set DOTCTL_KEY (create one with dotctl keygen NAME)');
  const st = await stat(file).catch(() => null);
  if (!st) throw new InputError(`key file ${file} does not exist; pass the key dotctl keygen wrote`);
  if ((st.mode & 0o077) !== 0) {
    throw new InputError(`key file ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${file}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(await readFile(file, 'utf8'));
  } catch {
    throw new InputError(`key file ${file} is not a PEM private key; use a key written by dotctl keygen`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new InputError(`key file ${file} is not an Ed25519 key; use a key written by dotctl keygen`);
  return { privateKey, publicKey: encodePublicKey(createPublicKey(privateKey)), file };
}

/** Reads and validates the identities file. */
export async function loadIdentities(file: string | undefined): Promise<readonly Identity[]> {
  return (await loadIdentitiesFile(file)).identities;
}

/** Reads and validates an identities file with its registry quorum (null when it names none). */
export async function loadIdentitiesFile(file: string | undefined): Promise<{ identities: readonly Identity[]; quorum: number | null }> {
  if (!file) throw new InputError('no identities file; pass --identities FILE or set DOTCTL_IDENTITIES');
  const st = await stat(file).catch(() => null);
  if (st && st.size > MAX_IDENTITIES_BYTES) {
    throw new InputError(`the identities file ${file} is larger than 1 MiB (${st.size} bytes); an identities file lists people and keys, keep it small`);
  }
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) throw new InputError(`cannot read the identities file ${file}; check --identities / DOTCTL_IDENTITIES`);
  const r = parseIdentities(file, text);
  if (r.kind === 'invalid') throw new SpecError(r.problems);
  return { identities: r.identities, quorum: r.quorum };
}

/** The identity whose key this is in the ledger's identity registry in force, or a gate refusal. */
export function actingIdentity(identities: readonly Identity[], key: SigningKey): Identity {
  const who = identityByKey(identities, key.publicKey);
  if (!who) {
    throw new GateError(
      `the key ${key.file} belongs to no member of the ledger's identity registry (editing an identities file adds no one); a member is added by a registry change: dotctl identities change FILE, approved by the quorum`,
    );
  }
  if (who.disabled) throw new GateError(`${who.name} is disabled in the ledger's identity registry`);
  return who;
}
