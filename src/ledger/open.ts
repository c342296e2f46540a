/**
 * Opening the ledger a spec names: a `postgres://` / `postgresql://` URL is the PostgreSQL
 * ledger, `memory:` or `memory:<name>` an in-memory ledger of this process (for tests and
 * library use; see memory.ts), anything else a SQLite file (write `./memory:x` for a file of
 * that name). Each adapter (and its driver) is imported
 * only when used, so a command loads one driver. Fails closed: a ledger that cannot be opened
 * or written is a LedgerError naming it and the way out.
 */
import { isMemorySpec, isPostgresSpec, ledgerFailure } from './failure.js';
import type { LedgerStore } from './port.js';

/** How a command means to use the ledger. */
export interface OpenLedgerOptions {
  /**
   * `write` (default) creates the ledger when missing and migrates it; `read` never creates
   * anything: a missing ledger is an InputError (exit 2) saying so.
   */
  readonly mode?: 'write' | 'read';
}

/** Opens the ledger `spec` names (see module doc). */
export async function openLedger(spec: string, options: OpenLedgerOptions = {}): Promise<LedgerStore> {
  const create = (options.mode ?? 'write') === 'write';
  if (spec.trim() === '') {
    throw ledgerFailure('(empty)', 'open', new Error('the ledger path is empty'));
  }
  if (isPostgresSpec(spec)) {
    const { openPostgresLedger } = await import('./postgres.js');
    return openPostgresLedger(spec, { create });
  }
  if (isMemorySpec(spec)) {
    const { openMemoryLedger } = await import('./memory.js');
    return openMemoryLedger(spec, { create });
  }
  const { openSqliteLedger } = await import('./sqlite.js');
  return openSqliteLedger(spec, { create });
}

/** Opens the ledger, runs `fn` with it and closes it whatever happens. */
export async function withLedger<T>(spec: string, options: OpenLedgerOptions, fn: (ledger: LedgerStore) => Promise<T>): Promise<T> {
  const ledger = await openLedger(spec, options);
  try {
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}
