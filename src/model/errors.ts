/**
 * The one error hierarchy of dotctl. Every error carries a stable `code`, the process
 * `exitCode` the CLI maps it to, optional context (DOT id, step, SQL, pg error code…)
 * and its `cause`. Only the CLI turns these into an exit.
 */

/** Exit codes of the CLI contract (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  internal: 1,
  badInput: 2,
  gateRefused: 3,
  checkFailed: 4,
  rolledBack: 5,
  rollbackFailed: 6,
  ledgerBroken: 7,
  targetUnreachable: 8,
  targetBusy: 9,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorContext = Readonly<Record<string, unknown>>;

/** Base class: message is one sentence naming the thing and the way out. */
export class DotctlError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly context: ErrorContext;

  constructor(code: string, exitCode: ExitCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.context = options.context ?? {};
  }
}

/** A single problem at a position in a source file. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** Formats a problem as one line `file:line:col: message` (a message quoting several lines of a file is folded onto one). */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message.replace(/\s*[\r\n]+\s*/g, ' ')}`;
}

/** Bad input: usage, invalid spec, bad parameter (exit 2). */
export class InputError extends DotctlError {
  constructor(message: string, options: { context?: ErrorContext; cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'BAD_INPUT', ExitCode.badInput, message, options);
  }
}

/** Spec validation failed; carries every problem found (exit 2). */
export class SpecError extends DotctlError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    const first = problems[0];
    const head = first ? formatProblem(first) : 'invalid specification';
    super('INVALID_SPEC', ExitCode.badInput, problems.length > 1 ? `${head} (and ${problems.length - 1} more problem(s))` : head, { context: { problems } });
    this.problems = problems;
  }
}

/** A parameter value was missing or rejected (exit 2). */
export class ParamError extends DotctlError {
  readonly param: string;
  constructor(param: string, message: string, context: ErrorContext = {}) {
    super('BAD_PARAM', ExitCode.badInput, message, { context: { param, ...context } });
    this.param = param;
  }
}

/** The gate refused the operation (exit 3). */
export class GateError extends DotctlError {
  constructor(message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super('GATE_REFUSED', ExitCode.gateRefused, message, options);
  }
}

/** A hard stop or pre-check failed; nothing was changed (exit 4). */
export class CheckError extends DotctlError {
  constructor(message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super('CHECK_FAILED', ExitCode.checkFailed, message, options);
  }
}

/** The target cannot be reached or refuses the connection; nothing was changed (exit 8). */
export class TargetUnreachableError extends DotctlError {
  constructor(message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super('TARGET_UNREACHABLE', ExitCode.targetUnreachable, message, options);
  }
}

/** Another apply holds the target's lock; nothing was changed, try again later (exit 9). */
export class TargetBusyError extends DotctlError {
  constructor(message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super('TARGET_BUSY', ExitCode.targetBusy, message, options);
  }
}

/** The ledger's chain is broken or the ledger cannot be written (exit 7). */
export class LedgerError extends DotctlError {
  constructor(message: string, options: { context?: ErrorContext; cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'LEDGER_BROKEN', ExitCode.ledgerBroken, message, options);
  }
}

/** Returns the exit code for any thrown value (unknown errors are internal, exit 1). */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof DotctlError ? err.exitCode : ExitCode.internal;
}
