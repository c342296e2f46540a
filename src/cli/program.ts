/**
 * The dotctl program: commander, its commands and the exit. `main.ts` loads it. Commands are registered from
 * `commands/*`, only those of the group the command line names (`groupsFor`); they call the public API
 * (src/engine.ts), which loads what an operation needs (gate, executor, drivers, yaml, zod) on first call.
 */
import { Command, CommanderError } from 'commander';
import { reportError, setCliDeps, type CliDeps } from './context.js';
import { registerSpecCommands } from './commands/spec.js';
import { registerLedgerCommands } from './commands/ledger.js';
import { registerGovernanceCommands } from './commands/governance.js';
import { registerApplyCommands } from './commands/apply.js';
import { registerDemoCommands } from './commands/demo.js';
import { registerWorkspaceCommands } from './commands/workspace.js';
import { registerAuthoringCommands } from './commands/authoring.js';
import { registerWithdrawCommand } from './commands/withdraw.js';
import { registerRegistryCommands } from './commands/registry.js';
import { registerWatchCommand } from './commands/watch.js';
import { addHelpExtras } from './help-extras.js';

/**
 * The command registrations in help order, each with the top-level commands it adds. A command
 * registers only the group(s) naming it (see `groupsFor`): registering all forty commands and
 * their options is a good part of a short command's start-up.
 */
export const COMMAND_GROUPS: readonly { readonly names: readonly string[]; readonly register: (program: Command) => void }[] = [
  { names: ['validate', 'list', 'show', 'render'], register: registerSpecCommands },
  { names: ['new', 'patch', 'test'], register: registerAuthoringCommands },
  { names: ['keygen', 'propose', 'admit', 'admissions', 'approve', 'reject'], register: registerGovernanceCommands },
  { names: ['apply', 'rollback'], register: registerApplyCommands },
  { names: ['withdraw'], register: registerWithdrawCommand },
  { names: ['ledger', 'log', 'proposals', 'status'], register: registerLedgerCommands },
  { names: ['ledger', 'identities'], register: registerRegistryCommands },
  { names: ['watch'], register: registerWatchCommand },
  { names: ['demo', 'audit-backups'], register: registerDemoCommands },
  { names: ['init'], register: registerWorkspaceCommands },
];

/**
 * The groups to register for `args` (argv without node and script): those naming the first
 * argument that is neither a global option nor its value; every group when there is none, or it
 * names no command (root help, `help`, --version, a typo: commander then lists or suggests them all).
 */
export function groupsFor(program: Command, args: readonly string[]): typeof COMMAND_GROUPS {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).map((o) => o.long));
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i] ?? '';
    if (a === '--' || (a.startsWith('-') && !takesValue.has(a) && !/^--[^=]+=/.test(a))) return COMMAND_GROUPS;
    if (takesValue.has(a)) i += 1;
    else if (!a.startsWith('-')) {
      const named = COMMAND_GROUPS.filter((g) => g.names.includes(a));
      return named.length > 0 ? named : COMMAND_GROUPS;
    }
  }
  return COMMAND_GROUPS;
}

/** The program with the global options and the commands `args` needs (all when `args` is undefined). */
export function buildProgram(args?: readonly string[]): Command {
  const program = new Command();
  program
    .name('dotctl')
    .description('Governed change proposals for PostgreSQL operations: propose a DOT, approve, apply, audit.')
    .version('0.1.0')
    .option('--dots <dir>', 'DOT catalogue directory (env DOTCTL_DOTS, default ./dots)')
    .option('--ledger <path|url>', 'ledger: SQLite file or postgres:// URL (env DOTCTL_LEDGER, default .dotctl/ledger.db)')
    .option('--target <url>', 'target PostgreSQL URL (env DOTCTL_TARGET, else libpq PG* env)')
    .option('--identities <file>', "identities file, read by ledger init / upgrade only: who may act is the ledger's registry (env DOTCTL_IDENTITIES)")
    .option('--key <file>', 'private key of the acting identity (env DOTCTL_KEY); ledger init / upgrade take one per member', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--env <name>', 'workspace environment (dotctl.yaml): its target and parameter values (env DOTCTL_ENV)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const g of args === undefined ? COMMAND_GROUPS : groupsFor(program, args)) g.register(program);
  addHelpExtras(program);
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram(argv.slice(2));
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    writeOut: (s) => process.stdout.write(s),
  });
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      return 2; // usage error: commander already printed one line
    }
    return reportError(err);
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** Exits once stdout and stderr have drained, so output piped to another program is never cut. */
function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = (): void => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

/**
 * Runs dotctl with `argv` and exits with its code once output has drained. `deps` is for tests
 * that embed the CLI (the kill-point suite injects a hook); the shipped entry passes nothing.
 */
export function run(argv: readonly string[], deps: CliDeps = {}): void {
  setCliDeps(deps);
  main(argv).then(exitAfterFlush, (err) => exitAfterFlush(reportError(err)));
}
