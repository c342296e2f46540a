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
  'log verify': 'dotctl log verify --target postgres://deploy@db:5432/app --checkpoint head.json',
  'log checkpoint': 'dotctl --key ada.key log checkpoint --out head.json        # keep it outside the ledger',
  'ledger init': 'dotctl --identities ids.yaml --key olga.key --key rita.key --key raj.key ledger init',
  'ledger upgrade': 'dotctl --identities ids.yaml --key olga.key --key rita.key --key raj.key ledger upgrade',
  'identities export': 'dotctl identities export > next.yaml',
  'identities change': 'dotctl --key rita.key identities change next.yaml',
  'identities approve': 'dotctl --key raj.key identities approve R-20261128-1a2b3c',
  'identities pending': 'dotctl identities pending',
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
  'log verify':
    "7 the chain, a signed head or a registry event does not verify (names the seq), or the target's witness or the checkpoint disagrees with the ledger (names each problem) · 8 target unreachable",
  'log checkpoint': '3 the key belongs to no identity',
  'ledger init': '3 a member did not sign (a --key is missing) · 2 the ledger already has a registry, or holds rows of an earlier dotctl (ledger upgrade)',
  'ledger upgrade': '3 a member did not sign (a --key is missing) · 2 the ledger already has a registry, or is empty (ledger init)',
  'identities change': '3 not a signer of registry changes (an admin, or a reviewer when there is none) · 2 a rule refuses the new registry',
  'identities approve': '3 not a signer, already signed, or the change is stale',
  demo: '1 a stage did not do what it claims · 4 pre-flight failed (tools, superuser)',
  watch: '3 the key is not an automation identity · 4 a standing check fails (--once)',
};

/** Adds global options, an example and exit codes to the help of every subcommand of `program`. */
export function addHelpExtras(program: Command): void {
  for (const c of program.commands) {
    c.configureHelp({ showGlobalOptions: true });
    const name = c.name();
    // a subcommand is looked up under its parent's name first (identities approve is not approve)
    const full = c.parent?.parent ? `${c.parent.name()} ${name}` : name;
    const example = EXAMPLES[full] ?? (full === name ? EXAMPLES[name] : undefined);
    const exits = EXITS[full] ?? (full === name ? EXITS[name] : undefined);
    c.addHelpText('after', `${example ? `\nExample:\n  ${example}\n` : ''}\nExit codes: 0 ok · ${exits ? `${exits} · ` : ''}${COMMON}\n(see README "Exit codes")`);
    addHelpExtras(c);
  }
}
