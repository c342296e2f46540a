/**
 * A reference walk of a DOT's steps against a real PostgreSQL, for testing the catalogue's
 * content (not the engine, which lives in src/exec). SQL is bound the way the executor binds
 * it — a check query gets its `:'name'` literals as untyped bind parameters ($1…), a statement
 * gets them quoted — and every check query also runs through psql itself, the origin of the
 * `:'name'` / `:"name"` convention, which must reach the same verdict. Commands run as argv
 * without a shell, with the target's libpq environment. Deliberately small.
 */
import { spawn } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { applyPatch, parsePatch, reversePatch } from 'diff';
import { parse } from 'yaml';
import { DotSchema, type Dot, type Section, type Step } from '../../src/catalogue/schema.js';
import { quoteIdent, quoteLiteral, substituteSql } from '../../src/catalogue/sql-template.js';
import { ADMIN_URL, adminClient } from '../helpers/pg.js';

export const DOTS_DIR = 'dots';

/** A DOT file of the catalogue, parsed with the real schema. */
export async function readDot(id: string): Promise<Dot> {
  const text = await readFile(join(DOTS_DIR, `${id}.yaml`), 'utf8');
  return DotSchema.parse(parse(text));
}

/** Result of running a program. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv without a shell (asynchronously, so an in-process HTTP server keeps answering). */
export function run(argv: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new TypeError('empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new Error(`${cmd} is not installed or not on PATH; install it (e.g. apt-get install -y ${cmd})`) : err));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // a program that never reads stdin may exit first (EPIPE)
    child.stdin.end(opts.input ?? '');
  });
}

/** The libpq environment of the test server for one database (what the executor gives commands). */
export function libpqEnv(database: string, user = 'postgres'): NodeJS.ProcessEnv {
  const url = new URL(ADMIN_URL);
  return {
    ...process.env,
    PGHOST: url.hostname,
    PGPORT: url.port || '5432',
    PGUSER: user,
    PGDATABASE: database,
    ...(url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {}),
  };
}

/** Where and with what values a DOT is walked. */
export interface WalkTarget {
  readonly database: string;
  /** every parameter value, secrets included (they come from the environment in real use) */
  readonly params: Readonly<Record<string, string>>;
}

/** Outcome of one step. */
export interface StepOutcome {
  readonly section: Section;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const sub = (text: string, params: Readonly<Record<string, string>>): string =>
  text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, n: string) => {
    const v = params[n];
    if (v === undefined) throw new Error(`no value for {{${n}}}`);
    return v;
  });

const RS = '\x1e';
const FS = '\x1f';

/** Runs SQL through psql with every parameter as a psql variable; returns header + rows. */
export async function psql(database: string, sql: string, params: Readonly<Record<string, string>>): Promise<{ ok: boolean; header: string[]; rows: string[][]; error: string }> {
  const vars = Object.entries(params).flatMap(([k, v]) => ['-v', `${k}=${v}`]);
  const r = await run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-A', '-F', FS, '-R', RS, '-P', 'footer=off', ...vars, '-f', '-'], {
    env: { ...libpqEnv(database), PGOPTIONS: '-c lock_timeout=5000 -c statement_timeout=120000' },
    input: `${sql.trimEnd()}${sql.trimEnd().endsWith(';') ? '' : ';'}\n`,
  });
  if (r.code !== 0) return { ok: false, header: [], rows: [], error: r.stderr.trim() };
  const text = r.stdout.endsWith('\n') ? r.stdout.slice(0, -1) : r.stdout;
  const records = text === '' ? [] : text.split(RS).map((rec) => rec.split(FS));
  return { ok: true, header: records[0] ?? [], rows: records.slice(1), error: '' };
}

/** Runs a query the executor's way: literals as bind parameters (checks) or quoted (statements). */
async function pgQuery(database: string, sql: string, params: Readonly<Record<string, string>>, asCheck: boolean): Promise<{ ok: boolean; header: string[]; rows: string[][]; error: string }> {
  const values: string[] = [];
  const text = substituteSql(sql, (ref) => {
    const v = params[ref.name];
    if (v === undefined) throw new Error(`no value for parameter ${ref.name}`);
    if (ref.kind === 'identifier') return quoteIdent(v);
    if (!asCheck) return quoteLiteral(v);
    values.push(v);
    return `$${values.length}`;
  });
  const c = await adminClient(database);
  try {
    await c.query("SET lock_timeout = '5s'; SET statement_timeout = '120s'");
    const r = await c.query({ text, values, rowMode: 'array' });
    const header = r.fields.map((f) => f.name);
    const rows = (r.rows as unknown[][]).map((row) => row.map((v) => (v === null ? '' : v instanceof Date ? v.toISOString() : String(v))));
    return { ok: true, header, rows, error: '' };
  } catch (err) {
    return { ok: false, header: [], rows: [], error: (err as Error).message };
  } finally {
    await c.end();
  }
}

async function fileOf(dotDiffFile: string): Promise<string> {
  return readFile(join(DOTS_DIR, dotDiffFile), 'utf8');
}

/** Runs one step; never throws for a failed check, only for a broken test setup. */
export async function runStep(section: Section, step: Step, target: WalkTarget): Promise<StepOutcome> {
  const p = target.params;
  const out = (ok: boolean, detail: string): StepOutcome => ({ section, name: step.name, ok, detail });
  switch (step.kind) {
    case 'sql': {
      const e = step.expect;
      const r = await pgQuery(target.database, step.sql, p, e !== undefined);
      if (!r.ok) return out(false, r.error);
      const shown = JSON.stringify(r.rows);
      if (!e) return out(true, shown);
      // psql must read the same rows from the same SQL (its own :'name' substitution)
      const viaPsql = await psql(target.database, step.sql, p);
      if (!viaPsql.ok || JSON.stringify(viaPsql.rows) !== JSON.stringify(r.rows)) {
        return out(false, `psql disagrees with the bound query: ${viaPsql.error || JSON.stringify(viaPsql.rows)} vs ${shown}`);
      }
      switch (e.kind) {
        case 'rows':
          return out(r.rows.length === e.count, `${r.rows.length} row(s), expected ${e.count}: ${shown}`);
        case 'empty':
          return out(r.rows.length === 0, shown);
        case 'non_empty':
          return out(r.rows.length > 0, shown);
        case 'value': {
          const want = typeof e.equals === 'string' ? sub(e.equals, p) : String(e.equals);
          const got = r.rows.length === 1 ? r.rows[0]?.[0] : undefined;
          return out(got === want, `got ${JSON.stringify(got)} (${r.rows.length} row(s)), expected ${JSON.stringify(want)}`);
        }
        case 'every_row': {
          const col = r.header.indexOf(e.column);
          if (col === -1) return out(false, `no column ${e.column} in ${r.header.join(',')}`);
          const bad = r.rows.filter((row) => (e.equals !== undefined && row[col] !== String(e.equals)) || (e.pattern !== undefined && !new RegExp(e.pattern).test(row[col] ?? '')));
          return out(bad.length === 0, JSON.stringify(bad));
        }
        default: {
          const never: never = e;
          return never;
        }
      }
    }
    case 'command': {
      const argv = step.argv.map((a) => sub(a, p));
      const env = { ...libpqEnv(target.database), ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, sub(v, p)])) };
      const r = await run(argv, { env, timeoutMs: step.timeout_ms ?? 60_000 });
      const e = step.expect ?? {};
      const problems: string[] = [];
      if (e.exit_code !== undefined && r.code !== e.exit_code) problems.push(`exit ${r.code}, expected ${e.exit_code}`);
      if (e.stdout_pattern !== undefined && !new RegExp(e.stdout_pattern).test(r.stdout)) problems.push(`stdout does not match ${e.stdout_pattern}`);
      if (e.stdout_not_pattern !== undefined && new RegExp(e.stdout_not_pattern).test(r.stdout)) problems.push(`stdout matches ${e.stdout_not_pattern}`);
      if (e.stderr_pattern !== undefined && !new RegExp(e.stderr_pattern).test(r.stderr)) problems.push(`stderr does not match ${e.stderr_pattern}`);
      return out(problems.length === 0, `${argv.join(' ')} → ${problems.join('; ') || 'ok'}\n${r.stdout}${r.stderr}`);
    }
    case 'patch': {
      const file = sub(step.file, p);
      const text = step.diff ?? (await fileOf(step.diff_file ?? ''));
      const [patch] = parsePatch(text);
      if (!patch) return out(false, 'no patch');
      const before = await readFile(file, 'utf8');
      if (step.sha256 && createHash('sha256').update(before).digest('hex') !== step.sha256) return out(false, 'sha256 mismatch');
      const after = applyPatch(before, step.reverse ? reversePatch(patch) : patch);
      if (after === false) return out(false, `the diff does not apply to ${file}`);
      const mode = (await stat(file)).mode & 0o7777;
      await writeFile(file, after);
      await chmod(file, mode);
      return out(true, file);
    }
    case 'archive': {
      const to = sub(step.to, p);
      const r = await run(['pg_dump', '--format=custom', `--schema="${sub(step.schema, p)}"`, `--file=${to}`], { env: libpqEnv(target.database) });
      return out(r.code === 0, r.stderr);
    }
    case 'restore': {
      const r = await run(['pg_restore', '--exit-on-error', `--dbname=${target.database}`, sub(step.from, p)], { env: libpqEnv(target.database) });
      return out(r.code === 0, r.stderr);
    }
    case 'file': {
      const path = sub(step.path, p);
      const st = await stat(path).catch(() => null);
      const problems: string[] = [];
      if (step.exists !== undefined && (st !== null) !== step.exists) problems.push(st ? 'exists' : 'does not exist');
      if (st && step.type === 'file' && !st.isFile()) problems.push('is not a file');
      if (st && step.type === 'directory' && !st.isDirectory()) problems.push('is not a directory');
      if (st && step.not_world_writable && (st.mode & 0o002) !== 0) problems.push('is world-writable');
      if (
        st &&
        step.sha256 &&
        createHash('sha256')
          .update(await readFile(path))
          .digest('hex') !== step.sha256
      )
        problems.push('sha256 differs');
      return out(problems.length === 0, `${path}: ${problems.join(', ') || 'ok'}`);
    }
    case 'host': {
      const want = sub(step.equals, p);
      return out(hostname() === want, `host ${hostname()}, expected ${want}`);
    }
    default: {
      const never: never = step;
      return never;
    }
  }
}

/** Runs every step of a section in order, stopping at the first failure unless `all`. */
export async function walkSection(dot: Dot, section: Section, target: WalkTarget, all = false): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of dot[section]) {
    const o = await runStep(section, step, target);
    outcomes.push(o);
    if (!o.ok && !all) break;
  }
  return outcomes;
}

/** The failed outcomes, formatted for an assertion message. */
export function failures(outcomes: readonly StepOutcome[]): string {
  return outcomes
    .filter((o) => !o.ok)
    .map((o) => `${o.section} / ${o.name}: ${o.detail}`)
    .join('\n');
}
