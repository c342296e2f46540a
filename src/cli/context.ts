import type { Command } from 'commander';
import { dirname, join } from 'node:path';
import { DotctlError, InputError, SpecError, formatProblem, exitCodeOf, ExitCode } from '../model/errors.js';
import { toSnakeKeys } from './json-out.js';
import type { Engine, EngineDeps, RunHooks } from '../engine.js';
import type { ParamDefaults, ResolvedWorkspace } from '../engine.js';
import { loadWorkspace } from './workspace.js';
import { createEngine } from '../engine.js';

/** Global options, each also read from its environment variable, then from the workspace. */
export interface GlobalOptions {
  readonly dots: string;
  readonly ledger: string;
  readonly target: string | undefined;
  readonly identities: string | undefined;
  readonly key: string | undefined;
  /** every --key given (ledger init / upgrade: one per member), else DOTCTL_KEY */
  readonly signers: readonly string[];
  /** the workspace (`dotctl.yaml`) found from the current directory upwards, or null */
  readonly workspace: ResolvedWorkspace | null;
  /** where rendered proposals go (the workspace's, else ./proposals) */
  readonly proposals: string | undefined;
  /** where keygen writes keys (the workspace's, else .dotctl/keys) */
  readonly keys: string;
  /** the environment engines see: the process's, with the chosen workspace environment's libpq variables laid over it */
  readonly env: NodeJS.ProcessEnv;
  /** the chosen workspace environment's parameter values (-p wins) */
  readonly paramDefaults: ParamDefaults | undefined;
  /** where validated catalogues are cached, or undefined (DOTCTL_CACHE=off) */
  readonly catalogueCache: string | undefined;
}

/**
 * The catalogue cache directory: DOTCTL_CACHE, else `cache/` beside a SQLite ledger file, else
 * `.dotctl/cache`; `DOTCTL_CACHE=off` turns it off.
 */
function catalogueCacheDir(ledger: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.DOTCTL_CACHE === 'off') return undefined;
  if (env.DOTCTL_CACHE) return env.DOTCTL_CACHE;
  if (/^postgres(ql)?:\/\//.test(ledger)) return '.dotctl/cache';
  return join(dirname(ledger), 'cache');
}

/**
 * Reads the global options of the root program: flags win over DOTCTL_* variables, which win
 * over the workspace's `dotctl.yaml` (its paths resolved against its own directory, its
 * environment chosen by --env, DOTCTL_ENV or default_env), which wins over the defaults.
 */
export async function globalOptions(cmd: Command): Promise<GlobalOptions> {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const o = root.opts<{ dots?: string; ledger?: string; target?: string; identities?: string; key?: string[]; env?: string }>();
  const env = process.env;
  const ws = await loadWorkspace(process.cwd(), o.env ?? (env.DOTCTL_ENV || undefined), env);
  const chosen = ws?.environment ?? null;
  const ledger = o.ledger ?? env.DOTCTL_LEDGER ?? ws?.ledger ?? '.dotctl/ledger.db';
  // An in-memory ledger (a library feature) would vanish when this command exits, and with it the record of what it did.
  if (ledger.startsWith('memory:')) {
    throw new InputError(`--ledger ${ledger} names an in-memory ledger, which is lost when dotctl exits; point --ledger (or DOTCTL_LEDGER) at a SQLite file or a postgres:// URL`);
  }
  return {
    dots: o.dots ?? env.DOTCTL_DOTS ?? ws?.catalogue ?? './dots',
    ledger,
    target: o.target ?? env.DOTCTL_TARGET ?? chosen?.target ?? undefined,
    identities: o.identities ?? env.DOTCTL_IDENTITIES ?? ws?.identities ?? undefined,
    key: o.key?.at(-1) ?? env.DOTCTL_KEY ?? undefined,
    signers: o.key ?? (env.DOTCTL_KEY ? [env.DOTCTL_KEY] : []),
    workspace: ws,
    proposals: ws?.proposals,
    keys: ws?.keys ?? '.dotctl/keys',
    env: chosen && Object.keys(chosen.libpq).length > 0 ? { ...env, ...chosen.libpq } : env,
    paramDefaults: chosen && Object.keys(chosen.params).length > 0 ? { source: `environment ${chosen.name} of ${ws?.file}`, values: chosen.params } : undefined,
    catalogueCache: catalogueCacheDir(ledger, env),
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
    env: g.env,
    lockWaitMs: lockWaitMs(process.env),
    proposalsDir: g.proposals,
    paramDefaults: g.paramDefaults,
    onProgress: tty ? (p) => process.stderr.write(p.done ? '\n' : `\r  archiving ${p.schema}: ${(p.bytes / 1048576).toFixed(1)} MiB`) : undefined,
    hooks: deps.hooks,
    catalogueCache: g.catalogueCache,
  };
}

/** The engine for a command, built through the public API. */
export async function engineFor(cmd: Command): Promise<Engine> {
  return createEngine(engineDeps(await globalOptions(cmd)));
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
  for (const r of rows) for (const [i, cell] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
