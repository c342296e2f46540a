/**
 * Undoing a step that ran outside the transaction, one way whether the run that did it is still
 * going (a later step failed) or died (the next apply finds its changes in the log): a patched
 * file goes back only if it still holds exactly what the patch wrote, an archive is removed only
 * if it is exactly the file this apply wrote.
 */
import { discardArchive } from './archive.js';
import type { CheckResult } from './checks.js';
import { removeStaleTemps, revertPatch } from './patch.js';

/** A file a patch step changed: its diff, direction, and the sha256 before and after. */
export interface PatchedFile {
  readonly file: string;
  readonly diff: string;
  readonly reverse: boolean;
  readonly before: string;
  readonly after: string;
}

/** Puts a patched file back (and removes temp files a killed write left). */
export async function undoPatch(p: PatchedFile): Promise<CheckResult> {
  const out = await revertPatch(p.file, p.diff, p.reverse, p.before, p.after).catch((err: Error) => ({ kind: 'failed' as const, message: err.message }));
  const temps = await removeStaleTemps(p.file);
  const extra = temps > 0 ? `; removed ${temps} temp file(s) left by a killed write` : '';
  if (out.kind === 'failed') return { outcome: 'failed', observed: out.message, expected: `${p.file} back to sha256 ${p.before.slice(0, 12)}…` };
  return { outcome: 'passed', observed: `${out.kind === 'reverted' ? 'reverted' : 'already back to'} ${p.file} (sha256 ${p.before.slice(0, 12)}…)${extra}`, expected: 'the previous content' };
}

/** Removes an archive whose change never committed (the data is still in the database). */
export async function undoArchive(path: string, sha256: string): Promise<CheckResult> {
  const d = await discardArchive(path, sha256).catch((err: Error) => ({ kind: 'failed' as const, message: err.message }));
  if (d.kind === 'failed') return { outcome: 'failed', observed: d.message, expected: `the unused archive ${path} removed` };
  return {
    outcome: 'passed',
    observed: d.kind === 'discarded' ? `removed the unused archive ${path} (the change it guarded did not commit)` : `${path} is already gone`,
    expected: `the unused archive ${path} removed`,
  };
}
