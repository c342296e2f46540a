/**
 * File patches: a unified diff applied with the diff library, written atomically (temp file in
 * the same directory, fsync, rename; mode and owner kept). An already-applied patch is detected
 * and reported, never applied twice; a hunk that does not apply changes nothing.
 */
import { applyPatch, parsePatch, reversePatch, type StructuredPatch } from 'diff';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, stat, unlink, chown, chmod } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileSha256 } from './checks.js';

/** What patching a file did or would do. */
export type PatchOutcome =
  | { readonly kind: 'applied'; readonly before: string; readonly after: string; readonly sha256Before: string; readonly sha256After: string }
  | { readonly kind: 'already_applied'; readonly sha256: string }
  | { readonly kind: 'missing'; readonly message: string }
  | { readonly kind: 'sha_mismatch'; readonly expected: string; readonly actual: string }
  | { readonly kind: 'conflict'; readonly message: string };

function patchOf(diff: string, reverse: boolean): StructuredPatch {
  const [p] = parsePatch(diff);
  if (!p) throw new TypeError('empty diff');
  return reverse ? (reversePatch(p) as StructuredPatch) : p;
}

/** Hunk headers of a patch, for messages. */
function hunks(p: StructuredPatch): string {
  return p.hunks.map((h) => `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`).join(', ');
}

/** Computes what the patch does to `content`. Pure. */
export function planPatch(content: string, diff: string, reverse: boolean): { kind: 'apply'; after: string } | { kind: 'already_applied' } | { kind: 'conflict'; message: string } {
  const forward = patchOf(diff, reverse);
  const after = applyPatch(content, forward);
  if (after !== false) return { kind: 'apply', after };
  const back = patchOf(diff, !reverse);
  if (applyPatch(content, back) !== false) return { kind: 'already_applied' };
  return { kind: 'conflict', message: `hunk(s) ${hunks(forward)} do not apply` };
}

/** Writes `content` to `path` atomically, keeping mode and owner. */
export async function writeAtomic(path: string, content: string): Promise<void> {
  const st = await stat(path);
  const tmp = join(dirname(path), `.${basename(path)}.dotctl-${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'wx', st.mode & 0o7777);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await chmod(tmp, st.mode & 0o7777);
    await chown(tmp, st.uid, st.gid).catch(() => undefined); // only root can give files away
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Applies (or reverse-applies) a diff to a file. With `write: false` only plans (rehearsal).
 */
export async function patchFile(path: string, diff: string, opts: { reverse: boolean; sha256?: string; write: boolean }): Promise<PatchOutcome> {
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) return { kind: 'missing', message: `${path} does not exist or is not a regular file` };
  const before = await readFile(path, 'utf8');
  const shaBefore = await fileSha256(path);
  if (opts.sha256 && opts.sha256 !== shaBefore) {
    const plan = planPatch(before, diff, opts.reverse);
    if (plan.kind === 'already_applied') return { kind: 'already_applied', sha256: shaBefore };
    return { kind: 'sha_mismatch', expected: opts.sha256, actual: shaBefore };
  }
  const plan = planPatch(before, diff, opts.reverse);
  if (plan.kind === 'already_applied') return { kind: 'already_applied', sha256: shaBefore };
  if (plan.kind === 'conflict') return { kind: 'conflict', message: `${path}: ${plan.message}` };
  if (opts.write) await writeAtomic(path, plan.after);
  return { kind: 'applied', before, after: plan.after, sha256Before: shaBefore, sha256After: createHash('sha256').update(plan.after).digest('hex') };
}

/** Temp files `writeAtomic` leaves next to `path` when the process dies before its rename. */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = `.${basename(path)}.dotctl-`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^[0-9a-f]{8}$/.test(name.slice(prefix.length))) continue;
    await unlink(join(dirname(path), name)).then(
      () => (n += 1),
      () => undefined,
    );
  }
  return n;
}

/** What reverting a recorded patch did. */
export type RevertOutcome = { readonly kind: 'reverted' } | { readonly kind: 'already_reverted' } | { readonly kind: 'failed'; readonly message: string };

/**
 * Puts a file a patch step changed back to its recorded content: the file must hold exactly
 * the recorded `sha256After` (else it changed since, and is left alone), and the reverse of
 * the diff must produce exactly `sha256Before`. Used when the process that patched it died.
 */
export async function revertPatch(path: string, diff: string, reverse: boolean, sha256Before: string, sha256After: string): Promise<RevertOutcome> {
  const now = await fileSha256(path).catch(() => null);
  if (now === null) return { kind: 'failed', message: `${path} is missing` };
  if (now === sha256Before) return { kind: 'already_reverted' };
  if (now !== sha256After) return { kind: 'failed', message: `${path} changed since it was patched (sha256 ${now.slice(0, 12)}…, patched ${sha256After.slice(0, 12)}…); left as it is` };
  const plan = planPatch(await readFile(path, 'utf8'), diff, !reverse);
  if (plan.kind !== 'apply') return { kind: 'failed', message: `${path}: the reverse of the patch does not apply` };
  const sum = createHash('sha256').update(plan.after).digest('hex');
  if (sum !== sha256Before) return { kind: 'failed', message: `${path}: the reverse of the patch gives sha256 ${sum.slice(0, 12)}…, not the recorded ${sha256Before.slice(0, 12)}…; left as it is` };
  await writeAtomic(path, plan.after);
  return { kind: 'reverted' };
}
