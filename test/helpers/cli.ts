/** Runs the built dotctl binary as a user would and captures exit code, stdout and stderr. */
import { spawnSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const BIN = resolve('dist/cli/main.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function ensureBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing; run npm run build (npm test does it first)`);
}

/** Runs `dotctl args…` synchronously. */
export function runCli(args: readonly string[], opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): CliResult {
  ensureBuilt();
  const env = { ...process.env, DOTCTL_DEBUG: undefined, ...opts.env } as NodeJS.ProcessEnv;
  const r = spawnSync(process.execPath, [BIN, ...args], { env, cwd: opts.cwd, encoding: 'utf8', input: opts.input ?? '', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `dotctl args…` without blocking the event loop (for tests that serve HTTP meanwhile). */
export function runCliAsync(args: readonly string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<CliResult> {
  ensureBuilt();
  const env = { ...process.env, DOTCTL_DEBUG: undefined, ...opts.env } as NodeJS.ProcessEnv;
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

/** Asserts that output holds no stack trace. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+\(.+:\d+:\d+\)/.test(text) || /^\s+at /m.test(text);
}
