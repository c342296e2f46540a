/**
 * The dotctl program: commander, its commands and the exit. `main.ts` loads it. Commands are registered from
 * `commands/*`; each loads the modules it needs lazily so start-up stays cheap.
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

function buildProgram(): Command {
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
  registerSpecCommands(program);
  registerAuthoringCommands(program);
  registerGovernanceCommands(program);
  registerApplyCommands(program);
  registerWithdrawCommand(program);
  registerLedgerCommands(program);
  registerRegistryCommands(program);
  registerWatchCommand(program);
  registerDemoCommands(program);
  registerWorkspaceCommands(program);
  addHelpExtras(program);
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
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
