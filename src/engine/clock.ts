/**
 * Time the acting user does not control. Expiry is judged, and ledger rows are stamped, by a
 * trusted clock: the ledger server's (PostgreSQL) when the ledger has one, else the target's
 * when the command connects to the target (apply, rollback, propose), else — a SQLite ledger
 * and a command that touches no target (approve, reject, admit, status) — the local clock,
 * which is the documented trust limit of a SQLite ledger. The clock is read once per command;
 * later stamps of the command add the process's monotonic elapsed time to that reading, so a
 * step's time still moves forward without asking the server again.
 */
import { performance } from 'node:perf_hooks';
import { readTargetTime, targetTimeOn, type TargetAddress, type TargetClient } from '../exec/target.js';
import type { LedgerStore } from '../ledger/port.js';
import type { EngineOptions } from './options.js';

/** Where a command reads "now". */
export interface TrustedClock {
  /** whose clock it is, for messages and the log */
  readonly source: 'injected' | 'ledger server' | 'target' | 'local';
  /** the time now, as ISO-8601 UTC */
  now(): Promise<string>;
}

/**
 * The clock a command trusts: the one the caller injected (`o.clock`, or `o.now` from tests),
 * else the ledger server's, else the target's when `target` is given (its address, or a
 * connection already open to it), else the local one.
 */
export function trustedClock(o: EngineOptions, ledger: LedgerStore | null, target: TargetAddress | TargetClient | null): TrustedClock {
  if (o.clock) return o.clock;
  const injected = o.now;
  if (injected) return { source: 'injected', now: async () => injected().toISOString() };
  const server = ledger?.serverTime?.bind(ledger);
  if (server) return { source: 'ledger server', now: server };
  if (target) return { source: 'target', now: () => ('query' in target ? targetTimeOn(target) : readTargetTime(target)) };
  return { source: 'local', now: async () => new Date().toISOString() };
}

/**
 * The options with `now` bound to the trusted clock: read once here, then advanced by the
 * process's monotonic elapsed time. Options that inject a clock are returned as they are.
 */
export async function withTrustedTime(o: EngineOptions, ledger: LedgerStore | null, target: TargetAddress | TargetClient | null): Promise<EngineOptions> {
  if (o.now && !o.clock) return o;
  const clock = trustedClock(o, ledger, target);
  const base = Date.parse(await clock.now());
  const t0 = performance.now();
  return { ...o, clock, now: () => new Date(base + Math.floor(performance.now() - t0)) };
}

/**
 * A command that judged its gate on the local clock (a SQLite ledger; a refusal needs no trust
 * and happens before any connection to the target) moves to the target's clock once it is
 * about to act on the target: `o` with `now` bound to the target's clock, else `o` as it is.
 */
export async function onTargetClock(o: EngineOptions, target: TargetAddress | TargetClient): Promise<EngineOptions> {
  return o.clock?.source === 'local' ? withTrustedTime({ ...o, clock: undefined, now: undefined }, null, target) : o;
}
