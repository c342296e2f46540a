/**
 * Helpers of the reliability suites: the built binary run without blocking (bounded by a timeout,
 * killed when it runs out), a small pool to run many such processes two or three at a time, a
 * TCP listener that records every connection (proof that nothing was sent to a target), and the
 * assertion of the CLI's bad-input contract (exit 2, one line or `file:line:col:` lines, no stack).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, hasStackTrace, type CliResult } from '../helpers/cli.js';

/** Environment without any DOTCTL_* variable of the caller (each test names what it uses). */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DOTCTL_')) env[k] = v;
  return { ...env, ...extra };
}

/** How `dotctl` is run. */
export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /**
   * Capture stdout/stderr through files instead of pipes (what a user redirecting `2> file`
   * gets). Pipes lose output past 64 KiB today: the CLI exits before a full pipe drains.
   */
  readonly viaFiles?: boolean;
}

let captures = 0;

/** Runs the built `dotctl args…`; killed (exit -1, stderr says so) after `timeoutMs`. */
export function dotctl(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing; run npm run build (npm test does it first)`);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let files: { dir: string; out: string; err: string; fds: [number, number] } | null = null;
  if (opts.viaFiles) {
    captures += 1;
    const dir = mkdtempSync(join(tmpdir(), 'dotctl-capture-'));
    const out = join(dir, `out-${captures}`);
    const err = join(dir, `err-${captures}`);
    files = { dir, out, err, fds: [openSync(out, 'w'), openSync(err, 'w')] };
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cleanEnv(opts.env),
      cwd: opts.cwd,
      stdio: ['ignore', files ? files.fds[0] : 'pipe', files ? files.fds[1] : 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (files) {
        for (const fd of files.fds) closeSync(fd);
        stdout = readFileSync(files.out, 'utf8');
        stderr = readFileSync(files.err, 'utf8');
        rmSync(files.dir, { recursive: true, force: true });
      }
      resolve({ code: killed ? -1 : (code ?? -1), stdout, stderr: killed ? `${stderr}\n(killed after ${timeoutMs} ms)` : stderr });
    });
  });
}

/** Runs `tasks` with at most `concurrency` at a time; results in task order. */
export async function pool<T>(tasks: readonly (() => Promise<T>)[], concurrency = 3): Promise<T[]> {
  const out: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next;
      next += 1;
      const task = tasks[i];
      if (task === undefined) return;
      out[i] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return out;
}

/** A listener on 127.0.0.1 that counts connections and closes each at once. */
export interface Recorder {
  readonly url: string;
  readonly connections: () => number;
  close(): Promise<void>;
}

/** Starts a connection recorder: point --target at `url`, and any attempt to reach the target shows. */
export async function startRecorder(): Promise<Recorder> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    n += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `postgres://fuzz@127.0.0.1:${port}/never_touched`,
    connections: () => n,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** sha256 over every file of a directory (name and bytes), or 'absent'. Subdirectories (the catalogue cache beside a ledger) are not the ledger. */
export function dirDigest(dir: string): string {
  if (!existsSync(dir)) return 'absent';
  const h = createHash('sha256');
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!e.isFile()) continue;
    h.update(e.name)
      .update('\0')
      .update(readFileSync(join(dir, e.name)))
      .update('\0');
  }
  return h.digest('hex');
}

const PROBLEM_LINE = /^[^\s].*:\d+:\d+: \S/;
const SUMMARY_LINE = /^dotctl: \d+ problem\(s\) (found|in .+); fix them and run (validate )?again\.$/;

/**
 * Asserts the bad-input contract: exit 2, nothing on stdout, no stack trace, and stderr either one
 * line `dotctl: …` or `file:line:col: message` lines closed by the summary line. Returns the
 * problem lines.
 */
export function assertBadInput(r: CliResult, what: string): string[] {
  const show = `${what}\nexit ${r.code}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 4000)}`;
  assert.equal(r.code, 2, `expected exit 2 for ${show}`);
  assert.equal(r.stdout, '', `nothing on stdout for ${show}`);
  assert.equal(hasStackTrace(r.stderr), false, `stack trace for ${show}`);
  assert.doesNotMatch(r.stderr, /internal error/, `internal error for ${show}`);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.ok(lines.length >= 1 && r.stderr.endsWith('\n'), `stderr is complete lines for ${show}`);
  if (lines.length === 1) {
    assert.match(lines[0] ?? '', /^dotctl: \S/, `one line starting "dotctl: " for ${show}`);
    return [];
  }
  const problems = lines.slice(0, -1);
  for (const l of problems) assert.match(l, PROBLEM_LINE, `a file:line:col: line for ${show}`);
  assert.match(lines.at(-1) ?? '', SUMMARY_LINE, `the summary line last for ${show}`);
  return problems;
}
