/**
 * Runs a program as argv — never through a shell — with a timeout, an optional abort signal
 * (which stops the child too) and stdin stream, and bounded output capture.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** Captured output is cut at this many bytes per stream. */
export const MAX_OUTPUT_BYTES = 64 * 1024;

/** What a command did. */
export interface CommandRun {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** set when the program could not be started (not installed…) */
  readonly spawnError: string | null;
}

/** A program run, by its older name. */
export type ProgramRun = CommandRun;

/** Options of `runProgram`. */
export interface RunProgramOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly stdin?: Readable;
  readonly cwd?: string;
}

/** Environment passed to commands: a small base, never the caller's secrets by accident. */
export function baseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ']) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Runs argv; resolves when it exits (or is killed at the timeout or on abort). */
export function runProgram(argv: readonly string[], o: RunProgramOptions): Promise<CommandRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const [program, ...args] = argv;
    if (!program) {
      resolve({ exitCode: null, signal: null, timedOut: false, stdout: '', stderr: '', ms: 0, spawnError: 'empty argv' });
      return;
    }
    let stdout: Buffer = Buffer.alloc(0);
    let stderr: Buffer = Buffer.alloc(0);
    const take = (acc: Buffer, chunk: Buffer): Buffer => (acc.length >= MAX_OUTPUT_BYTES ? acc : Buffer.concat([acc, chunk.subarray(0, MAX_OUTPUT_BYTES - acc.length)]));
    let timedOut = false;
    let settled = false;
    const child = spawn(program, args, { env: { ...o.env }, cwd: o.cwd, stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], shell: false });
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    o.signal?.addEventListener('abort', kill, { once: true });
    const finish = (r: Omit<CommandRun, 'ms' | 'timedOut'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', kill);
      resolve({ ...r, timedOut, ms: Date.now() - started });
    };
    if (o.stdin && child.stdin) {
      child.stdin.on('error', () => undefined); // the program may exit before reading everything (EPIPE)
      o.stdin.on('error', (err) => {
        stderr = take(stderr, Buffer.from(`[input] ${err.message}\n`));
        kill();
      });
      o.stdin.pipe(child.stdin);
    }
    child.stdout?.on('data', (c: Buffer) => (stdout = take(stdout, c)));
    child.stderr?.on('data', (c: Buffer) => (stderr = take(stderr, c)));
    child.on('error', (err) => finish({ exitCode: null, signal: null, stdout: '', stderr: '', spawnError: err.message }));
    child.on('close', (code, sig) => finish({ exitCode: code, signal: sig, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), spawnError: null }));
    if (o.signal?.aborted) kill();
  });
}

/** Runs argv with env and a timeout (SIGKILL when it runs out). */
export function runCommand(argv: readonly string[], env: Readonly<Record<string, string>>, timeoutMs: number, cwd?: string): Promise<CommandRun> {
  return runProgram(argv, { env, timeoutMs, cwd });
}
