/**
 * The effects of non-SQL steps, behind one port with two implementations: `liveEffects` changes
 * the world; `rehearsalEffects` does the same work on temporary copies (patches on a temp copy,
 * archives to a temp file that is deleted, commands only when marked safe to rehearse). The
 * executor never asks "is this a dry run?" inside a step.
 */
import { copyFile, mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { BoundStep } from '../catalogue/steps.js';
import { archiveSchema, restoreArchive } from './archive.js';
import { checkCommand, checkFile, judgeCommand, type CheckResult } from './checks.js';
import { baseEnv, runCommand } from './command.js';
import { patchFile } from './patch.js';
import { restoreDrill } from './restore-drill.js';
import { undoArchive, undoPatch } from './undo.js';
import type { TargetAddress } from './target.js';

type Of<K extends BoundStep['kind']> = Extract<BoundStep, { kind: K }>;

/** Result of one step's effect. `undo` puts back what it changed, when that is possible. */
export interface EffectResult extends CheckResult {
  readonly skipped?: boolean;
  readonly alreadyApplied?: boolean;
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly undo?: () => Promise<CheckResult>;
}

/** The port. */
export interface Effects {
  readonly kind: 'live' | 'rehearsal';
  /** How the SQL transaction ends when every check passed. */
  readonly sqlEnd: 'COMMIT' | 'ROLLBACK';
  patch(step: Of<'patch'>): Promise<EffectResult>;
  archive(step: Of<'archive'>, expectTables: number, onProgress?: (bytes: number) => void): Promise<EffectResult>;
  restore(step: Of<'restore'>): Promise<EffectResult>;
  /** a restore drill: a scratch database on the target's server, restored, compared, dropped; the target is only read */
  restoreDrill(step: Of<'restore_drill'>): Promise<EffectResult>;
  command(step: Of<'command'>, libpq: Readonly<Record<string, string>>): Promise<EffectResult>;
  file(step: Of<'file'>): Promise<EffectResult>;
  /** true when SQL that cannot run in a transaction may run (never in a rehearsal) */
  readonly runsNonTransactionalSql: boolean;
  dispose(): Promise<void>;
}

/** The result of a patch as a step reports it; `undoable` adds the undo that restores the file. */
export function patchResult(step: Of<'patch'>, r: Awaited<ReturnType<typeof patchFile>>, undoable: boolean): EffectResult {
  const expected = `${step.reverse ? 'reverse-apply' : 'apply'} ${step.diffFile ?? 'the diff'} to ${step.file}`;
  switch (r.kind) {
    case 'applied':
      return {
        outcome: 'passed',
        observed: `patched ${step.file}: sha256 ${r.sha256Before.slice(0, 12)}… → ${r.sha256After.slice(0, 12)}…`,
        expected,
        detail: { file: step.file, sha256_before: r.sha256Before, sha256_after: r.sha256After },
        undo: undoable ? () => undoPatch({ file: step.file, diff: step.diff, reverse: step.reverse, before: r.sha256Before, after: r.sha256After }) : undefined,
      };
    case 'already_applied':
      return { outcome: 'passed', alreadyApplied: true, observed: `${step.file} already has this change (sha256 ${r.sha256.slice(0, 12)}…); not applied twice`, expected };
    case 'missing':
      return { outcome: 'failed', observed: r.message, expected };
    case 'sha_mismatch':
      return { outcome: 'failed', observed: `${step.file} has sha256 ${r.actual.slice(0, 12)}…, pinned ${r.expected.slice(0, 12)}…`, expected };
    case 'conflict':
      return { outcome: 'failed', observed: r.message, expected };
    default: {
      const never: never = r;
      return never;
    }
  }
}

/** Effects that change the world. */
export function liveEffects(target: TargetAddress): Effects {
  return {
    kind: 'live',
    sqlEnd: 'COMMIT',
    runsNonTransactionalSql: true,
    async patch(step) {
      return patchResult(step, await patchFile(step.file, step.diff, { reverse: step.reverse, sha256: step.sha256, write: true }), true);
    },
    async archive(step, expectTables, onProgress) {
      const r = await archiveSchema(target, step.schema, step.to, expectTables, onProgress);
      if (r.kind === 'failed') return { outcome: 'failed', observed: r.message, expected: `a verified archive of ${step.schema}` };
      const i = r.info;
      return {
        outcome: 'passed',
        observed: `${i.path}: ${i.bytes} bytes, ${i.entries} entries, ${i.tableData} tables' data, sha256 ${i.sha256.slice(0, 12)}…`,
        expected: `a verified archive of ${step.schema}`,
        detail: { archive: i.path, bytes: i.bytes, sha256: i.sha256, entries: i.entries, table_data: i.tableData },
        // only called when the change it guards did not commit: the data is still in the database
        undo: () => undoArchive(i.path, i.sha256),
      };
    },
    async restore(step) {
      const r = await restoreArchive(target, step.from);
      return r.kind === 'ok'
        ? { outcome: 'passed', observed: `restored ${r.entries} entries from ${step.from}`, expected: `a restore from ${step.from}` }
        : { outcome: 'failed', observed: r.message, expected: `a restore from ${step.from}` };
    },
    restoreDrill(step) {
      return restoreDrill(target, step);
    },
    async command(step, libpq) {
      return checkCommand(step, libpq);
    },
    async file(step) {
      return checkFile(step);
    },
    async dispose() {},
  };
}

/** Effects that rehearse: temp copies, temp archives, only commands marked `rehearse`. */
export async function rehearsalEffects(target: TargetAddress): Promise<Effects> {
  const dir = await mkdtemp(join(tmpdir(), 'dotctl-rehearsal-'));
  const copies = new Map<string, string>(); // real path → rehearsal copy
  const swap = (s: string): string => copies.get(s) ?? s;
  let n = 0;
  return {
    kind: 'rehearsal',
    sqlEnd: 'ROLLBACK',
    runsNonTransactionalSql: false,
    async patch(step) {
      let copy = copies.get(step.file);
      if (!copy) {
        n += 1;
        copy = join(dir, `${n}-${basename(step.file)}`);
        const ok = await copyFile(step.file, copy).then(
          () => true,
          () => false,
        );
        if (!ok) return { outcome: 'failed', observed: `${step.file} does not exist or cannot be read`, expected: `a patchable ${step.file}` };
        copies.set(step.file, copy);
      }
      const r = patchResult(step, await patchFile(copy, step.diff, { reverse: step.reverse, sha256: step.sha256, write: true }), false);
      if (r.outcome !== 'passed') return { ...r, observed: r.observed.split(copy).join(step.file) };
      // a shell script must still parse after the patch
      const text = await readFile(copy, 'utf8');
      if (/^#!.*\b(ba)?sh\b/.test(text)) {
        const syntax = await runCommand(['bash', '-n', copy], baseEnv(), 30_000);
        if (syntax.exitCode !== 0) return { outcome: 'failed', observed: `bash -n on the patched copy: ${syntax.stderr.trim().split(copy).join(step.file)}`, expected: 'a script that parses' };
      }
      return { ...r, observed: `rehearsed on a copy: ${r.observed.split(copy).join(step.file)}` };
    },
    async archive(step, expectTables) {
      n += 1;
      const to = join(dir, `${n}-${basename(step.to)}`);
      const r = await archiveSchema(target, step.schema, to, expectTables);
      if (r.kind !== 'ok') return { outcome: 'failed', observed: r.message, expected: `a verified archive of ${step.schema}` };
      // later checks of the archive's path (a post-verify "archive is kept") look at this copy
      copies.set(step.to, to);
      return {
        outcome: 'passed',
        observed: `rehearsed: ${r.info.bytes} bytes, ${r.info.entries} entries, ${r.info.tableData} tables' data (a temporary archive, deleted after the rehearsal)`,
        expected: `a verified archive of ${step.schema}`,
      };
    },
    async restore(step) {
      return { outcome: 'passed', skipped: true, observed: `not rehearsed: a restore from ${step.from} would change the target`, expected: '' };
    },
    // the drill changes nothing of the target (its scratch database is its own and is dropped): rehearsed for real
    restoreDrill(step) {
      return restoreDrill(target, step);
    },
    async command(step, libpq) {
      if (!step.rehearse) return { outcome: 'passed', skipped: true, observed: 'not rehearsed: the DOT does not mark this command safe to rehearse', expected: '' };
      const swapped = { ...step, argv: step.argv.map(swap), env: Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, swap(v)])) };
      const run = await runCommand(swapped.argv, { ...baseEnv(), ...libpq, ...swapped.env }, step.timeoutMs);
      const r = judgeCommand(step, run);
      return { ...r, observed: [...copies.entries()].reduce((t, [real, copy]) => t.split(copy).join(real), r.observed) };
    },
    async file(step) {
      const copy = swap(step.path);
      const r = await checkFile({ ...step, path: copy });
      return { ...r, observed: r.observed.split(copy).join(step.path) };
    },
    async dispose() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
