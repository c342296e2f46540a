/**
 * Signed checkpoints and the cross-checks of `log verify`: a checkpoint is the ledger's id and
 * head, signed by whoever exported it (typically the auditor), kept outside the ledger; verifying
 * it later proves the ledger still contains that head. `verifyTargetWitness` compares the
 * target's witness with the ledger (engine/witness.ts).
 */
import { sign, verify } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { canonicalJson } from '../model/canonical.js';
import { InputError, LedgerError } from '../model/errors.js';
import { PUBLIC_KEY, publicKeyObject, type Identity } from '../gate/identities.js';
import type { LedgerStore } from '../ledger/port.js';
import { ledgerIdOf, rowHashesAt } from '../ledger/ledger-id.js';
import { readServerIdentity, resolveTarget, serverFingerprint, targetFingerprint, withTarget } from '../exec/target.js';
import { readWitness } from '../exec/witness.js';
import { verifyLog } from './audit.js';
import { withTrustedTime } from './clock.js';
import { ledgerName, nowIso, signerOf, withLedgerOf, type EngineOptions } from './options.js';
import { actorFrom, readRegistry } from './registry.js';
import { judgeWitness, requireLedgerId, witnessedHeadOf, witnessFacts, type WitnessProblem } from './witness.js';

/** A signed checkpoint of a ledger's head, as written to its file (snake_case). */
export interface Checkpoint {
  readonly ledger_id: string;
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  readonly signer: string;
  readonly public_key: string;
  readonly signature: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const CheckpointSchema = z.strictObject({
  ledger_id: z.string().regex(HEX64),
  seq: z.number().int().min(1),
  hash: z.string().regex(HEX64),
  at: z.string().min(1),
  signer: z.string().min(1),
  public_key: z.string().regex(PUBLIC_KEY),
  signature: z.string().min(1),
});

/** The exact bytes a checkpoint's signature covers (domain-separated from every other signature). */
function checkpointStatement(c: Omit<Checkpoint, 'public_key' | 'signature'>): Buffer {
  return Buffer.from(`dotctl/v1\ncheckpoint\n${canonicalJson({ ledger_id: c.ledger_id, seq: c.seq, hash: c.hash, at: c.at, signer: c.signer })}`, 'utf8');
}

/** Reads and validates a checkpoint file; bad input is an InputError naming the file. */
export async function readCheckpoint(file: string): Promise<Checkpoint> {
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) throw new InputError(`cannot read the checkpoint ${file}; pass the file dotctl log checkpoint wrote`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(`the checkpoint ${file} is not JSON; pass the file dotctl log checkpoint wrote`);
  }
  const r = CheckpointSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InputError(`the checkpoint ${file} is malformed: ${i?.path.join('.') || 'its top level'}: ${i?.message ?? 'invalid'}; pass the file dotctl log checkpoint wrote`);
  }
  return r.data;
}

/**
 * Exports a signed checkpoint of the ledger's head with the acting key (any known identity).
 * The chain is re-proved first: a broken ledger has no head worth signing (exit 7).
 */
export async function makeCheckpoint(given: EngineOptions, out?: string): Promise<Checkpoint> {
  const key = await signerOf(given);
  return withLedgerOf(given, 'read', async (ledger) => {
    const { me } = await actorFrom(ledger, ledgerName(given), key);
    const verdict = await verifyLog(ledger);
    if (verdict.kind !== 'intact') {
      throw new LedgerError(`no checkpoint of a broken ledger: dot_action_log is broken at seq ${verdict.seq}: ${verdict.message}`, { code: 'LEDGER_BROKEN', context: { ...verdict } });
    }
    const o = await withTrustedTime(given, ledger, null);
    const body = { ledger_id: await requireLedgerId(ledger), seq: verdict.rows, hash: verdict.headHash, at: nowIso(o), signer: me.name };
    const cp: Checkpoint = { ...body, public_key: key.publicKey, signature: sign(null, checkpointStatement(body), key.privateKey).toString('base64') };
    if (out !== undefined)
      await writeFile(out, `${JSON.stringify(cp, null, 2)}\n`, { flag: 'wx', mode: 0o644 }).catch((err: NodeJS.ErrnoException) => {
        throw new InputError(err.code === 'EEXIST' ? `${out} already exists; choose another --out` : `cannot write ${out} (${err.code}); choose a writable --out`);
      });
    return cp;
  });
}

/** One way a checkpoint does not hold. */
export interface CheckpointProblem {
  readonly kind: 'bad_signature' | 'unknown_signer' | 'other_ledger' | 'head_missing' | 'head_differs';
  readonly message: string;
}

/** What `log verify --checkpoint` found. */
export interface CheckpointReport {
  readonly ledgerId: string;
  readonly seq: number;
  readonly hash: string;
  readonly signer: string;
  readonly at: string;
  readonly problems: readonly CheckpointProblem[];
}

/** Judges a checkpoint against the ledger's id, its hash at the checkpoint's seq and the known identities. Pure. */
export function judgeCheckpoint(c: Checkpoint, ledgerId: string | null, held: string | undefined, head: number, identities: readonly Identity[]): CheckpointProblem[] {
  const problems: CheckpointProblem[] = [];
  let valid = false;
  try {
    valid = verify(null, checkpointStatement(c), publicKeyObject(c.public_key), Buffer.from(c.signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) problems.push({ kind: 'bad_signature', message: `the checkpoint's signature by ${c.signer} does not verify: the file was edited after it was signed` });
  const who = identities.find((i) => i.publicKey === c.public_key);
  if (!who || who.name !== c.signer) {
    problems.push({ kind: 'unknown_signer', message: `the checkpoint is signed by ${c.signer} with a key ${who ? `that belongs to ${who.name}` : 'no known identity holds'}` });
  }
  const short = (h: string): string => `${h.slice(0, 16)}…`;
  if (ledgerId !== c.ledger_id) {
    problems.push({
      kind: 'other_ledger',
      message: `the checkpoint is of ledger ${c.ledger_id}, but this ledger is ${ledgerId ?? 'empty'}: the ledger was swapped for another, or its first row was rewritten`,
    });
  } else if (held === undefined) {
    problems.push({
      kind: 'head_missing',
      message: `the checkpointed head seq ${c.seq} (${short(c.hash)}, ${c.at}) is gone: the ledger ends at seq ${head}; its newest rows were removed (tail truncation)`,
    });
  } else if (held !== c.hash) {
    problems.push({ kind: 'head_differs', message: `the ledger's row ${c.seq} has hash ${short(held)}, not the checkpointed ${short(c.hash)} (${c.at}): the ledger was re-hashed since` });
  }
  return problems;
}

/** Verifies a checkpoint (or its file) against the ledger. */
export async function verifyCheckpoint(ledger: LedgerStore, identities: readonly Identity[], checkpoint: Checkpoint | string): Promise<CheckpointReport> {
  const c = typeof checkpoint === 'string' ? await readCheckpoint(checkpoint) : checkpoint;
  const held = (await rowHashesAt(ledger, [c.seq])).get(c.seq);
  const [last] = await ledger.readEvents({ limit: 1 });
  const problems = judgeCheckpoint(c, await ledgerIdOf(ledger), held, last?.seq ?? 0, identities);
  return { ledgerId: c.ledger_id, seq: c.seq, hash: c.hash, signer: c.signer, at: c.at, problems };
}

/** What `log verify --target` found. */
export interface TargetReport {
  /** the target as people read it (host, port, database) */
  readonly target: string;
  /** the server and database it really is */
  readonly fingerprint: string;
  readonly ledgerId: string;
  /** witness rows in the target (of any ledger) */
  readonly witnessRows: number;
  readonly problems: readonly WitnessProblem[];
}

/**
 * Cross-checks the target's witness and the ledger both ways: every witnessed head is in the
 * ledger with its hash, every witnessed run has its proposal and its outcome in the ledger, and
 * every run the ledger records as witnessed on this target has its row in the target.
 */
export async function verifyTargetWitness(ledger: LedgerStore, target: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<TargetReport> {
  const address = resolveTarget(target, env);
  const seen = await withTarget(address, {}, async (s) => ({ fingerprint: serverFingerprint(await readServerIdentity(s.client)), rows: await readWitness(s.client) }));
  const facts = await witnessFacts(ledger, seen.rows, 'all');
  const claimed = [];
  for (const p of await ledger.listProposals()) {
    if (p.targetFingerprint !== seen.fingerprint) continue;
    for (const e of await ledger.readEvents({ proposalId: p.id })) {
      const w = witnessedHeadOf(e);
      if (w) claimed.push({ ...w, proposalId: p.id, row: e.seq });
    }
  }
  // a head the ledger no longer holds is already named; its claims would only repeat it
  const held = await rowHashesAt(
    ledger,
    claimed.map((c) => c.seq),
  );
  const problems = judgeWitness({ ...facts, claimed: claimed.filter((c) => held.get(c.seq) === c.hash) });
  return { target: targetFingerprint(address), fingerprint: seen.fingerprint, ledgerId: facts.ledgerId, witnessRows: seen.rows.length, problems };
}

/** `verifyTargetWitness` and `verifyCheckpoint` with the engine's options (ledger, identities, target, env). */
export async function crossCheck(
  o: EngineOptions,
  opts: { readonly target?: string | true; readonly checkpoint?: Checkpoint | string },
): Promise<{ target?: TargetReport; checkpoint?: CheckpointReport }> {
  return withLedgerOf(o, 'read', async (ledger) => {
    // a checkpoint's signer is judged by every key the registry ever held for them (a key rotated later still vouches for its earlier checkpoints)
    const identities = opts.checkpoint === undefined ? [] : (await readRegistry(ledger)).entries.flatMap((e) => e.registry.members);
    return {
      ...(opts.target !== undefined ? { target: await verifyTargetWitness(ledger, opts.target === true ? o.target : opts.target, o.env) } : {}),
      ...(opts.checkpoint !== undefined ? { checkpoint: await verifyCheckpoint(ledger, identities, opts.checkpoint) } : {}),
    };
  });
}
