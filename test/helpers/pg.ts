/**
 * Real-PostgreSQL helpers for tests: scratch databases and roles with a unique prefix,
 * dropped afterwards. Never touches anything a test did not create. If PostgreSQL is not
 * reachable the test fails loudly with the command that starts it.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const ADMIN_URL = process.env.DOTCTL_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Unique, lower-case prefix for this test process's databases and roles. */
export const RUN_PREFIX = `dotctl_t${process.pid}_${randomBytes(3).toString('hex')}`;
let counter = 0;

/** A fresh unique name (valid unquoted identifier). */
export function uniqueName(label: string): string {
  counter += 1;
  return `${RUN_PREFIX}_${label}_${counter}`.toLowerCase();
}

/** Connects as the admin, or throws an error telling how to start PostgreSQL. */
export async function adminClient(database = 'postgres'): Promise<pg.Client> {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${ADMIN_URL} (${(err as Error).message}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`);
  }
  return client;
}

/** URL of a database on the test server. */
export function dbUrl(database: string, user = 'postgres'): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  url.username = user;
  return url.toString();
}

export interface ScratchDb {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a scratch database; `drop()` removes it (terminating leftover sessions). */
export async function createScratchDb(label = 'db'): Promise<ScratchDb> {
  const name = uniqueName(label);
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: dbUrl(name),
    async drop() {
      const c = await adminClient();
      try {
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Creates a role with a unique name (NOLOGIN unless `login`); returns its name. */
export async function createScratchRole(label: string, opts: { login?: boolean } = {}): Promise<string> {
  const name = uniqueName(label);
  const admin = await adminClient();
  try {
    await admin.query(`CREATE ROLE "${name}" ${opts.login ? 'LOGIN' : 'NOLOGIN'}`);
  } finally {
    await admin.end();
  }
  return name;
}

/** Drops roles this test created (after their objects' databases are gone). */
export async function dropScratchRoles(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const admin = await adminClient();
  try {
    for (const n of names) {
      if (!n.startsWith(RUN_PREFIX)) throw new Error(`refusing to drop role ${n}: not created by this test run`);
      await admin.query(`DROP ROLE IF EXISTS "${n}"`);
    }
  } finally {
    await admin.end();
  }
}
