import { Command } from 'commander';
import { DotctlError, InputError, SpecError, formatProblem, exitCodeOf, ExitCode } from '../model/errors.js';
import { toSnakeKeys } from './json-out.js';
import type { Engine, EngineDeps, RunHooks } from '../engine.js';

/** Global options, each also read from its environment variable. */
export interface GlobalOptions {
  readonly dots: string;
  readonly ledger: string;
  readonly target: string | undefined;
  readonly identities: string | undefined;
  readonly key: string | undefined;
}

/** Reads the global options of the root program (flags win over env vars). */
export function globalOptions(cmd: Command): GlobalOptions {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const o = root.opts<{ dots?: string; ledger?: string; target?: string; identities?: string; key?: string }>();
  const env = process.env;
  const ledger = o.ledger ?? env.DOTCTL_LEDGER ?? '.dotctl/ledger.db';
  // An in-memory ledger (a library feature) would vanish when this command exits, and with it the record of what it did.
  if (ledger.startsWith('memory:')) {
    throw new InputError(
      `--ledger ${ledger} names an in-memory ledger, which is lost when dotctl exits; point --ledger (or DOTCTL_LEDGER) at a SQLite file or a postgres:// URL`,
    );
  }
  return {
    dots: o.dots ?? env.DOTCTL_DOTS ?? './dots',
    ledger,
    target: o.target ?? env.DOTCTL_TARGET ?? undefined,
    identities: o.identities ?? env.DOTCTL_IDENTITIES ?? undefined,
    key: o.key ?? env.DOTCTL_KEY ?? undefined,
  };
}

/** Collects a repeatable option's values. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** What a caller of the CLI may inject (tests only: the kill-point suite); the shipped entry injects nothing. */
export interface CliDeps {
  readonly hooks?: RunHooks;
}

let deps: CliDeps = {};

/** Sets what `run` was given (called once by the program). */
export function setCliDeps(d: CliDeps): void {
  deps = d;
}

function lockWaitMs(env: NodeJS.ProcessEnv): number | undefined {
  if (env.DOTCTL_LOCK_WAIT_MS === undefined) return undefined;
  const v = Number(env.DOTCTL_LOCK_WAIT_MS);
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** The engine's parts from the global flags and the environment (the only place either is read). */
export function engineDeps(g: GlobalOptions): EngineDeps {
  const tty = process.stderr.isTTY === true;
  return {
    catalogue: g.dots,
    ledger: g.ledger,
    target: g.target,
    identities: g.identities,
    signer: g.key,
    env: process.env,
    lockWaitMs: lockWaitMs(process.env),
    onProgress: tty ? (p) => process.stderr.write(p.done ? '\n' : `\r  archiving ${p.schema}: ${(p.bytes / 1048576).toFixed(1)} MiB`) : undefined,
    hooks: deps.hooks,
  };
}

/** The engine for a command, built through the public API. */
export async function engineFor(cmd: Command): Promise<Engine> {
  const { createEngine } = await import('../engine.js');
  return createEngine(engineDeps(globalOptions(cmd)));
}

/** Thrown by commands that want a specific exit code without an error message. */
export class ExitSignal extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/**
 * Wraps a command action: prints a DotctlError as one clear line on stderr (every
 * problem for a SpecError) and records the exit code. Stack traces only with DOTCTL_DEBUG=1.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

/** Prints an error for a user and returns its exit code. */
export function reportError(err: unknown): number {
  if (err instanceof ExitSignal) return err.exitCode;
  const debug = process.env.DOTCTL_DEBUG === '1';
  if (err instanceof SpecError) {
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`dotctl: ${err.problems.length} problem(s) found; fix them and run again.\n`);
  } else if (err instanceof DotctlError) {
    process.stderr.write(`dotctl: ${err.message}\n`);
  } else {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`dotctl: internal error: ${msg} (run with DOTCTL_DEBUG=1 for details)\n`);
  }
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return err instanceof DotctlError ? err.exitCode : exitCodeOf(err) || ExitCode.internal;
}

/** Writes a line to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes one JSON document to stdout, keys in snake_case (json-out.ts). */
export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(toSnakeKeys(value), null, 2)}\n`);
}

/** Writes one JSON Lines record to stdout, keys in snake_case. */
export function outJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(toSnakeKeys(value))}\n`);
}

/** Aligns rows of cells into columns separated by two spaces (the last column is not padded). */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
