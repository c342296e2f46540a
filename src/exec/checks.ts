/**
 * Running checks (hard stops, pre-checks, post-verify) and judging what they saw against what
 * the DOT expects. Judging is pure; running touches the target, the file system or a process.
 */
import { createHash } from 'node:crypto';
import { open, stat, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { SqlExpect } from '../catalogue/schema.js';
import type { BoundStep } from '../catalogue/steps.js';
import { runCommand, baseEnv, type CommandRun } from './command.js';
import type { TargetClient } from './target.js';
import { sqlErrorText } from './sql-error.js';

/** What one check saw and whether it passed (`not_run`: its program is not installed and the DOT marks it optional_tool). */
export interface CheckResult {
  readonly outcome: 'passed' | 'failed' | 'error' | 'not_run';
  readonly observed: string;
  readonly expected: string;
}

const show = (v: unknown): string => (v === null ? 'NULL' : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v));

function clip(s: string, n = 300): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

/** Judges query rows against an expect clause. Pure. */
export function judgeRows(expect: SqlExpect | undefined, rows: readonly Record<string, unknown>[], fields: readonly { name: string }[]): CheckResult {
  const first = fields[0]?.name;
  const sample = rows
    .slice(0, 5)
    .map((r) => (fields.length === 1 && first ? show(r[first]) : fields.map((f) => `${f.name}=${show(r[f.name])}`).join(' ')))
    .join('; ');
  const observed = `${rows.length} row(s)${rows.length > 0 ? `: ${clip(sample)}${rows.length > 5 ? '; …' : ''}` : ''}`;
  if (!expect) return { outcome: 'passed', observed, expected: 'any result' };
  switch (expect.kind) {
    case 'rows':
      return { outcome: rows.length === expect.count ? 'passed' : 'failed', observed, expected: `${expect.count} row(s)` };
    case 'empty':
      return { outcome: rows.length === 0 ? 'passed' : 'failed', observed, expected: 'no rows' };
    case 'non_empty':
      return { outcome: rows.length > 0 ? 'passed' : 'failed', observed, expected: 'at least one row' };
    case 'value': {
      const expected = `the single value ${show(expect.equals)}`;
      if (rows.length !== 1 || !first) return { outcome: 'failed', observed, expected };
      return { outcome: show(rows[0]?.[first]) === show(expect.equals) ? 'passed' : 'failed', observed, expected };
    }
    case 'every_row': {
      const col = expect.column;
      const re = expect.pattern !== undefined ? new RegExp(expect.pattern) : null;
      const expected = `every row's ${col}${expect.equals !== undefined ? ` = ${show(expect.equals)}` : ''}${re ? ` matching /${expect.pattern}/` : ''}`;
      if (rows.length > 0 && !fields.some((f) => f.name === col)) return { outcome: 'failed', observed: `${observed} (no column ${col})`, expected };
      const bad = rows.find((r) => (expect.equals !== undefined && show(r[col]) !== show(expect.equals)) || (re !== null && !re.test(show(r[col]))));
      return { outcome: bad ? 'failed' : 'passed', observed: bad ? `${observed}; first mismatch ${col}=${show(bad[col])}` : observed, expected };
    }
    default: {
      const never: never = expect;
      return never;
    }
  }
}

/** Judges a command run against its expect clause. Pure. */
export function judgeCommand(step: Extract<BoundStep, { kind: 'command' }>, run: CommandRun): CheckResult {
  const ex = step.expect ?? {};
  const wantCode = ex.exit_code ?? 0;
  const expected = [
    `exit ${wantCode}`,
    ex.stdout_pattern ? `stdout /${ex.stdout_pattern}/` : '',
    ex.stdout_not_pattern ? `stdout not /${ex.stdout_not_pattern}/` : '',
    ex.stderr_pattern ? `stderr /${ex.stderr_pattern}/` : '',
  ]
    .filter(Boolean)
    .join(', ');
  if (run.spawnError && step.optionalTool && /ENOENT/.test(run.spawnError)) {
    return { outcome: 'not_run', observed: `not run: ${step.argv[0]} is not installed (install it to run this check)`, expected };
  }
  if (run.spawnError) return { outcome: 'error', observed: `could not start ${step.argv[0]}: ${run.spawnError}`, expected };
  const tail = clip(run.stderr || run.stdout, 200);
  if (run.timedOut) return { outcome: 'failed', observed: `killed after ${step.timeoutMs / 1000} s timeout`, expected };
  const observed = `exit ${run.exitCode ?? run.signal}${tail ? `: ${tail}` : ''}`;
  const ok =
    run.exitCode === wantCode &&
    (ex.stdout_pattern === undefined || new RegExp(ex.stdout_pattern, 'm').test(run.stdout)) &&
    (ex.stdout_not_pattern === undefined || !new RegExp(ex.stdout_not_pattern, 'm').test(run.stdout)) &&
    (ex.stderr_pattern === undefined || new RegExp(ex.stderr_pattern, 'm').test(run.stderr));
  return { outcome: ok ? 'passed' : 'failed', observed, expected };
}

/**
 * sha256 of a file, streamed through one reused 1 MiB buffer: memory stays the same whatever the
 * file's size (a read stream allocates a new chunk per read, which a large archive turns into
 * tens of MiB of garbage before a collection).
 */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  const fd = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      const { bytesRead } = await fd.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fd.close();
  }
  return h.digest('hex');
}

async function userName(uid: number): Promise<string> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [name, , id] = line.split(':');
    if (id !== undefined && Number(id) === uid && name) return name;
  }
  return String(uid);
}

/** Runs a file check. */
export async function checkFile(step: Extract<BoundStep, { kind: 'file' }>): Promise<CheckResult> {
  const c = step.checks;
  const wants = [
    c.exists === false ? 'absent' : 'exists',
    c.type ?? '',
    c.not_world_writable ? 'not world-writable' : '',
    c.owner ? `owner ${c.owner}` : '',
    c.sha256 ? `sha256 ${c.sha256.slice(0, 12)}…` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const st = await stat(step.path).catch(() => null);
  if (!st) return { outcome: c.exists === false ? 'passed' : 'failed', observed: `${step.path} does not exist`, expected: wants };
  if (c.exists === false) return { outcome: 'failed', observed: `${step.path} exists`, expected: wants };
  const type = st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  const owner = await userName(st.uid);
  const parts = [`${type}`, `mode ${mode}`, `owner ${owner}`];
  let ok = true;
  if (c.type && c.type !== type) ok = false;
  if (c.not_world_writable && (st.mode & 0o002) !== 0) ok = false;
  if (c.owner && c.owner !== owner) ok = false;
  if (c.sha256 && type === 'file') {
    const sum = await fileSha256(step.path);
    parts.push(`sha256 ${sum.slice(0, 12)}…`);
    if (sum !== c.sha256) ok = false;
  }
  return { outcome: ok ? 'passed' : 'failed', observed: `${step.path}: ${parts.join(', ')}`, expected: wants };
}

/** Runs the host-name check. */
export function checkHost(step: Extract<BoundStep, { kind: 'host' }>, host: string = hostname()): CheckResult {
  return { outcome: host === step.equals ? 'passed' : 'failed', observed: `host name ${host}`, expected: `host name ${step.equals}` };
}

/**
 * Runs a check query and judges it. `values` are its bind parameters. The query always goes
 * over the extended protocol, which carries exactly one statement: `SELECT 1; COMMIT; DROP …`
 * fails to prepare instead of ending the READ ONLY transaction around the checks.
 */
export async function checkSql(client: TargetClient, step: Extract<BoundStep, { kind: 'sql' }>, text: string, values: readonly string[]): Promise<CheckResult> {
  try {
    const r = await client.query({ text, values: [...values], queryMode: 'extended' });
    return judgeRows(step.expect, r.rows, r.fields);
  } catch (err) {
    return { outcome: 'error', observed: clip(sqlErrorText(err, text)), expected: 'the query to run' };
  }
}

/** Runs a command check with the target's libpq env. */
export async function checkCommand(step: Extract<BoundStep, { kind: 'command' }>, libpq: Readonly<Record<string, string>>, cwd?: string): Promise<CheckResult> {
  const run = await runCommand(step.argv, { ...baseEnv(), ...libpq, ...step.env }, step.timeoutMs, cwd);
  return judgeCommand(step, run);
}
