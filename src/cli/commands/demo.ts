/**
 * `demo` (the seed's incident reproduced and fixed end to end) and `audit-backups` (the seed's
 * lesson as a check: a gzip-valid dump with an empty payload is a failed backup). The demo
 * ignores --dots, --ledger, --identities and --key: it runs the shipped catalogue with its own
 * ledger and keys in a temporary directory; --target is its admin connection.
 */
import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import { action, globalOptions, out, outJson, ExitSignal } from '../context.js';
import { auditBackupDir, formatBackupAudit } from '../../engine.js';

/** Registers `demo` and `audit-backups`. */
export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('the incident, reproduced and fixed end to end on scratch databases of the local PostgreSQL (--target: admin connection)')
    .option('--keep', 'keep the scratch databases, roles and work directory for inspection')
    .option('--json', 'print only a JSON summary of the stages at the end')
    .action(
      action(async (opts: { keep?: boolean; json?: boolean }, cmd: Command) => {
        const { runDemo } = await import('../demo/run-demo.js');
        const controller = new AbortController();
        const onSignal = (): void => {
          process.stderr.write('\ndotctl demo: interrupted; cleaning up (press Ctrl-C again to stop at once and leave the scratch behind)\n');
          controller.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const r = await runDemo({ target: (await globalOptions(cmd)).target, keep: opts.keep === true, print: opts.json ? () => undefined : out, signal: controller.signal });
          if (opts.json) outJson(r);
          if (r.exitCode !== 0) throw new ExitSignal(r.exitCode);
        } finally {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
        }
      }),
    );

  program
    .command('audit-backups <dir>')
    .description('audit the *.sql.gz dumps in DIR: gzip integrity and payload of each; exit 4 when the newest is not a good backup')
    .option('--time-from <source>', 'order and measure by the file mtime or by the timestamp in its name (UTC): mtime | name', 'mtime')
    .option('--json', 'machine-readable output')
    .action(
      action(async (dir: string, opts: { timeFrom: string; json?: boolean }) => {
        if (opts.timeFrom !== 'mtime' && opts.timeFrom !== 'name') throw new InputError(`--time-from ${JSON.stringify(opts.timeFrom)} is not mtime or name`);
        const a = await auditBackupDir(dir, { timeFrom: opts.timeFrom });
        if (opts.json) outJson(a);
        else if (a.files.length === 0) out(`no *.sql.gz dumps in ${dir}: there is no backup`);
        else for (const line of formatBackupAudit(a)) out(line);
        if (a.status !== 'good') throw new ExitSignal(4);
      }),
    );
}
