/**
 * The effects port for the rollback proof (`dotctl test`): the SQL, archives and restores are
 * real, against the scratch database; files are never the real ones — every file a patch
 * touches is copied to a temporary directory first, and every step (patches, file checks,
 * command arguments and environment) sees the copy. Commands of a DOT's checks and post-verify
 * run (as they do at propose and apply); commands of its diff and rollback run only when marked
 * `rehearse: true`, and every one skipped is remembered: the proof does not cover it.
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { archiveSchema, discardArchive, restoreArchive } from './archive.js';
import { checkFile, fileSha256, judgeCommand } from './checks.js';
import { baseEnv, runCommand } from './command.js';
import { patchResult, type Effects, type EffectResult } from './effects.js';
import { patchFile } from './patch.js';
import type { TargetAddress } from './target.js';

/** The two faces of the port (checks run commands, changes only rehearsable ones) and the proof's file state. */
export interface ScratchEffects {
  /** for hard stops, pre-checks and post-verify */
  readonly checks: Effects;
  /** for diff and rollback */
  readonly changes: Effects;
  /** copies each file to the temporary directory (before anything runs); returns why one cannot be read, or null */
  copyFiles(paths: readonly string[]): Promise<string | null>;
  /** starts another pass: archives are written to new temporary files, so "no archive yet" holds again */
  newPass(): void;
  /** how each copy differs from the file it was copied from (a unified diff), after a rollback */
  fileDifferences(): Promise<string[]>;
  /** commands that were not run, so the proof does not cover them */
  readonly notRun: readonly string[];
  dispose(): Promise<void>;
}

/** Builds the port for a scratch database. */
export async function scratchEffects(scratch: TargetAddress): Promise<ScratchEffects> {
  const dir = await mkdtemp(join(tmpdir(), 'dotctl-test-'));
  const files = new Map<string, { copy: string; text: string }>(); // real path → copy and its text before
  const archives = new Map<string, string>(); // archive path → this pass's temporary file
  const notRun: string[] = [];
  let n = 0;
  let pass = 1;
  const swap = (s: string): string => files.get(s)?.copy ?? archives.get(s) ?? s;
  const unswap = (text: string): string =>
    [...files.entries()].reduce(
      (t, [real, f]) => t.split(f.copy).join(real),
      [...archives.entries()].reduce((t, [real, tmp]) => t.split(tmp).join(real), text),
    );

  const command =
    (changes: boolean): Effects['command'] =>
    async (step, libpq) => {
      if (changes && !step.rehearse) {
        notRun.push(`command "${step.name}" (${step.argv.join(' ')})`);
        return { outcome: 'passed', skipped: true, observed: 'not run by dotctl test: the DOT does not mark this command safe to rehearse, so the proof does not cover it', expected: '' };
      }
      const argv = step.argv.map(swap);
      const env = Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, swap(v)]));
      const r = judgeCommand(step, await runCommand(argv, { ...baseEnv(), ...libpq, ...env }, step.timeoutMs));
      return { ...r, observed: unswap(r.observed) };
    };

  const base = (changes: boolean): Effects => ({
    kind: 'rehearsal',
    sqlEnd: 'COMMIT',
    runsNonTransactionalSql: true,
    async patch(step) {
      const f = files.get(step.file);
      if (!f) return { outcome: 'failed', observed: `${step.file} was not copied for the test`, expected: `a copy of ${step.file}` };
      const r = patchResult({ ...step, file: f.copy }, await patchFile(f.copy, step.diff, { reverse: step.reverse, sha256: step.sha256, write: true }), true);
      return { ...r, observed: `on a copy: ${unswap(r.observed)}` };
    },
    async archive(step, expectTables): Promise<EffectResult> {
      n += 1;
      const to = join(dir, `pass${pass}-${n}-${basename(step.to)}`);
      const r = await archiveSchema(scratch, step.schema, to, expectTables);
      if (r.kind !== 'ok') return { outcome: 'failed', observed: r.message, expected: `a verified archive of ${step.schema}` };
      archives.set(step.to, to);
      return {
        outcome: 'passed',
        observed: `archived the scratch copy's ${step.schema}: ${r.info.bytes} bytes, ${r.info.entries} entries, ${r.info.tableData} tables' data (a temporary file)`,
        expected: `a verified archive of ${step.schema}`,
        undo: async () => {
          const d = await discardArchive(to, r.info.sha256);
          return d.kind === 'failed' ? { outcome: 'failed', observed: d.message, expected: '' } : { outcome: 'passed', observed: 'removed the unused temporary archive', expected: '' };
        },
      };
    },
    async restore(step) {
      const from = swap(step.from);
      const r = await restoreArchive(scratch, from);
      return r.kind === 'ok'
        ? { outcome: 'passed', observed: `restored ${r.entries} entries into the scratch copy from ${step.from}`, expected: `a restore from ${step.from}` }
        : { outcome: 'failed', observed: unswap(r.message), expected: `a restore from ${step.from}` };
    },
    async restoreDrill(step) {
      // the scratch copy holds only some schemas' rows: a drill against it would prove nothing
      notRun.push(`restore drill "${step.name}" (${step.dir})`);
      return { outcome: 'passed', skipped: true, observed: 'not run by dotctl test: a restore drill compares a dump with the live database, which the scratch copy is not', expected: '' };
    },
    command: command(changes),
    async file(step) {
      const path = swap(step.path);
      const r = await checkFile({ ...step, path });
      return { ...r, observed: unswap(r.observed) };
    },
    async dispose() {},
  });

  return {
    checks: base(false),
    changes: base(true),
    notRun,
    async copyFiles(paths) {
      for (const p of paths) {
        if (files.has(p)) continue;
        n += 1;
        const copy = join(dir, `${n}-${basename(p)}`);
        const ok = await copyFile(p, copy).then(
          () => true,
          () => false,
        );
        if (!ok) return `${p} does not exist or cannot be read`;
        files.set(p, { copy, text: await readFile(copy, 'utf8') });
      }
      return null;
    },
    newPass() {
      pass += 1;
      archives.clear();
    },
    async fileDifferences() {
      const out: string[] = [];
      for (const [real, f] of files) {
        const now = await readFile(f.copy, 'utf8').catch(() => null);
        if (now === null) out.push(`- file ${real}: missing after the rollback`);
        else if (now !== f.text) {
          const sha = await fileSha256(f.copy);
          out.push(
            `~ file ${real}: not as before after the rollback (sha256 now ${sha.slice(0, 12)}…):\n${createTwoFilesPatch(`${real} (before)`, `${real} (after the rollback)`, f.text, now, '', '', { context: 1 }).split('\n').slice(2).join('\n').trimEnd()}`,
          );
        }
      }
      return out;
    },
    async dispose() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
