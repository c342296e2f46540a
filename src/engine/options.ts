/**
 * What every engine operation is given by its caller. Each part is either an object the caller
 * built (a library user: a validated catalogue, an open ledger store, identities, a signing key)
 * or, from the CLI, where to load it on first use — so a command loads only what it needs.
 */
import { loadCatalogue } from '../catalogue/load.js';
import type { Catalogue } from '../catalogue/validate.js';
import { loadSigningKey, type SigningKey } from '../gate/keys.js';
import type { Identity } from '../gate/identities.js';
import { withLedger } from '../ledger/open.js';
import type { LedgerStore } from '../ledger/port.js';
import type { RunHooks } from './apply/journal.js';
import type { ParamDefaults } from '../catalogue/params.js';
import type { TrustedClock } from './clock.js';
import { withSignedHead } from './signed-head.js';

/** The engine's parts and settings. */
export interface EngineOptions {
  /** the validated catalogue, or its directory */
  readonly dots: string | Catalogue;
  /** an open ledger store (the caller closes it), or its path / postgres:// URL */
  readonly ledger: string | LedgerStore;
  /** the target's postgres:// URL (else the libpq PG* variables of `env`) */
  readonly target: string | undefined;
  /**
   * ignored by every governed operation: who may act is the ledger's identity registry (created by
   * initLedger / upgradeLedger, changed by registry changes); kept so callers need not change
   */
  readonly identities: string | undefined | readonly Identity[];
  /** the acting key, or its file */
  readonly key: string | undefined | SigningKey;
  /** where rendered proposals are written (default ./proposals) */
  readonly proposalsDir?: string;
  /** environment for libpq and secrets (default process.env) */
  readonly env?: NodeJS.ProcessEnv;
  /** clock (tests pass a fixed one); commands bind it to the trusted clock (engine/clock.ts) */
  readonly now?: () => Date;
  /** where commands read the time (default: the ledger server's, else the target's, else local) */
  readonly clock?: TrustedClock | undefined;
  /** how long an apply waits for another apply on the same target (default DEFAULT_LOCK_WAIT_MS) */
  readonly lockWaitMs?: number | undefined;
  /** progress of long steps, for a terminal */
  readonly onProgress?: ((p: Progress) => void) | undefined;
  /** parameter values of the chosen workspace environment, under the ones given to propose */
  readonly paramDefaults?: ParamDefaults | undefined;
  /** injected by tests only (the kill-point suite); the CLI passes none */
  readonly hooks?: RunHooks | undefined;
  /** where validated catalogues are cached (catalogue/cache.ts); unset: no cache */
  readonly catalogueCache?: string | undefined;
}

/** How long an apply waits for another apply on the same target. */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** Progress of a long step. */
export type Progress = { readonly kind: 'archive'; readonly schema: string; readonly bytes: number; readonly done: boolean };

/** ISO time now per the options' clock. */
export function nowIso(o: EngineOptions): string {
  return (o.now ? o.now() : new Date()).toISOString();
}

/** The catalogue, loaded and validated when given as a directory. */
export function catalogueOf(o: EngineOptions): Promise<Catalogue> {
  return typeof o.dots === 'string' ? loadCatalogue(o.dots, o.catalogueCache) : Promise.resolve(o.dots);
}

/** The acting key, read when given as a file. */
export function signerOf(o: EngineOptions): Promise<SigningKey> {
  return typeof o.key === 'string' || o.key === undefined ? loadSigningKey(o.key) : Promise.resolve(o.key);
}

/** How the ledger is named in messages. */
export function ledgerName(o: EngineOptions): string {
  return typeof o.ledger === 'string' ? o.ledger : 'the ledger';
}

/**
 * Runs `fn` with the ledger: opened (and closed) here when given as a path, else the caller's
 * store. In `write` mode whatever `fn` appends ends with a head signed by the acting key
 * (signed-head.ts), also when `fn` fails after writing.
 */
export function withLedgerOf<T>(o: EngineOptions, mode: 'read' | 'write', fn: (ledger: LedgerStore) => Promise<T>): Promise<T> {
  const run = mode === 'write' ? (l: LedgerStore): Promise<T> => withSignedHead(l, () => (o.key === undefined ? Promise.resolve(null) : signerOf(o)), fn) : fn;
  return typeof o.ledger === 'string' ? withLedger(o.ledger, { mode }, run) : run(o.ledger);
}

export { addHours } from '../model/time.js';
