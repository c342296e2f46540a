/**
 * What every subcommand's `--help` adds to commander's own: the global options (commander shows
 * them with `showGlobalOptions`), an example and the exit codes that command can end with.
 */
import type { Command } from 'commander';

/** One example per command, as a user would type it. */
const EXAMPLES: Readonly<Record<string, string>> = {
  validate: 'dotctl --dots ./dots validate',
  list: 'dotctl list --json',
  show: 'dotctl show A',
  render: 'dotctl render A D -p schema=sandbox_tac --out a+d.md',
  keygen: 'dotctl keygen rita --role reviewer        # or: dotctl keygen --show .dotctl/keys/rita.key --role reviewer',
  admit: 'dotctl --key rita.key admit A D',
  admissions: 'dotctl admissions A',
  propose: 'dotctl --key olga.key propose A D -p expected_host=$(hostname)',
  approve: 'dotctl --key rita.key approve P-20261128-1a2b3c',
  reject: 'dotctl --key rita.key reject P-20261128-1a2b3c --reason "wrong schema"',
  apply: 'dotctl --key omar.key apply P-20261128-1a2b3c        # --dry-run to rehearse',
  rollback: 'dotctl --key omar.key rollback P-20261128-1a2b3c',
  withdraw: 'dotctl --key olga.key withdraw P-20261128-1a2b3c --reason "superseded" --superseded-by P-20261129-4d5e6f',
  status: 'dotctl status P-20261128-1a2b3c',
  proposals: 'dotctl proposals --state proposed',
  log: 'dotctl log --proposal P-20261128-1a2b3c --json',
  demo: 'npx dotctl demo --keep',
  'audit-backups': 'dotctl audit-backups /opt/incomex/backups/pg',
  verify: 'dotctl log verify        # record the head it prints somewhere else',
  watch: 'dotctl --key .dotctl/keys/watch.key watch --once        # from cron; --every 5m as a service',
};

const COMMON = '2 bad input (usage, spec, parameter, unknown proposal) · 7 ledger unavailable or broken · 1 internal error';
const RUNS = '3 gate refused · 4 a hard stop or pre-check failed (nothing changed) · 5 failed and rolled back (nothing changed) · 6 needs a human · 8 target unreachable · 9 target busy';

/** Exit codes each command may end with, beyond the common ones. */
const EXITS: Readonly<Record<string, string>> = {
  propose: '3 gate refused (not an operator, content not admitted) · 4 a hard stop or pre-check failed · 8 target unreachable',
  approve: '3 refused (not a reviewer, own proposal, not proposed)',
  reject: '3 refused (not a reviewer, not proposed)',
  admit: '3 refused (not a reviewer)',
  apply: RUNS,
  rollback: RUNS,
  withdraw: '3 refused (not an operator, or the proposal is not in state proposed)',
  'audit-backups': '4 the newest dump is broken, or there is none',
  verify: '7 the chain is broken (names the first bad row)',
  demo: '1 a stage did not do what it claims · 4 pre-flight failed (tools, superuser)',
  watch: '3 the key is not an automation identity · 4 a standing check fails (--once)',
};

/** Adds global options, an example and exit codes to the help of every subcommand of `program`. */
export function addHelpExtras(program: Command): void {
  for (const c of program.commands) {
    c.configureHelp({ showGlobalOptions: true });
    const name = c.name();
    const example = EXAMPLES[name];
    const exits = EXITS[name];
    c.addHelpText('after', `${example ? `\nExample:\n  ${example}\n` : ''}\nExit codes: 0 ok · ${exits ? `${exits} · ` : ''}${COMMON}\n(see README "Exit codes")`);
    addHelpExtras(c);
  }
}
