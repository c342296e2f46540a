/**
 * Runs the seed's backup script (examples/pg-backup.sh, before or after a DOT patched it) the
 * way cron would, pointed at a PostgreSQL database without Docker (PG_DUMP_CMD / PSQL_CMD), with
 * its heartbeat going to a loopback listener, and reports what it left on disk and pushed.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HeartbeatListener, Push } from './heartbeat.js';
import { baseEnv, runProgram, type ProgramRun } from '../../engine.js';
import type { ServerInfo } from './scratch.js';

/** The heartbeat path of the backup's own monitor (seed §6: …/api/push/pg-backup-local). */
export const KUMA_PATH = '/api/push/pg-backup-local';

/** Default bound on one backup run. */
export const BACKUP_TIMEOUT_MS = 120_000;

/** How to run the script. */
export interface BackupScriptOptions {
  readonly script: string;
  readonly server: ServerInfo;
  readonly database: string;
  /** DB_USER: the role the script dumps as */
  readonly dbUser: string;
  /** PGPASSWORD of that role, if the server asks for one */
  readonly password?: string | null;
  readonly backupDir: string;
  readonly listener: HeartbeatListener;
  /** more environment (e.g. PG_DUMP_CMD=false, CHECK_USAGE=0); wins over the defaults */
  readonly extra?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** What one run did. */
export interface BackupScriptRun {
  readonly run: ProgramRun;
  /** BACKUP_FILE of this run (it may not exist afterwards) */
  readonly file: string;
  /** names that appeared in / vanished from the backup directory */
  readonly created: readonly string[];
  readonly removed: readonly string[];
  /** heartbeats received during the run */
  readonly pushes: readonly Push[];
}

/**
 * A backup file name in the script's pattern, with seconds: with the script's own
 * `directus_<date>_<HHMM>`, two runs in one minute write the same file, and the hardened
 * script's trap removes "this run's" file on failure — which would then be the good backup of
 * the run before. Waits for the next second rather than reuse a name.
 */
export async function nextBackupFile(dir: string): Promise<string> {
  for (let i = 0; i < 3; i += 1) {
    const iso = new Date().toISOString();
    const name = `directus_${iso.slice(0, 10)}_${iso.slice(11, 19).replace(/:/g, '')}.sql.gz`;
    if (!existsSync(join(dir, name)) && !existsSync(join(dir, `${name}.raw`))) return join(dir, name);
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  }
  throw new Error(`no free backup file name in ${dir}`);
}

const list = async (dir: string): Promise<string[]> => (existsSync(dir) ? (await readdir(dir)).sort() : []);

/** Runs the script once; never throws for the script's own failure (that is in `run`). */
export async function runBackupScript(o: BackupScriptOptions): Promise<BackupScriptRun> {
  const before = await list(o.backupDir);
  const file = await nextBackupFile(o.backupDir);
  const mark = o.listener.pushes.length;
  const s = o.server;
  const env: Record<string, string> = {
    ...baseEnv(),
    PG_DUMP_CMD: `pg_dump -h ${s.host} -p ${s.port}`,
    PSQL_CMD: `psql -h ${s.host} -p ${s.port}`,
    DB_USER: o.dbUser,
    DB_NAME: o.database,
    BACKUP_DIR: o.backupDir,
    BACKUP_FILE: file,
    KUMA_PUSH_URL: `${o.listener.url}${KUMA_PATH}`,
    ...(o.password ? { PGPASSWORD: o.password } : {}),
    ...o.extra,
  };
  const run = await runProgram(['bash', o.script], { env, timeoutMs: o.timeoutMs ?? BACKUP_TIMEOUT_MS, signal: o.signal });
  const after = await list(o.backupDir);
  return { run, file, created: after.filter((f) => !before.includes(f)), removed: before.filter((f) => !after.includes(f)), pushes: o.listener.since(mark) };
}
