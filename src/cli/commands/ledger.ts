import type { Command } from 'commander';

/** Registers `log`, `log verify`, `proposals`, `status` (ledger issue). */
export function registerLedgerCommands(_program: Command): void {
  // filled in by the ledger work
}
