import type { Command } from 'commander';
import { action, engineFor, out, outJson } from '../context.js';

/** Registers `withdraw`. */
export function registerWithdrawCommand(program: Command): void {
  program
    .command('withdraw <proposal>')
    .description('withdraw a proposal that was never applied (stale, superseded): an operator, signed and logged; it can never be applied afterwards')
    .requiredOption('--reason <text>', 'why it is withdrawn')
    .option('--superseded-by <proposal>', 'the proposal that replaces it (recorded in the log)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, opts: { reason: string; supersededBy?: string; json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).withdraw(id, opts.reason, opts.supersededBy);
        if (opts.json) return outJson(r);
        out(`${r.actor} withdrew ${r.id}${r.supersededBy ? ` (superseded by ${r.supersededBy})` : ''}: ${r.reason}`);
      }),
    );
}
