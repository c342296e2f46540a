/**
 * Kill points: for each of the five DOTs (in the bundles an operator would apply: A+D, B+D,
 * C1+D, C2+D, D), `dotctl apply` is SIGKILLed at step boundaries — the CLI run with an injected hook
 * (pausing-cli.mjs, given the key <DOT id>/<section>/<index>) stops right after that step ran and
 * was logged; the shipped CLI has no such hook. The boundaries come from the DOT specs in dots/: one pre-check, every diff step, the
 * transaction's BEGIN and COMMIT, the first and last SQL post-verify (inside the transaction) and
 * the first and last non-SQL post-verify (after COMMIT). After each kill:
 *   - the target is consistent: the SQL part is all old (killed before COMMIT) or all new (after),
 *     the script's bytes are the original, the D-hardened or the fully patched ones according to
 *     the patch steps done, the archive exists only once archived, no temp file by the script;
 *   - `dotctl log verify` exits 0 and `dotctl status` says `interrupted`;
 *   - a plain re-apply exits 0 and leaves exactly the new state (the one a clean apply leaves),
 *     and the chain still verifies.
 * One incident per bundle: a clean reference apply gives the new state and the real step order,
 * and between kills `dotctl rollback` returns the target to the old state (C2's restore comes from
 * its archive, which is then removed, as the next proposal's pre-check demands); each kill is on a
 * fresh proposal of the same bundle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasStackTrace, type CliResult } from '../helpers/cli.js';
import { paramsFor, type Person } from '../helpers/incident.js';
import { adminClient, uniqueName } from '../helpers/pg.js';
import { createWalk, passDrill, privateDots, replaceIn, sha256, type LogEvent, type Walk } from '../exec/harness.js';
import { ensureAdmitted } from '../helpers/admission.js';
import { cleanEnv, dotctl } from './run.js';

/** The CLI with the kill-point hook injected (test-only entry). */
const PAUSING_CLI = fileURLToPath(new URL('./pausing-cli.mjs', import.meta.url));
import { loadCatalogue } from '../../src/catalogue/load.js';
import { resolveBundle } from '../../src/engine.js';
import { SEED_TABLES } from '../../src/cli/demo/incident.js';
import type { ValidDot } from '../../src/catalogue/validate.js';

/** What a kill must leave consistent. */
interface Snapshot {
  /** the SQL side of the target: privileges, the backup role, the schema and its rows */
  readonly sql: string;
  /** sha256 of the backup script */
  readonly script: string;
  /** names next to the script (a temp file there is a half-done write) */
  readonly scriptDir: string;
  /** names in the archive directory */
  readonly archive: string;
}

async function snapshot(w: Walk, role: string | null): Promise<Snapshot> {
  const c = await adminClient(w.inc.db.name);
  try {
    const r = await c.query(
      `SELECT
         (SELECT has_schema_privilege($1, oid, 'USAGE') FROM pg_namespace WHERE nspname = 'sandbox_tac') AS usage,
         (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'sandbox_tac') AS owner,
         (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'sandbox_tac' AND c.relkind IN ('r', 'S') AND has_table_privilege($1, c.oid, 'SELECT')) AS readable,
         (SELECT count(*)::int FROM pg_default_acl) AS default_acls,
         (SELECT string_agg(rolname || ' login=' || rolcanlogin || ' read_all=' || pg_has_role(oid, 'pg_read_all_data', 'MEMBER'), ',')
            FROM pg_roles WHERE rolname = $2) AS role`,
      [w.inc.dumpRole, role ?? ''],
    );
    const row = r.rows[0] as Record<string, unknown>;
    let rows: number | null = null;
    if (row.owner !== null) {
      const q = SEED_TABLES.map(([t]) => `(SELECT count(*) FROM sandbox_tac."${t}")`).join(' + ');
      rows = Number((await c.query(`SELECT (${q})::int AS n`)).rows[0]?.n);
    }
    return {
      sql: JSON.stringify({ ...row, rows }),
      script: await sha256(w.inc.scriptPath),
      scriptDir: (await readdir(join(w.inc.dir, 'scripts'))).sort().join(','),
      archive: (await readdir(w.inc.archiveDir)).sort().join(','),
    };
  } finally {
    await c.end();
  }
}

/** Global flags of the walk with its current catalogue. */
function flags(w: Walk): string[] {
  const f = [...w.inc.flags];
  f[f.indexOf('--dots') + 1] = w.dots;
  return f;
}

/**
 * `dotctl` as `who` on the walk, without blocking the event loop (Walk.cli is synchronous, which
 * would serialize the two bundles this file runs side by side).
 */
function cli(w: Walk, who: Person | null, args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return dotctl([...flags(w), ...(who ? ['--key', who.key] : []), ...args], { cwd: w.inc.dir, env, timeoutMs: 120_000 });
}

/**
 * Starts `dotctl apply id` paused at `key`, waits (bounded) for the hook's line, SIGKILLs it.
 * Returns the pid it had.
 */
async function killAt(w: Walk, id: string, key: string, env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [PAUSING_CLI, key, ...flags(w), '--key', w.inc.operator2.key, 'apply', id], {
    cwd: w.inc.dir,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code, signal })));
  const paused = new Promise<boolean>((res) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes(`dotctl: paused at ${key}\n`)) res(true);
    });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    void closed.then(() => res(false));
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), 60_000)));
  try {
    const got = await Promise.race([paused, timedOut]);
    if (got !== true) {
      throw new Error(`apply of ${id} never paused at ${key} (${got === 'timeout' ? 'no pause line within 60 s' : 'it ended first'}):\n${stdout}\n${stderr}`);
    }
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
  const end = await closed;
  assert.equal(end.signal, 'SIGKILL', `the apply ended on its own: ${stdout}\n${stderr}`);
  return child.pid ?? -1;
}

/** A kill point: the step key DOTCTL_PAUSE_AT names, and what it is in words. */
interface Boundary {
  readonly key: string;
  readonly why: string;
}

/** Kill boundaries derived from the specs (see the file comment). */
function boundaries(dots: readonly ValidDot[]): Boundary[] {
  const out: Boundary[] = [];
  const add = (key: string | undefined, why: string): void => {
    if (key && !out.some((b) => b.key === key)) out.push({ key, why });
  };
  const last = dots.at(-1)!;
  add(`${last.spec.id}/pre_check/${last.spec.pre_check.length - 1}`, 'after the last pre-check, before any change');
  for (const d of dots) for (const [i, s] of d.spec.diff.entries()) add(`${d.spec.id}/diff/${i}`, `after diff step "${s.name}" (${s.kind})`);
  const sqlDiff = dots.filter((d) => d.spec.diff.some((s) => s.kind === 'sql' && s.transactional !== false));
  const sqlVerify = dots.flatMap((d) => d.spec.post_verify.map((s, i) => ({ d, s, i })).filter((x) => x.s.kind === 'sql'));
  const anchor = sqlDiff[0] ?? sqlVerify[0]?.d;
  if (anchor) add(`${anchor.spec.id}/transaction/0`, 'after BEGIN (transaction id logged)');
  const first = sqlVerify[0];
  const lastSql = sqlVerify.at(-1);
  if (first) add(`${first.d.spec.id}/post_verify/${first.i}`, 'after the first SQL post-verify (inside the transaction)');
  if (lastSql) add(`${lastSql.d.spec.id}/post_verify/${lastSql.i}`, 'after the last SQL post-verify (inside the transaction)');
  if (anchor) add(`${anchor.spec.id}/transaction/1`, 'after COMMIT');
  const outside = dots.flatMap((d) => d.spec.post_verify.map((s, i) => ({ d, s, i })).filter((x) => x.s.kind !== 'sql'));
  const o1 = outside[0];
  const o2 = outside.at(-1);
  if (o1) add(`${o1.d.spec.id}/post_verify/${o1.i}`, 'after the first non-SQL post-verify (after COMMIT)');
  if (o2) add(`${o2.d.spec.id}/post_verify/${o2.i}`, 'after the last non-SQL post-verify (the last step before applied)');
  return out;
}

const keyOf = (e: LogEvent): string => `${e.dot_id}/${String(e.detail.section)}/${String(e.detail.index)}`;

interface BundleCase {
  readonly label: string;
  readonly refs: readonly string[];
  readonly two?: boolean;
  /** prepares the walk (private catalogue…); returns the backup role to watch, if any */
  readonly setup?: (w: Walk) => Promise<{ role: string | null; overrides: Record<string, string>; env: Record<string, string> }>;
}

/** Longest first, so the two lanes end together. */
const CASES: readonly BundleCase[] = [
  { label: 'A + D', refs: ['A', 'D'] },
  {
    label: 'B + D',
    refs: ['B', 'D'],
    // backup_role is cluster-wide: as in test/exec/apply-dots.test.ts, a private catalogue pins a unique name
    async setup(w) {
      const role = uniqueName('backup');
      w.inc.extraRoles.push(role);
      w.dots = await privateDots(w, 'dots-b', async (dir) => {
        await replaceIn(join(dir, 'DOT-PG-NEW-ROLE.yaml'), 'expect: { kind: value, equals: backup_role }', `expect: { kind: value, equals: ${role} }`);
        await replaceIn(join(dir, 'DOT-PG-NEW-ROLE.dbuser.diff'), '+DB_USER="${DB_USER:-backup_role}"', `+DB_USER="\${DB_USER:-${role}}"`);
      });
      return { role, overrides: { role_name: role }, env: { DOTCTL_SECRET_BACKUP_ROLE_PASSWORD: `pw-${Math.random().toString(36).slice(2)}` } };
    },
  },
  {
    label: 'C2 + D',
    refs: ['C2', 'D'],
    two: true,
    // CONST-IRREVERSIBLE: a restore drill passed on the target first (one drill covers every re-apply of the suite)
    async setup(w) {
      await passDrill(w);
      return { role: null, overrides: {}, env: {} };
    },
  },
  { label: 'C1 + D', refs: ['C1', 'D'] },
  { label: 'D', refs: ['D'] },
];

// test names are needed when the file loads: the catalogue is read once, up front (B's private
// copy differs only in the role name, not in its steps)
const BOUNDARIES = new Map<string, Boundary[]>();
{
  const cat = await loadCatalogue('dots');
  for (const c of CASES) BOUNDARIES.set(c.label, boundaries(resolveBundle(cat, c.refs)));
}

function ok(r: CliResult, what: string): void {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  assert.ok(!hasStackTrace(r.stdout) && !hasStackTrace(r.stderr), `${what} printed a stack trace`);
}

// two bundles at a time (each has its own database, ledger and files; the target lock is per
// database): the suite is mostly process start-ups, so this halves it on a 2-core machine
describe('kill points', { concurrency: 2 }, () => {
  for (const c of CASES) {
    describe(`kill points of ${c.label}`, { concurrency: 1 }, () => {
      let w: Walk;
      let role: string | null = null;
      let overrides: Record<string, string> = {};
      let env: Record<string, string> = {};
      let dots: ValidDot[] = [];
      let OLD: Snapshot;
      let NEW: Snapshot;
      let hardened = '';
      /** the engine's step order of a clean apply (keys of step_passed events) and its kinds */
      let order: { key: string; kind: string; section: string }[] = [];

      async function fresh(): Promise<string> {
        const f = [...w.inc.flags];
        f[f.indexOf('--dots') + 1] = w.dots;
        ensureAdmitted(f, [w.inc.reviewer1, w.inc.reviewer2], w.inc.dir);
        const p = await cli(w, w.inc.operator, ['propose', ...c.refs, ...(await paramsFor(w.inc, c.refs, overrides)), '--json'], env);
        ok(p, `propose ${c.label}`);
        const id = (JSON.parse(p.stdout) as { id: string }).id;
        for (const who of c.two === true ? [w.inc.reviewer1, w.inc.reviewer2] : [w.inc.reviewer1]) ok(await cli(w, who, ['approve', id]), `approve by ${who.name}`);
        return id;
      }

      /** Back to the old state: roll the applied proposal back (and drop C2's used archive). */
      async function reset(id: string): Promise<void> {
        ok(await cli(w, w.inc.operator2, ['rollback', id], env), `rollback of ${id}`);
        await rm(join(w.inc.archiveDir, 'sandbox_tac_archive.dump'), { force: true });
        assert.deepEqual(await snapshot(w, role), OLD, 'rollback returns the target to the old state');
      }

      let last = '';
      before(async () => {
        w = await createWalk(`kp_${c.refs.join('').toLowerCase()}`);
        if (c.setup) ({ role, overrides, env } = await c.setup(w));
        dots = resolveBundle(await loadCatalogue(w.dots), c.refs);
        hardened = await sha256(resolve('examples/pg-backup.hardened.sh'));
        OLD = await snapshot(w, role);
        // the reference: a clean apply gives the new state and the engine's real step order
        const id = await fresh();
        ok(await cli(w, w.inc.operator2, ['apply', id], env), `reference apply of ${c.label}`);
        NEW = await snapshot(w, role);
        const log = await cli(w, null, ['log', '--proposal', id, '--json']);
        ok(log, 'log');
        order = log.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as LogEvent)
          .filter((e) => e.event === 'step_passed')
          .map((e) => ({ key: keyOf(e), kind: String(e.detail.kind), section: String(e.detail.section) }));
        last = id;
      });
      after(async () => w?.inc.cleanup());

      test('the boundaries derived from the specs are steps a clean apply passes', () => {
        assert.notDeepEqual(NEW, OLD, 'the bundle changes something');
        for (const b of boundaries(dots))
          assert.ok(
            order.some((s) => s.key === b.key),
            `${b.key} (${b.why}) is not a step of the clean apply: ${order.map((s) => s.key).join(' ')}`,
          );
      });

      for (const b of BOUNDARIES.get(c.label) ?? []) {
        test(`SIGKILL ${b.why}: ${b.key}`, async () => {
          await reset(last);
          const id = await fresh();
          last = id;
          const pid = await killAt(w, id, b.key, env);

          // what was done before the boundary, from the clean apply's order
          const at = order.findIndex((s) => s.key === b.key);
          const done = order.slice(0, at + 1);
          const committed = done.some((s) => s.section === 'transaction' && s.key.endsWith('/transaction/1'));
          const patches = done.filter((s) => s.section === 'diff' && s.kind === 'patch').length;
          const allPatches = order.filter((s) => s.section === 'diff' && s.kind === 'patch').length;
          const archived = done.some((s) => s.section === 'diff' && s.kind === 'archive');
          // D, a companion, is applied first: between two patch steps the script is exactly D's hardened one
          const script = patches === 0 ? OLD.script : patches === allPatches ? NEW.script : hardened;

          const now = await snapshot(w, role);
          assert.equal(now.sql, committed ? NEW.sql : OLD.sql, `SQL side after a kill ${b.why}`);
          assert.equal(now.script, script, `script bytes after ${patches} of ${allPatches} patch step(s)`);
          assert.equal(now.scriptDir, OLD.scriptDir, 'no temp file next to the script');
          assert.equal(now.archive, archived ? NEW.archive : OLD.archive, 'the archive exists once archived');

          ok(await cli(w, null, ['log', 'verify']), 'log verify after the kill');
          const st = await cli(w, null, ['status', id]);
          ok(st, 'status');
          assert.match(st.stdout, new RegExp(`interrupted: the apply \\(pid ${pid}, started .*\\) is gone`));

          const again = await cli(w, w.inc.operator2, ['apply', id], env);
          ok(again, `re-apply after a kill at ${b.key}`);
          assert.match(again.stdout, new RegExp(`${id} applied: `));
          if (committed) assert.match(again.stdout, /the interrupted apply committed transaction \d+; finishing it with the post-verify/);
          assert.deepEqual(await snapshot(w, role), NEW, 're-apply leaves the new state');
          ok(await cli(w, null, ['log', 'verify']), 'log verify after the re-apply');
        });
      }
    });
  }
});
