import type { Command } from 'commander';
import { action, engineFor, out, outJson, ExitSignal } from '../context.js';
import type { ApplyReport } from '../../engine.js';
import { exitCodeFor } from '../exit.js';

const MARK: Record<string, string> = { passed: 'ok  ', failed: 'FAIL', error: 'ERR ', skipped: 'skip', already_applied: 'done', not_run: 'n/a ' };

/** Prints a per-step report. */
export function printReport(r: ApplyReport): void {
  for (const s of r.steps) {
    out(
      `  [${MARK[s.outcome] ?? s.outcome}] ${s.dotId} ${s.section.replace('_', '-')} · ${s.name} — ${s.observed}${s.outcome === 'failed' || s.outcome === 'error' ? ` (expected ${s.expected})` : ''}`,
    );
  }
  out(r.message);
  for (const l of r.leftToDo) out(`  left to do: ${l}`);
}

/** Registers `apply` and `rollback`. */
export function registerApplyCommands(program: Command): void {
  program
    .command('apply <proposal>')
    .description('apply an approved proposal (or rehearse it with --dry-run)')
    .option('--dry-run', 'rehearse: SQL in a transaction that is rolled back, patches on a temp copy; nothing changes')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).apply(id, { dryRun: opts.dryRun });
        const code = exitCodeFor(r.outcome);
        if (opts.json) outJson({ ...r, exitCode: code });
        else printReport(r);
        if (code !== 0) throw new ExitSignal(code);
      }),
    );
  program
    .command('rollback <proposal>')
    .description('run the rollback section of an applied proposal (gated, locked, logged)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).rollback(id);
        const code = exitCodeFor(r.outcome);
        if (opts.json) outJson({ ...r, exitCode: code });
        else printReport(r);
        if (code !== 0) throw new ExitSignal(code);
      }),
    );
}
