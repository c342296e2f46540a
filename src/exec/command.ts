/**
 * Runs a program as argv — never through a shell — with a timeout and bounded output capture.
 */
import { spawn } from 'node:child_process';

/** Captured output is cut at this many bytes per stream. */
export const MAX_OUTPUT_BYTES = 64 * 1024;

/** What a command did. */
export interface CommandRun {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly spawnError: string | null;
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

/** Runs argv with env and a timeout (SIGKILL when it runs out). */
export function runCommand(argv: readonly string[], env: Readonly<Record<string, string>>, timeoutMs: number, cwd?: string): Promise<CommandRun> {
  return new Promise((resolve) => {
    const [program, ...args] = argv;
    if (!program) {
      resolve({ exitCode: null, signal: null, timedOut: false, stdout: '', stderr: '', spawnError: 'empty argv' });
      return;
    }
    let stdout: Buffer = Buffer.alloc(0);
    let stderr: Buffer = Buffer.alloc(0);
    const take = (acc: Buffer, chunk: Buffer): Buffer => (acc.length >= MAX_OUTPUT_BYTES ? acc : Buffer.concat([acc, chunk.subarray(0, MAX_OUTPUT_BYTES - acc.length)]));
    let timedOut = false;
    let settled = false;
    const child = spawn(program, args, { env: { ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout = take(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = take(stderr, c)));
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ exitCode: null, signal: null, timedOut: false, stdout: '', stderr: '', spawnError: err.message });
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ exitCode: code, signal, timedOut, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), spawnError: null });
    });
  });
}
