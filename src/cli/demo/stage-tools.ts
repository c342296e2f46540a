/**
 * What the demo's stages share: running the backup script and the PostgreSQL tools on the
 * scratch incident, the seed's parameters for a bundle, row counts, and short report lines.
 */
import type { Readable } from 'node:stream';
import { findDot, runProgram, type ApplyReport, type ProgramRun } from '../../engine.js';
import { countRows, SEED_ROWS, SEED_TABLES } from './incident.js';
import { BACKUP_TIMEOUT_MS, runBackupScript, type BackupScriptRun } from './backup-script.js';
import { adminToolEnv, type PgClient } from './scratch.js';
import { columns } from './print.js';
import { check, type DemoContext, type Person } from './stage.js';
import type { Push } from './heartbeat.js';

export const SCHEMA = 'sandbox_tac';
/** The heartbeat path D's post-verify pushes to (the backup's own is KUMA_PATH). */
export const VERIFY_PATH = '/api/push/dotctl-post-verify';
export const TOOL_TIMEOUT_MS = 120_000;

// ── helpers ─────────────────────────────────────────────────────────────────────────────

/** Runs the backup script at ctx.paths.script against the incident database, printing the command. */
export async function runBackup(ctx: DemoContext, extra: Readonly<Record<string, string>> = {}): Promise<BackupScriptRun> {
  const show =
    Object.keys(extra).length > 0
      ? `  (${Object.entries(extra)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')})`
      : '';
  ctx.say(`$ bash ${ctx.paths.script}${show}`);
  const b = await runBackupScript({
    script: ctx.paths.script,
    server: ctx.server,
    database: ctx.database,
    dbUser: ctx.dumpRole,
    password: ctx.dumpPassword,
    backupDir: ctx.paths.backups,
    listener: ctx.listener,
    extra,
    signal: ctx.signal,
  });
  check(b.run.spawnError === null, `cannot run bash: ${b.run.spawnError}`);
  check(!b.run.timedOut, `the backup script did not finish within ${BACKUP_TIMEOUT_MS / 1000} s`);
  return b;
}

export function describePushes(pushes: readonly Push[]): string {
  return pushes.length === 0 ? 'none' : pushes.map((p) => `${p.status ?? '?'}${p.msg ? ` (msg=${p.msg})` : ''} to ${p.path}`).join('; ');
}

export async function tool(ctx: DemoContext, argv: readonly string[], database: string, stdin?: Readable): Promise<ProgramRun> {
  const run = await runProgram(argv, { env: adminToolEnv(ctx.server, database), timeoutMs: TOOL_TIMEOUT_MS, signal: ctx.signal, stdin });
  check(run.spawnError === null, `cannot run ${argv[0]}: ${run.spawnError}; install the PostgreSQL client tools`);
  check(!run.timedOut, `${argv.join(' ')} did not finish within ${TOOL_TIMEOUT_MS / 1000} s`);
  return run;
}

/** `name=value` pairs for exactly the parameters the named DOTs declare (others are refused). */
export function pairsFor(ctx: DemoContext, refs: readonly string[]): string[] {
  const cat = ctx.catalogue;
  const names = new Set(
    refs.flatMap((r) =>
      Object.entries(findDot(cat, r).spec.params)
        .filter(([, p]) => p.type !== 'secret')
        .map(([n]) => n),
    ),
  );
  return [...names]
    .sort()
    .filter((n) => ctx.params[n] !== undefined)
    .map((n) => `${n}=${ctx.params[n]}`);
}

export async function rowCounts(ctx: DemoContext, database: string): Promise<Record<string, number>> {
  return ctx.scratch.withClient(database, (c) => countRows(c, SCHEMA));
}

export function expectSeedRows(counts: Readonly<Record<string, number>>, where: string): number {
  for (const [t, n] of SEED_TABLES) check(counts[t] === n, `${where}: ${SCHEMA}.${t} has ${counts[t] ?? 'no'} rows, the seed has ${n}`);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  check(total === SEED_ROWS, `${where}: ${total} rows in ${SCHEMA}, the seed has ${SEED_ROWS}`);
  return total;
}

export function rowLine(counts: Readonly<Record<string, number>>): string {
  return `${SEED_TABLES.map(([t]) => counts[t] ?? 0).join('/')} = ${Object.values(counts).reduce((a, b) => a + b, 0)}`;
}

export async function schemaExists(c: PgClient): Promise<boolean> {
  return (await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [SCHEMA])).rowCount === 1;
}

/** One line per section of an apply report: how many steps passed. */
export function summarizeSteps(r: ApplyReport): string[] {
  const groups = new Map<string, { n: number; ok: number; notRun: number }>();
  for (const s of r.steps) {
    const k = `${s.dotId} ${s.section.replace('_', '-').replace('hard-stops', 'hard stops')}`;
    const g = groups.get(k) ?? { n: 0, ok: 0, notRun: 0 };
    g.n += 1;
    if (s.outcome === 'passed' || s.outcome === 'already_applied' || s.outcome === 'skipped') g.ok += 1;
    if (s.outcome === 'not_run') g.notRun += 1;
    groups.set(k, g);
  }
  return columns(
    [...groups.entries()].map(([k, g]) => [k, `${g.ok}/${g.n} passed${g.notRun > 0 ? `, ${g.notRun} not run (tool not installed)` : ''}`]),
    '    ',
  );
}

export function stepObserved(r: ApplyReport, name: string): string {
  return r.steps.find((s) => s.name === name)?.observed ?? '(step not in the report)';
}

export async function applyAs(ctx: DemoContext, who: Person, id: string): Promise<ApplyReport> {
  const r = await ctx.as(who).apply(id);
  const bad = r.steps.find((s) => s.outcome === 'failed' || s.outcome === 'error');
  check(r.outcome === 'applied', `apply of ${id} ended ${r.outcome}: ${r.message}${bad ? `; first failing step: ${bad.dotId} ${bad.name}: ${bad.observed}` : ''}`);
  return r;
}

// ── the stages ──────────────────────────────────────────────────────────────────────────
