/**
 * The target PostgreSQL: a tiny client port and scoped resources (`withTarget`,
 * `withTransaction`, `withAdvisoryLock`) so nothing leaks on an error path. Sessions set
 * `lock_timeout` and `statement_timeout` so a change never hangs production.
 */
import { SERVER_TIME_SQL } from '../model/time.js';
import { createHash } from 'node:crypto';
import { CheckError, InputError, TargetBusyError, TargetUnreachableError } from '../model/errors.js';

/** A query sent over the extended protocol (Parse/Bind/Execute): one statement, never several. */
export interface ExtendedQuery {
  readonly text: string;
  readonly values: unknown[];
  readonly queryMode: 'extended';
}

type QueryResultLike = { rows: Record<string, unknown>[]; rowCount: number | null; fields: { name: string }[] };

/** The port the executor needs from a target connection; pg.Client satisfies it. */
export interface TargetClient {
  query(sql: string, values?: readonly unknown[]): Promise<QueryResultLike>;
  query(query: ExtendedQuery): Promise<QueryResultLike>;
}

/** Where the target is, as libpq would resolve it (password never kept here). */
export interface TargetAddress {
  readonly url: string | undefined; // --target / DOTCTL_TARGET, else libpq PG* env
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** Default session timeouts (overridable per DOT with `timeouts`). */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;

/**
 * Query parameters that would send the connection elsewhere than the URL's authority and path
 * say, or as someone else: node-postgres lets `host`, `port`, `user`, `options` and
 * `replication` in the query override the URL (pg-connection-string copies every query
 * parameter into the config), and libpq (pg_dump, pg_restore) also honours `hostaddr`,
 * `dbname`, `service` and `servicefile`. `options` can set `search_path` or a role.
 */
export const CONFLICTING_URL_PARAMS: readonly string[] = ['host', 'hostaddr', 'port', 'dbname', 'database', 'user', 'service', 'servicefile', 'options', 'replication'];

/** Resolves the target address from a URL or the libpq environment. */
export function resolveTarget(url: string | undefined, env: NodeJS.ProcessEnv = process.env): TargetAddress {
  if (url !== undefined && url !== '') {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new InputError('--target is not a valid URL; write postgres://user@host:port/database');
    }
    if (!/^postgres(ql)?:$/.test(u.protocol)) throw new InputError('--target must be a postgres:// URL');
    for (const name of u.searchParams.keys()) {
      if (CONFLICTING_URL_PARAMS.includes(name.toLowerCase())) {
        throw new InputError(
          `--target has the query parameter ${name}, which would connect elsewhere than the URL's host, port and database say; write the server, database and user in the URL itself (postgres://user@host:port/database) and drop ?${name}=`,
        );
      }
    }
    if (u.hostname.includes(',')) {
      throw new InputError('--target names several hosts; name exactly one host, so the approval binds the server the change lands on (postgres://user@host:port/database)');
    }
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || env.PGDATABASE || decodeURIComponent(u.username) || 'postgres';
    return {
      url,
      host: u.hostname || env.PGHOST || 'localhost',
      port: Number(u.port || env.PGPORT || 5432),
      database,
      user: decodeURIComponent(u.username) || env.PGUSER || env.USER || 'postgres',
    };
  }
  const user = env.PGUSER || env.USER || 'postgres';
  return { url: undefined, host: env.PGHOST || 'localhost', port: Number(env.PGPORT || 5432), database: env.PGDATABASE || user, user };
}

/** The address as people read it: host, port and database (no user, no password); for display only. */
export function targetFingerprint(t: TargetAddress): string {
  return `postgres://${t.host}:${t.port}/${t.database}`;
}

/** Which server and database a session really reached, whatever the URL spelled. */
export interface ServerIdentity {
  /** pg_control_system().system_identifier: fixed at initdb, shared only by physical replicas */
  readonly systemIdentifier: string;
  /** pg_database.oid of current_database(): a dropped and re-created database is another one */
  readonly databaseOid: number;
  readonly databaseName: string;
}

/**
 * Reads the identity of the server and database a session is connected to. pg_control_system()
 * is executable by PUBLIC unless an administrator revoked it; then this refuses (exit 4) rather
 * than fall back to the address, which is exactly what a URL spelling can fake.
 */
export async function readServerIdentity(client: TargetClient): Promise<ServerIdentity> {
  let row: Record<string, unknown> | undefined;
  try {
    const r = await client.query(
      `SELECT s.system_identifier::text AS sysid, d.oid::bigint::text AS dboid, d.datname AS dbname
         FROM pg_control_system() s, pg_database d WHERE d.datname = current_database()`,
    );
    row = r.rows[0];
  } catch (err) {
    const e = err as { message?: string; code?: string };
    throw new CheckError(
      `cannot read the target server's identity (${e.message ?? String(err)}); approvals bind the server's system identifier, so let the connecting role run it: GRANT EXECUTE ON FUNCTION pg_control_system() TO that role`,
      { cause: err, context: { pgCode: e.code } },
    );
  }
  if (!row) throw new CheckError("cannot read the target server's identity: current_database() is not in pg_database; check --target");
  return { systemIdentifier: String(row.sysid), databaseOid: Number(row.dboid), databaseName: String(row.dbname) };
}

/**
 * The fingerprint a proposal's hash binds: `pg:<system identifier>/<database oid>/<database
 * name>` (the name URI-encoded). The same server and database give the same fingerprint through
 * any host name, port forward or URL spelling; another database or another cluster does not.
 */
export function serverFingerprint(id: ServerIdentity): string {
  return `pg:${id.systemIdentifier}/${id.databaseOid}/${encodeURIComponent(id.databaseName)}`;
}

/** libpq variables for command steps, so `pg_dump`/`psql` reach the same target. */
export function libpqEnv(t: TargetAddress): Record<string, string> {
  return { PGHOST: t.host, PGPORT: String(t.port), PGDATABASE: t.database, PGUSER: t.user };
}

/** A connected target session. */
export interface TargetSession {
  readonly client: TargetClient;
  readonly address: TargetAddress;
  /** the error that ended the connection (e.g. "terminating connection due to administrator command"), if it ended */
  connectionError(): Error | null;
}

/** Whether an error means the connection is gone (class 08, 57P01–57P03, or no server answer at all). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return /^(08|57P0)/.test(code);
  return err instanceof Error;
}

/** Opens a session, sets timeouts, runs `fn`, always closes. */
export async function withTarget<T>(address: TargetAddress, timeouts: { lockTimeoutMs?: number; statementTimeoutMs?: number }, fn: (session: TargetSession) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client(
    address.url !== undefined
      ? { connectionString: address.url, application_name: 'dotctl', connectionTimeoutMillis: 10_000 }
      : { host: address.host, port: address.port, database: address.database, user: address.user, application_name: 'dotctl', connectionTimeoutMillis: 10_000 },
  );
  let fatal: Error | null = null;
  const remember = (err: unknown): void => {
    if (!fatal && isConnectionError(err)) fatal = err as Error;
  };
  client.on('error', remember); // a dropped connection surfaces on the next query
  try {
    await client.connect();
  } catch (err) {
    throw new TargetUnreachableError(
      `cannot connect to the target ${targetFingerprint(address)} as ${address.user} (${(err as Error).message}); check --target / DOTCTL_TARGET and that PostgreSQL is running`,
      { cause: err, context: { target: targetFingerprint(address) } },
    );
  }
  try {
    await client.query(`SET lock_timeout = ${Math.trunc(timeouts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS)}`);
    await client.query(`SET statement_timeout = ${Math.trunc(timeouts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS)}`);
    // PostgreSQL 14+: a backend whose dotctl died stops its statement (and releases the apply
    // lock) within a second instead of running it to the end; older servers lack the setting
    await client.query('SET client_connection_check_interval = 1000').catch(() => undefined);
    const tracked: TargetClient = {
      async query(sql: string | ExtendedQuery, values?: readonly unknown[]) {
        try {
          return typeof sql === 'string' ? await client.query(sql, values as unknown[] | undefined) : await client.query(sql);
        } catch (err) {
          remember(err);
          throw err;
        }
      },
    };
    return await fn({ client: tracked, address, connectionError: () => fatal });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The target server's clock (`clock_timestamp()`), as ISO: a clock the acting user does not control. */
export async function readTargetTime(address: TargetAddress): Promise<string> {
  return withTarget(address, {}, (s) => targetTimeOn(s.client));
}

/** The target server's clock, as ISO, read on a connection already open. */
export async function targetTimeOn(client: TargetClient): Promise<string> {
  const r = await client.query(SERVER_TIME_SQL);
  return String((r.rows[0] as { now: string }).now);
}

/** Runs `fn` in a transaction: COMMIT on success unless `rollback` is set, ROLLBACK on error. */
export async function withTransaction<T>(client: TargetClient, opts: { readOnly?: boolean; rollback?: boolean }, fn: () => Promise<T>): Promise<T> {
  await client.query(opts.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  await client.query(opts.rollback ? 'ROLLBACK' : 'COMMIT');
  return result;
}

/** Session advisory lock key for a target (one apply at a time per target). */
export function lockKey(fingerprint: string): string {
  // 64-bit signed key from the fingerprint, as text for pg's bigint
  const h = createHash('sha256').update(`dotctl-apply:${fingerprint}`).digest();
  return h.readBigInt64BE(0).toString();
}

/**
 * Holds the per-target advisory lock while `fn` runs; waits up to `waitMs`, then refuses with
 * who holds it since when.
 */
export async function withAdvisoryLock<T>(client: TargetClient, fingerprint: string, waitMs: number, fn: () => Promise<T>, label: string = fingerprint): Promise<T> {
  const key = lockKey(fingerprint);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await client.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
    if (r.rows[0]?.ok === true) break;
    if (Date.now() >= deadline) {
      const holder = await client
        .query(
          `SELECT a.pid, a.application_name, a.backend_start::text AS since, a.client_addr::text AS addr
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted
            AND ((l.classid::bigint << 32) | l.objid::bigint) = ($1::bigint & x'FFFFFFFFFFFFFFFF'::bigint) LIMIT 1`,
          [key],
        )
        .catch(() => ({ rows: [] as Record<string, unknown>[] }));
      const h = holder.rows[0];
      throw new TargetBusyError(
        `another apply holds the lock on ${label}${h ? ` (backend pid ${String(h.pid)}, ${String(h.application_name)}, since ${String(h.since)})` : ''}; wait for it to finish and try again`,
        { context: { target: fingerprint } },
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
  }
}
