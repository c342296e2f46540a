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
}

/** ISO time now per the options' clock. */
export function nowIso(o: EngineOptions): string {
  return (o.now ? o.now() : new Date()).toISOString();
}

export { addHours } from '../model/time.js';
