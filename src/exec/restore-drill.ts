/**
 * The restore drill: proof that the backups restore. The newest good dump of a directory (judged
 * as the backup audit judges it: the gzip intact, pg_dump's "dump complete" line at the end, a
 * minimum payload — never the seed's 20-byte files) is restored with psql into a new scratch
 * database `dotctl_drill_<hex>` on the target's own server, every table's row count there is
 * compared with the live database's (read in a READ ONLY transaction), and the scratch database
 * is dropped whatever happened. The live database is only read. Judging the counts is pure.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { BoundStep } from '../catalogue/steps.js';
import { auditBackupDir, formatBytes, type BackupVerdict } from './backup-audit.js';
import { ARCHIVE_TIMEOUT_MS, toolEnv } from './archive.js';
import type { CheckResult } from './checks.js';
import { runProgram } from './command.js';
import { sameServer } from './scratch-db.js';
import { targetFingerprint, withTarget, withTransaction, type TargetAddress, type TargetClient } from './target.js';

type Drill = Extract<BoundStep, { kind: 'restore_drill' }>;

/** What a drill reports: a check result, with what the action log keeps of it. */
export interface DrillResult extends CheckResult {
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** One table's row counts. */
export interface TableCount {
  /** `schema.table` */
  readonly table: string;
  /** rows in the restored dump; null when the dump does not have the table */
  readonly restored: number | null;
  /** rows in the live database; null when the live database does not have it */
  readonly live: number | null;
}

/** Whether one table's restored count is within `pct` % of the live one. Pure. */
export function withinTolerance(c: TableCount, pct: number): boolean {
  const restored = c.restored ?? 0;
  const live = c.live ?? 0;
  return Math.abs(restored - live) <= Math.floor((Math.max(restored, live) * pct) / 100);
}

/** The tables whose counts differ beyond the tolerance, in words. Pure. */
export function judgeCounts(counts: readonly TableCount[], pct: number): string[] {
  const show = (n: number | null, where: string): string => (n === null ? `not in the ${where}` : `${n}`);
  return counts.filter((c) => !withinTolerance(c, pct)).map((c) => `${c.table} restored ${show(c.restored, 'dump')}, live ${show(c.live, 'live database')}`);
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/** User tables (partitioned parents, not their partitions) outside the system schemas and `exclude`. */
const TABLES_SQL = `SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
    AND NOT (n.nspname = ANY($1::text[]))
  ORDER BY 1, 2`;

/** Exact row counts of every user table, `schema.table` → rows. */
async function countRows(client: TargetClient, exclude: readonly string[]): Promise<Map<string, number>> {
  const tables = await client.query(TABLES_SQL, [[...exclude]]);
  const out = new Map<string, number>();
  for (const row of tables.rows) {
    const schema = String(row.schema);
    const name = String(row.name);
    const r = await client.query(`SELECT count(*)::bigint AS n FROM ${quoteIdent(schema)}.${quoteIdent(name)}`);
    out.set(`${schema}.${name}`, Number(r.rows[0]?.n ?? 0));
  }
  return out;
}

/** The newest good dump with at least `minPayload` bytes of payload, and why the newer ones were passed over. */
function pickDump(files: readonly BackupVerdict[], minPayload: number): { dump: BackupVerdict | null; passedOver: string[] } {
  const passedOver: string[] = [];
  for (const f of [...files].reverse()) {
    if (f.verdict === 'good' && f.payloadBytes >= minPayload) return { dump: f, passedOver };
    passedOver.push(f.verdict === 'good' ? `${f.name}: payload ${f.payloadBytes} bytes, below the minimum ${minPayload}` : `${f.name}: ${f.reasons.join('; ')}`);
  }
  return { dump: null, passedOver };
}

/** Drops a scratch database, ending its sessions first. */
async function dropScratch(server: TargetAddress, name: string): Promise<void> {
  await withTarget(server, {}, async (s) => {
    await s.client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await s.client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  });
}

/** psql's first error line, for one-sentence messages. */
const firstError = (stderr: string): string =>
  stderr
    .trim()
    .split('\n')
    .find((l) => /ERROR|FATAL|error/.test(l)) ??
  stderr.trim().split('\n')[0] ??
  '';

/** The `\restrict KEY` / `\unrestrict KEY` lines pg_dump writes around a plain dump (2025 minor releases on). */
const DUMP_RESTRICT = /^\\(un)?restrict [A-Za-z0-9]+\r?$/;

/**
 * A dump is data, not a script to trust: one that holds `\connect live_db` or `\! command`
 * would reach the live database or the shell. The stream given to psql starts with psql's own
 * `\restrict <random key>` (the guard PostgreSQL added for CVE-2025-8714), so every backslash
 * command after it is refused and, with ON_ERROR_STOP, ends the restore; the dump's own
 * `\restrict`/`\unrestrict` lines are dropped. A psql too old to know `\restrict` refuses it
 * as an invalid command: the drill fails, it never runs a dump unguarded.
 */
export function restrictedScript(): Transform {
  const key = randomBytes(24).toString('hex');
  let carry = '';
  let started = false;
  const lines = (text: string): string =>
    text
      .split('\n')
      .filter((l) => !DUMP_RESTRICT.test(l))
      .map((l) => `${l}\n`)
      .join('');
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      // latin1 maps bytes to characters one to one, so no byte of the dump is changed
      const all = carry + chunk.toString('latin1');
      const cut = all.lastIndexOf('\n');
      carry = all.slice(cut + 1);
      const head = started ? '' : `\\restrict ${key}\n`;
      started = true;
      done(null, Buffer.from(head + (cut >= 0 ? lines(all.slice(0, cut)) : ''), 'latin1'));
    },
    flush(done) {
      const head = started ? '' : `\\restrict ${key}\n`;
      done(null, Buffer.from(head + (carry === '' || DUMP_RESTRICT.test(carry) ? '' : carry), 'latin1'));
    },
  });
}

/** Restores `dump` (plain SQL, gzip) into `scratch` with psql in restricted mode, stopping at the first error. */
async function restoreInto(scratch: TargetAddress, dump: string): Promise<string | null> {
  const file = createReadStream(dump);
  const gunzip = createGunzip();
  const input = restrictedScript();
  // a read or gzip error ends psql's input with it (runProgram kills psql), never leaves it waiting
  file.on('error', (err) => input.destroy(err));
  gunzip.on('error', (err) => input.destroy(err));
  file.pipe(gunzip).pipe(input);
  const r = await runProgram(['psql', '-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '-d', scratch.database, '-f', '-'], {
    env: toolEnv(scratch),
    timeoutMs: ARCHIVE_TIMEOUT_MS,
    stdin: input,
  });
  if (r.spawnError) return `cannot run psql: ${r.spawnError}`;
  if (r.timedOut) return `psql was stopped after ${ARCHIVE_TIMEOUT_MS / 3_600_000} h`;
  if (r.exitCode !== 0) return `psql exit ${r.exitCode}: ${firstError(r.stderr)}`;
  return null;
}

/**
 * Runs the drill against `target` (the live database). Never throws for what it finds: a
 * missing or broken backup, a failed restore or counts beyond the tolerance are a failed
 * result; a scratch database that cannot be dropped is an error naming it.
 */
export async function restoreDrill(target: TargetAddress, step: Drill): Promise<DrillResult> {
  const expected = `the newest good dump of ${step.dir} restores, every table within ${step.tolerancePct} % of the live row count`;
  let audit: Awaited<ReturnType<typeof auditBackupDir>>;
  try {
    audit = await auditBackupDir(step.dir);
  } catch (err) {
    return { outcome: 'failed', observed: (err as Error).message, expected };
  }
  const { dump, passedOver } = pickDump(audit.files, step.minPayloadBytes);
  if (!dump) {
    const seen = audit.files.length === 0 ? 'no *.sql.gz dump at all' : `${audit.files.length} dump(s), none good (newest: ${passedOver[0]})`;
    return { outcome: 'failed', observed: `no good dump to restore in ${step.dir}: ${seen}`, expected, detail: { dumps: audit.files.length, broken: audit.brokenCount } };
  }
  const scratchName = `dotctl_drill_${randomBytes(6).toString('hex')}`;
  const scratch = sameServer(target, scratchName);
  const base = { dump: dump.name, dump_at: dump.at, dump_bytes: dump.bytes, payload_bytes: dump.payloadBytes, scratch_database: scratchName, tolerance_pct: step.tolerancePct };
  let result: DrillResult;
  try {
    result = await withTarget(target, {}, async (s) => {
      await s.client.query(`CREATE DATABASE ${quoteIdent(scratchName)} TEMPLATE template0`);
      return null;
    }).then(
      () => drillInto(target, scratch, dump, step, expected, base, passedOver),
      (err: Error) => ({
        outcome: 'failed' as const,
        observed: `cannot create the scratch database ${scratchName} on ${targetFingerprint(target)} (${err.message}); the drill needs a role that may CREATE DATABASE`,
        expected,
        detail: base,
      }),
    );
  } catch (err) {
    result = { outcome: 'error', observed: `the drill stopped: ${(err as Error).message}`, expected, detail: base };
  }
  try {
    await dropScratch(target, scratchName);
  } catch (err) {
    return {
      outcome: 'error',
      observed: `${result.observed}; the scratch database ${scratchName} could not be dropped (${(err as Error).message}): drop it by hand`,
      expected,
      detail: { ...base, dropped: false },
    };
  }
  return { ...result, detail: { ...result.detail, dropped: true } };
}

async function drillInto(
  live: TargetAddress,
  scratch: TargetAddress,
  dump: BackupVerdict,
  step: Drill,
  expected: string,
  base: Readonly<Record<string, unknown>>,
  passedOver: readonly string[],
): Promise<DrillResult> {
  const started = Date.now();
  const failure = await restoreInto(scratch, dump.path);
  const restoreMs = Date.now() - started;
  if (failure)
    return { outcome: 'failed', observed: `the restore of ${dump.name} into ${scratch.database} failed after ${restoreMs} ms: ${failure}`, expected, detail: { ...base, restore_ms: restoreMs } };
  const { restored, size } = await withTarget(scratch, {}, async (s) => ({
    restored: await countRows(s.client, step.excludeSchemas),
    size: Number((await s.client.query('SELECT pg_database_size(current_database())::bigint AS n')).rows[0]?.n ?? 0),
  }));
  const liveCounts = await withTarget(live, {}, (s) => withTransaction(s.client, { readOnly: true, rollback: true }, () => countRows(s.client, step.excludeSchemas)));
  const names = [...new Set([...restored.keys(), ...liveCounts.keys()])].sort();
  const counts: TableCount[] = names.map((table) => ({ table, restored: restored.get(table) ?? null, live: liveCounts.get(table) ?? null }));
  const bad = judgeCounts(counts, step.tolerancePct);
  const rows = [...restored.values()].reduce((a, b) => a + b, 0);
  const newer = passedOver.length > 0 ? `; ${passedOver.length} newer dump(s) passed over (${passedOver[0]})` : '';
  const what = `restored ${dump.name} (${formatBytes(dump.bytes)}, payload ${formatBytes(dump.payloadBytes)}) into ${scratch.database} in ${(restoreMs / 1000).toFixed(1)} s: ${restored.size} tables, ${rows} rows, ${formatBytes(size)} on disk${newer}`;
  const detail = {
    ...base,
    restore_ms: restoreMs,
    restored_bytes: size,
    tables: restored.size,
    rows,
    passed_over: passedOver.length,
    ...(bad.length > 0 ? { differing: bad.slice(0, 20) } : {}),
  };
  if (bad.length > 0) {
    const shown = bad.slice(0, 5).join('; ') + (bad.length > 5 ? `; … ${bad.length - 5} more` : '');
    return { outcome: 'failed', observed: `${what}; ${bad.length} table(s) differ from the live database by more than ${step.tolerancePct} %: ${shown}`, expected, detail };
  }
  return { outcome: 'passed', observed: `${what}; every table within ${step.tolerancePct} % of the live row count`, expected, detail };
}
