import type { RunHooks } from './apply/journal.js';
/** What every engine operation is given by its caller (the CLI fills it from flags and env). */
export interface EngineOptions {
  readonly dots: string;
  readonly ledger: string;
  readonly target: string | undefined;
  readonly identities: string | undefined;
  readonly key: string | undefined;
  /** where rendered proposals are written (default ./proposals) */
  readonly proposalsDir?: string;
  /** environment for libpq and secrets (default process.env) */
  readonly env?: NodeJS.ProcessEnv;
  /** clock (tests pass a fixed one) */
  readonly now?: () => Date;
  /** how long an apply waits for another apply on the same target (default DEFAULT_LOCK_WAIT_MS) */
  readonly lockWaitMs?: number;
  /** progress of long steps, for a terminal */
  readonly onProgress?: (p: Progress) => void;
  /** injected by tests only (the kill-point suite); the CLI passes none */
  readonly hooks?: RunHooks;
}

/** How long an apply waits for another apply on the same target. */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** Progress of a long step. */
export type Progress = { readonly kind: 'archive'; readonly schema: string; readonly bytes: number; readonly done: boolean };

/** ISO time now per the options' clock. */
export function nowIso(o: EngineOptions): string {
  return (o.now ? o.now() : new Date()).toISOString();
}

export { addHours } from '../model/time.js';
