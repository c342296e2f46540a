/**
 * Turning driver failures into one-sentence LedgerErrors that name the ledger and the way out.
 * The ledger fails closed: anything that cannot be opened, read or written surfaces here and is
 * thrown, never swallowed.
 */
import { DotctlError, InputError, LedgerError } from '../model/errors.js';

/** What the ledger was being used for when it failed. */
export type LedgerAccess = 'open' | 'read' | 'write';

/** A ledger spec as it may be shown to a user: a URL's password is never printed. */
export function displayLedger(spec: string): string {
  if (!isPostgresSpec(spec)) return spec;
  try {
    const url = new URL(spec);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return 'the PostgreSQL ledger URL';
  }
}

/** True when a ledger spec names a PostgreSQL ledger. */
export function isPostgresSpec(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** The prefix of an in-memory ledger spec (`memory:` or `memory:<name>`). */
export const MEMORY_PREFIX = 'memory:';

/** True when a ledger spec names an in-memory ledger rather than a SQLite file. */
export function isMemorySpec(spec: string): boolean {
  return spec.startsWith(MEMORY_PREFIX);
}

/** The short reason a driver gave, without a stack or a trailing period. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const msg = err.message.replace(/\s+/g, ' ').replace(/\.$/, '').trim();
    // Node system errors already start with their code; SQLite ones do not.
    if (typeof code === 'string' && /^SQLITE_/.test(code) && !msg.includes(code)) return `${msg}, ${code}`;
    return msg === '' && typeof code === 'string' ? code : msg;
  }
  return String(err);
}

/**
 * Wraps a failure of `access` to the ledger `spec` as a LedgerError (exit 7) naming the ledger
 * and what to do; DotctlErrors pass through unchanged so a precise error is never blurred.
 */
export function ledgerFailure(spec: string, access: LedgerAccess, err: unknown): DotctlError {
  if (err instanceof DotctlError) return err;
  const name = displayLedger(spec);
  const reason = reasonOf(err);
  const pg = isPostgresSpec(spec);
  const wayOut = isMemorySpec(spec)
    ? 'open a new handle, raise its maxEvents, or use a SQLite file or a postgres:// URL'
    : pg
      ? access === 'open'
        ? 'check that PostgreSQL is running, that the URL and role are right, or point --ledger elsewhere'
        : "check the database and the role's privileges, or point --ledger elsewhere"
      : access === 'read'
        ? "check --ledger and the file's permissions"
        : 'fix its permissions or point --ledger elsewhere';
  const verb = access === 'write' ? 'write' : access === 'read' ? 'read' : 'open';
  return new LedgerError(`cannot ${verb} the ledger ${name} (${reason}); ${wayOut}`, {
    code: 'LEDGER_UNAVAILABLE',
    context: { ledger: name, access },
    cause: err,
  });
}

/** The ledger a read command named does not exist yet (exit 2); nothing was created. */
export function ledgerMissing(spec: string, why: string): InputError {
  const name = displayLedger(spec);
  return new InputError(`no ledger at ${name} yet (${why}); nothing has been proposed there, so check --ledger (or DOTCTL_LEDGER)`, { code: 'LEDGER_MISSING', context: { ledger: name } });
}

/** A proposal id the ledger does not hold (exit 2). */
export function unknownProposal(spec: string, id: string): InputError {
  return new InputError(`unknown proposal ${JSON.stringify(id)} in the ledger ${displayLedger(spec)}; list proposals with \`dotctl proposals\``, {
    code: 'UNKNOWN_PROPOSAL',
    context: { proposal: id },
  });
}

/** A proposal id that is already stored (exit 2). */
export function duplicateProposal(spec: string, id: string): InputError {
  return new InputError(`proposal ${JSON.stringify(id)} is already in the ledger ${displayLedger(spec)}; look at it with \`dotctl status ${id}\``, {
    code: 'DUPLICATE_PROPOSAL',
    context: { proposal: id },
  });
}

/** The ledger was written by a newer dotctl (exit 7). */
export function ledgerTooNew(spec: string, found: number, known: number): LedgerError {
  return new LedgerError(`the ledger ${displayLedger(spec)} has schema version ${found} but this dotctl knows only up to ${known}; upgrade dotctl`, {
    code: 'LEDGER_TOO_NEW',
    context: { found, known },
  });
}
