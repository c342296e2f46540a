/**
 * The demo's scratch resources on the local PostgreSQL: databases and roles whose names all
 * start with one unique prefix (`dotctl_demo_<random>`). It drops only what it created, and
 * dropping is idempotent, so a failure or an interrupt can always clean up.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { InputError, TargetUnreachableError, baseEnv } from '../../engine.js';

const quoteIdent = (name: string): string => pg.escapeIdentifier(name);
const quoteLiteral = (value: string): string => pg.escapeLiteral(value);

/** The admin connection used when neither --target/DOTCTL_TARGET nor a libpq variable says otherwise. */
export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The admin connection URL: the target given (--target / DOTCTL_TARGET), else the libpq
 * environment when it sets anything, else DEFAULT_ADMIN_URL. The password, if any, stays in
 * the URL or in PGPASSWORD; it is never printed.
 */
export function resolveAdminUrl(target: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (target !== undefined && target !== '') {
    try {
      const u = new URL(target);
      if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error('not postgres');
    } catch {
      throw new InputError('--target is not a postgres:// URL; write postgres://user@host:port/database');
    }
    return target;
  }
  if (!['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE'].some((k) => env[k])) return DEFAULT_ADMIN_URL;
  const host = env.PGHOST || '127.0.0.1';
  const port = env.PGPORT || '5432';
  const user = encodeURIComponent(env.PGUSER || env.USER || 'postgres');
  const db = encodeURIComponent(env.PGDATABASE || 'postgres');
  // a socket directory cannot be a URL host; libpq and pg both read ?host=
  return host.startsWith('/') ? `postgres://${user}@/${db}?host=${encodeURIComponent(host)}&port=${port}` : `postgres://${user}@${host}:${port}/${db}`;
}

/** The same server and user, another database. */
export function urlForDatabase(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Where the server is, for command-line tools (libpq variables; the password only if one was given). */
export interface ServerInfo {
  readonly host: string;
  readonly port: string;
  readonly user: string;
  readonly password: string | null;
  /** server and user without password, for display */
  readonly display: string;
}

/** Reads host, port, user and password from an admin URL. */
export function serverInfo(adminUrl: string, env: NodeJS.ProcessEnv = process.env): ServerInfo {
  const u = new URL(adminUrl);
  const host = u.hostname || u.searchParams.get('host') || env.PGHOST || '127.0.0.1';
  const port = u.port || u.searchParams.get('port') || env.PGPORT || '5432';
  const user = decodeURIComponent(u.username) || env.PGUSER || 'postgres';
  const password = decodeURIComponent(u.password) || env.PGPASSWORD || null;
  return { host, port, user, password, display: `postgres://${user}@${host}:${port}` };
}

/** Environment for psql/pg_dump/pg_restore run as the admin on `database`. */
export function adminToolEnv(s: ServerInfo, database: string): Record<string, string> {
  return { ...baseEnv(), PGHOST: s.host, PGPORT: s.port, PGUSER: s.user, PGDATABASE: database, ...(s.password ? { PGPASSWORD: s.password } : {}) };
}

/** A connected client on one database; always closed by `withClient`. */
export type PgClient = pg.Client;

/** Databases and roles with one prefix, created and dropped by this process. */
export class Scratch {
  readonly prefix: string;
  private readonly databases: string[] = [];
  private readonly roles: string[] = [];

  constructor(
    readonly adminUrl: string,
    prefix = `dotctl_demo_${randomBytes(3).toString('hex')}`,
  ) {
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new InputError(`scratch prefix ${prefix} is not a plain lower-case identifier`);
    this.prefix = prefix;
  }

  /** A name under the prefix. */
  name(label?: string): string {
    return label ? `${this.prefix}_${label}` : this.prefix;
  }

  /** What this scratch holds now (to print, or to clean up by hand after --keep). */
  get created(): { readonly databases: readonly string[]; readonly roles: readonly string[] } {
    return { databases: [...this.databases], roles: [...this.roles] };
  }

  /** Connects to `database` (default: the admin URL's), runs `fn`, always disconnects. */
  async withClient<T>(database: string | null, fn: (c: PgClient) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: database ? urlForDatabase(this.adminUrl, database) : this.adminUrl, application_name: 'dotctl-demo', connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined); // a terminated session surfaces on the next query
    try {
      await client.connect();
    } catch (err) {
      throw new TargetUnreachableError(
        `cannot connect to PostgreSQL at ${serverInfo(this.adminUrl).display} (${(err as Error).message}); start it, or point --target / DOTCTL_TARGET (or PGHOST, PGPORT, PGUSER) at a server where you are a superuser`,
        { cause: err },
      );
    }
    try {
      await client.query(`SET statement_timeout = 120000`);
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Creates a role under the prefix (recorded before it exists, so a half-done create is cleaned up too). */
  async createRole(label: string, opts: { login?: boolean; password?: string } = {}): Promise<string> {
    const name = this.name(label);
    this.roles.push(name);
    const login = opts.login ? `LOGIN${opts.password ? ` PASSWORD ${quoteLiteral(opts.password)}` : ''}` : 'NOLOGIN';
    await this.withClient(null, (c) => c.query(`CREATE ROLE ${quoteIdent(name)} ${login}`));
    return name;
  }

  /** Creates a database under the prefix. */
  async createDatabase(label?: string): Promise<string> {
    const name = this.name(label);
    this.databases.push(name);
    await this.withClient(null, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
    return name;
  }

  /**
   * Drops every database, then every role it created (IF EXISTS: idempotent). Returns what
   * could not be dropped, each with the reason; never throws.
   */
  async dropAll(): Promise<string[]> {
    const left: string[] = [];
    try {
      await this.withClient(null, async (c) => {
        for (const db of [...this.databases].reverse()) {
          try {
            await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db]);
            await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
          } catch (err) {
            left.push(`database ${db}: ${(err as Error).message}`);
          }
        }
        for (const role of [...this.roles].reverse()) {
          try {
            await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
          } catch (err) {
            left.push(`role ${role}: ${(err as Error).message}`);
          }
        }
      });
    } catch (err) {
      left.push(...this.databases.map((d) => `database ${d}`), ...this.roles.map((r) => `role ${r}`), `(${(err as Error).message})`);
    }
    return left;
  }
}
