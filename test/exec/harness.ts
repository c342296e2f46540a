/**
 * Shared walk for the executor tests: an incident (scratch database, roles, script, identities)
 * driven through the real binary as its users would — propose, approve, apply, rollback — plus
 * the observations the tests make on the target afterwards (privileges, rows, file bytes).
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { cp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { BIN, runCli, type CliResult } from '../helpers/cli.js';
import { ensureAdmitted } from '../helpers/admission.js';
import { createIncident, paramsFor, type Incident, type Person } from '../helpers/incident.js';
import { adminClient } from '../helpers/pg.js';

export type { Incident, Person };

/** An incident with the CLI bound to it. */
export interface Walk {
  readonly inc: Incident;
  /** the catalogue directory the CLI uses (the repository's, or a private copy) */
  dots: string;
  /** runs `dotctl` as `who` (a key) with the incident's flags, cwd in the incident's temp dir */
  cli(who: Person | null, args: readonly string[], env?: Record<string, string | undefined>): CliResult;
  /** starts `dotctl` as `who` without waiting; killed when it outlives `timeoutMs` */
  spawn(who: Person | null, args: readonly string[], env?: Record<string, string | undefined>, timeoutMs?: number): Spawned;
  /** proposes `refs` as olga with the incident's params; returns the proposal id */
  propose(refs: readonly string[], overrides?: Readonly<Record<string, string>>, env?: Record<string, string | undefined>): Promise<string>;
  /** proposes `refs` as olga with exactly the `-p` flags given (for private DOTs); returns the id */
  proposeWith(refs: readonly string[], flags: readonly string[]): string;
  /** approves as rita (and raj when `two`) */
  approve(id: string, two?: boolean): void;
  /** a value from the target database (as the superuser) */
  scalar(sql: string, values?: readonly unknown[]): Promise<unknown>;
  /** runs SQL on the target database as the superuser */
  exec(sql: string, values?: readonly unknown[]): Promise<void>;
  /** ledger events of a proposal, as `dotctl log --json` prints them */
  events(id?: string): LogEvent[];
  /** proposal state, as `dotctl status --json` prints it */
  state(id: string): string;
}

/** A dotctl process started by `Walk.spawn`. */
export interface Spawned {
  readonly pid: number;
  readonly result: Promise<CliResult>;
  kill(): void;
}

/** A row of `dotctl log --json`. */
export interface LogEvent {
  readonly seq: number;
  readonly event: string;
  readonly outcome: string | null;
  readonly actor: string;
  readonly dot_id: string | null;
  readonly detail: Record<string, unknown>;
}

/** Creates an incident and binds the CLI to it. */
export async function createWalk(label: string): Promise<Walk> {
  const inc = await createIncident(label);
  const flagsFor = (dots: string): string[] => flags(dots);
  const flags = (dots: string): string[] => {
    const f = [...inc.flags];
    f[f.indexOf('--dots') + 1] = dots;
    return f;
  };
  const w: Walk = {
    inc,
    dots: inc.flags[inc.flags.indexOf('--dots') + 1] ?? 'dots',
    cli(who, args, env) {
      return runCli([...flags(w.dots), ...(who ? ['--key', who.key] : []), ...args], { cwd: inc.dir, env });
    },
    spawn(who, args, env, timeoutMs = 120_000) {
      const child = spawn(process.execPath, [BIN, ...flags(w.dots), ...(who ? ['--key', who.key] : []), ...args], {
        cwd: inc.dir,
        env: { ...process.env, DOTCTL_DEBUG: undefined, ...env } as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = new Promise<CliResult>((res) =>
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          res({ code: code ?? (signal === 'SIGKILL' ? 137 : -1), stdout, stderr });
        }),
      );
      return { pid: child.pid ?? -1, result, kill: () => child.kill('SIGKILL') };
    },
    async propose(refs, overrides = {}, env) {
      ensureAdmitted(flags(w.dots), [inc.reviewer1, inc.reviewer2], inc.dir);
      const r = w.cli(inc.operator, ['propose', ...refs, ...(await paramsFor(inc, refs, overrides)), '--json'], env);
      if (r.code !== 0) throw new Error(`propose ${refs.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
      return (JSON.parse(r.stdout) as { id: string }).id;
    },
    proposeWith(refs, flags) {
      ensureAdmitted(flagsFor(w.dots), [inc.reviewer1, inc.reviewer2], inc.dir);
      const r = w.cli(inc.operator, ['propose', ...refs, ...flags, '--json']);
      if (r.code !== 0) throw new Error(`propose ${refs.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
      return (JSON.parse(r.stdout) as { id: string }).id;
    },
    approve(id, two = false) {
      for (const who of two ? [inc.reviewer1, inc.reviewer2] : [inc.reviewer1]) {
        const r = w.cli(who, ['approve', id]);
        if (r.code !== 0) throw new Error(`approve ${id} by ${who.name} failed (exit ${r.code}): ${r.stderr}`);
      }
    },
    async scalar(sql, values = []) {
      const c = await adminClient(inc.db.name);
      try {
        const r = await c.query(sql, values as unknown[]);
        const row = r.rows[0] as Record<string, unknown> | undefined;
        return row ? Object.values(row)[0] : undefined;
      } finally {
        await c.end();
      }
    },
    async exec(sql, values = []) {
      const c = await adminClient(inc.db.name);
      try {
        await c.query(sql, values as unknown[]);
      } finally {
        await c.end();
      }
    },
    events(id) {
      const r = w.cli(null, ['log', ...(id ? ['--proposal', id] : []), '--json']);
      if (r.code !== 0) throw new Error(`log failed (exit ${r.code}): ${r.stderr}`);
      return r.stdout.trim() === ''
        ? []
        : r.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as LogEvent);
    },
    state(id) {
      const r = w.cli(null, ['status', id, '--json']);
      if (r.code !== 0) throw new Error(`status failed (exit ${r.code}): ${r.stderr}`);
      return (JSON.parse(r.stdout) as { proposal: { state: string } }).proposal.state;
    },
  };
  return w;
}

/** A private copy of the catalogue under the incident's temp dir, edited by `edit(dir)`. */
export async function privateDots(w: Walk, name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(w.inc.dir, name);
  await cp('dots', dir, { recursive: true });
  await edit(dir);
  return dir;
}

/** Replaces `from` by `to` in a file, failing when `from` is not there (a test must not silently test nothing). */
export async function replaceIn(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${JSON.stringify(from)}`);
  await writeFile(file, text.split(from).join(to));
}

/** sha256 of a file's bytes. */
export async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Mode bits of a file, as octal text (e.g. "755"). */
export async function modeOf(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

/** Names in a directory, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** The privileges a role holds in the incident's schema (schema USAGE, tables, default ACLs). */
export async function privileges(w: Walk, role: string): Promise<string> {
  const usage = await w.scalar(`SELECT has_schema_privilege($1, 'sandbox_tac', 'USAGE')::text`, [role]);
  const tables = await w.scalar(
    `SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'sandbox_tac' AND c.relkind IN ('r', 'S') AND has_table_privilege($1, c.oid, 'SELECT')`,
    [role],
  );
  const defaults = await w.scalar(`SELECT count(*)::int FROM pg_default_acl`);
  return `usage=${String(usage)} readable=${String(tables)} default_acls=${String(defaults)}`;
}

/** Rows of the incident's schema (243 in the seed), or null when the schema is gone. */
export async function schemaRows(w: Walk): Promise<number | null> {
  const exists = await w.scalar(`SELECT count(*)::int FROM pg_namespace WHERE nspname = 'sandbox_tac'`);
  if (exists === 0) return null;
  const { SEED_TABLES } = await import('../../src/cli/demo/incident.js');
  let n = 0;
  for (const [t] of SEED_TABLES) n += Number(await w.scalar(`SELECT count(*)::int FROM sandbox_tac."${t}"`));
  return n;
}

/** Polls `probe` until it returns true or `ms` pass. */
export async function waitFor(probe: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Result of a program run by `run`. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv without a shell (bounded by a timeout), with `env` over the test's environment. */
export function run(argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000): RunResult {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd ?? 'false', args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** libpq flags that reach the test server as the superuser. */
export function pgFlags(w: Walk): string[] {
  const u = new URL(w.inc.db.url);
  return ['-h', u.hostname, '-p', u.port || '5432', '-U', 'postgres', '-d', w.inc.db.name];
}

/**
 * Whether a stored SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from `password`
 * (RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key"))). Trust authentication on the
 * test server accepts any password, so this is how a test proves which password was set.
 */
export function scramMatches(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2]!, 'base64'), Number(m[1]), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest('base64');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
  return storedKey === m[3] && serverKey === m[4];
}

/** DOTs that exist only in the tests' private catalogues (option labels T1…), to drive the engine into corners. */
export const TEST_DOTS: Readonly<Record<string, string>> = {
  // a text parameter reaching SQL as a literal, both in a statement and in a check
  'DOT-TEST-SCHEMA-NOTE.yaml': `
id: DOT-TEST-SCHEMA-NOTE
version: 1
option: T1
title: Comment on a schema (executor test)
summary: Sets the comment of a schema to a text parameter; the tests feed it hostile text.
applies_when: Executor tests only.
risk: reversible
action_code: DOT-TEST-SCHEMA-NOTE
laws: [Đ32, Đ33, Đ35]
params:
  schema: { type: identifier, default: sandbox_tac, description: Schema to comment on. }
  note: { type: text, description: The comment. }
pre_check:
  - kind: sql
    name: Schema exists and the note is not its comment yet
    sql: SELECT 1 FROM pg_namespace WHERE nspname = :'schema' AND obj_description(oid, 'pg_namespace') IS DISTINCT FROM :'note'
    expect: { kind: rows, count: 1 }
diff:
  - kind: sql
    name: Comment on the schema
    sql: COMMENT ON SCHEMA :"schema" IS :'note'
rollback:
  - kind: sql
    name: Remove the comment
    sql: COMMENT ON SCHEMA :"schema" IS NULL
post_verify:
  - kind: sql
    name: The comment is the note, exactly
    sql: SELECT (obj_description(oid, 'pg_namespace') = :'note')::text FROM pg_namespace WHERE nspname = :'schema'
    expect: { kind: value, equals: "true" }
`,
  // a DDL step that needs a lock another session may hold, with a short lock_timeout
  'DOT-TEST-ADD-COLUMN.yaml': `
id: DOT-TEST-ADD-COLUMN
version: 1
option: T2
title: Add a column to a table (executor test)
summary: ALTER TABLE needs an ACCESS EXCLUSIVE lock; the tests hold a conflicting one.
applies_when: Executor tests only.
risk: reversible
action_code: DOT-TEST-ADD-COLUMN
laws: [Đ32, Đ33, Đ35]
params:
  schema: { type: identifier, default: sandbox_tac, description: Schema of the table. }
timeouts:
  lock_timeout_ms: 300
pre_check:
  - kind: sql
    name: Column does not exist yet
    sql: SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(:'schema' || '.publication') AND attname = 'note'
    expect: { kind: empty }
diff:
  - kind: sql
    name: Add the column
    sql: ALTER TABLE :"schema".publication ADD COLUMN note text
rollback:
  - kind: sql
    name: Drop the column
    sql: ALTER TABLE :"schema".publication DROP COLUMN note
post_verify:
  - kind: sql
    name: Column exists
    sql: SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(:'schema' || '.publication') AND attname = 'note'
    expect: { kind: rows, count: 1 }
`,
  // an insert whose deferred constraint trigger sleeps at COMMIT (public.commit_probe, made by the test)
  'DOT-TEST-SLOW-COMMIT.yaml': `
id: DOT-TEST-SLOW-COMMIT
version: 1
option: T3
title: Insert a row whose COMMIT is slow (executor test)
summary: A deferred constraint trigger sleeps at COMMIT, so a test can lose the connection during it.
applies_when: Executor tests only.
risk: reversible
action_code: DOT-TEST-SLOW-COMMIT
laws: [Đ32, Đ33, Đ35]
pre_check:
  - kind: sql
    name: Probe table is empty
    sql: SELECT 1 FROM public.commit_probe
    expect: { kind: empty }
diff:
  - kind: sql
    name: Insert the probe row
    sql: INSERT INTO public.commit_probe VALUES (1)
rollback:
  - kind: sql
    name: Delete the probe row
    sql: DELETE FROM public.commit_probe
post_verify:
  - kind: sql
    name: Probe row is there
    sql: SELECT 1 FROM public.commit_probe
    expect: { kind: rows, count: 1 }
`,
};

/** A private catalogue: the repository's DOTs, the test DOTs, then `edit(dir)`. */
export async function testCatalogue(w: Walk, name: string, edit: (dir: string) => Promise<void> = async () => undefined): Promise<string> {
  return privateDots(w, name, async (dir) => {
    for (const [file, text] of Object.entries(TEST_DOTS)) await writeFile(join(dir, file), text.trimStart());
    await edit(dir);
  });
}

/** Backends of dotctl on the incident's database, with what they wait for. */
export async function dotctlBackends(w: Walk): Promise<{ pid: number; wait: string | null; query: string }[]> {
  const c = await adminClient();
  try {
    const r = await c.query(`SELECT pid, wait_event AS wait, query FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dotctl' AND pid <> pg_backend_pid()`, [w.inc.db.name]);
    return r.rows as { pid: number; wait: string | null; query: string }[];
  } finally {
    await c.end();
  }
}

const GRANT_USAGE = `    sql: GRANT USAGE ON SCHEMA :"schema" TO :"dump_role"\n`;
const SLEEP_STEP = (name: string): string => `  - kind: sql\n    name: ${name}\n    sql: SELECT pg_sleep(2)\n`;
const REVOKE_USAGE = `    sql: REVOKE USAGE ON SCHEMA :"schema" FROM :"dump_role"\n`;

/** A private catalogue where A's diff (and rollback) hold the transaction open for 2 s after their first change. */
export async function slowA(w: Walk, name: string): Promise<string> {
  return testCatalogue(w, name, async (dir) => {
    const f = join(dir, 'DOT-PG-GRANT-SCHEMA.yaml');
    await replaceIn(f, GRANT_USAGE, GRANT_USAGE + SLEEP_STEP('Hold the transaction open'));
    await replaceIn(f, REVOKE_USAGE, REVOKE_USAGE + SLEEP_STEP('Hold the rollback open'));
  });
}

/** Waits until dotctl's backend on the incident's database sleeps (optionally inside a given statement). */
export async function sleepingBackend(w: Walk, query?: RegExp): Promise<number> {
  let pid = 0;
  await waitFor(
    async () => {
      const b = (await dotctlBackends(w)).find((x) => x.wait === 'PgSleep' && (!query || query.test(x.query)));
      pid = b?.pid ?? 0;
      return pid !== 0;
    },
    30_000,
    'dotctl to be inside pg_sleep on the target',
  );
  return pid;
}

/**
 * What CONST-IRREVERSIBLE asks before C2: a real dump of the incident's database in its backup
 * directory and a restore drill (DOT-PG-RESTORE-DRILL) proposed, approved and applied on it.
 * Returns the drill's proposal id.
 */
export async function passDrill(w: Walk): Promise<string> {
  const plain = join(w.inc.dir, 'drill-dump.sql');
  const r = run(['pg_dump', ...pgFlags(w), '--no-owner', '--no-acl', '-f', plain]);
  if (r.code !== 0) throw new Error(`pg_dump for the drill failed: ${r.stderr}`);
  await writeFile(join(w.inc.backupDir, 'directus_2026-04-28_0000.sql.gz'), gzipSync(await readFile(plain)), { mode: 0o600 });
  await rm(plain, { force: true });
  const id = await w.propose(['DOT-PG-RESTORE-DRILL']);
  w.approve(id);
  const a = w.cli(w.inc.operator2, ['apply', id]);
  if (a.code !== 0) throw new Error(`restore drill ${id} failed (exit ${a.code}):\n${a.stdout}\n${a.stderr}`);
  return id;
}
