/**
 * What `log verify` proves beyond the chain — the target's witness (`--target`) and a signed
 * checkpoint (`--checkpoint FILE`) — and `log checkpoint`, which exports one.
 */
import type { Command } from 'commander';
import type { LogVerdict, VerifyLogOptions } from '../../engine.js';
import { action, engineFor, out, outJson } from '../context.js';
import { LedgerError } from '../../engine.js';

/**
 * What `log verify` cross-checks: the target only when `--target` is on the command line (a
 * target from DOTCTL_TARGET or the workspace is not compared unasked), a checkpoint when given.
 */
export function crossCheckOptions(cmd: Command, checkpoint: string | undefined): VerifyLogOptions | null {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const target = root.getOptionValueSource('target') === 'cli';
  if (!target && checkpoint === undefined) return null;
  return { ...(target ? { target: true as const } : {}), ...(checkpoint !== undefined ? { checkpoint } : {}) };
}

/** Prints what the target and the checkpoint say (unless `json`); throws exit 7 naming the first problem. */
export async function reportCrossCheck(v: LogVerdict, json: boolean): Promise<void> {
  const problems: string[] = [];
  if (v.target) {
    const t = v.target;
    const where = `target ${t.target} (${t.fingerprint})`;
    if (t.problems.length === 0) {
      if (!json) out(`${where}: its witness agrees with this ledger (${t.witnessRows} witnessed apply/rollback row(s), ledger ${t.ledgerId})`);
    }
    for (const p of t.problems) {
      problems.push(`${where}: ${p.message}`);
      if (!json) out(`${where}: ${p.kind}: ${p.message}`);
    }
  }
  if (v.checkpoint) {
    const c = v.checkpoint;
    const what = `checkpoint of seq ${c.seq} by ${c.signer} (${c.at})`;
    if (c.problems.length === 0 && !json) out(`${what}: the ledger still contains that head, and its signature verifies`);
    for (const p of c.problems) {
      problems.push(`${what}: ${p.message}`);
      if (!json) out(`${what}: ${p.kind}: ${p.message}`);
    }
  }
  const first = problems[0];
  if (first === undefined) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s), listed above)` : '';
  throw new LedgerError(`${first}${more}`, { code: 'LEDGER_NOT_WITNESSED' });
}

/** Registers `log checkpoint` under `log`. */
export function registerCheckpointCommand(log: Command): void {
  log
    .command('checkpoint')
    .description('export a signed checkpoint of the ledger head (ledger id, seq, hash) to keep outside the ledger; `log verify --checkpoint FILE` proves it later')
    .option('--out <file>', 'write the checkpoint to this new file (else print it)')
    .action(
      action(async (opts: { out?: string }, cmd: Command) => {
        const cp = await (await engineFor(cmd)).checkpoint(opts.out !== undefined ? { out: opts.out } : {});
        if (opts.out === undefined) return outJson(cp);
        out(`checkpoint of ledger ${cp.ledger_id}: seq ${cp.seq}, head ${cp.hash}, signed by ${cp.signer} at ${cp.at}, written to ${opts.out}`);
      }),
    );
}
