/**
 * Ledger "sites" for the reliability suites: a seeded ledger that can be cloned cheaply (a SQLite
 * file copy; a PostgreSQL database made from the seeded one as a template) and tampered with the
 * way someone with file or superuser access could — the append-only triggers bypassed.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { adminClient, createScratchDb, dbUrl, uniqueName } from '../helpers/pg.js';

/** One ledger location and raw access to it around the adapter. */
export interface Site {
  readonly kind: 'sqlite' | 'postgres';
  /** what --ledger takes */
  readonly spec: string;
  /** qualified table name */
  table(name: 'dot_action_log' | 'dot_proposals' | 'dot_decisions' | 'dot_proposal_states'): string;
  /** runs SQL with the append-only triggers (and foreign keys) bypassed */
  tamper(sql: string): Promise<void>;
  /** a value from the ledger, read raw */
  scalar(sql: string): Promise<unknown>;
}

/** Hands out fresh ledger locations of one kind, clones of a seeded one, and removes them all. */
export interface SiteFactory {
  readonly kind: 'sqlite' | 'postgres';
  fresh(): Promise<Site>;
  /** a copy of `seed` (which no process may hold open while it is copied) */
  clone(seed: Site): Promise<Site>;
  cleanup(): Promise<void>;
}

/** SQLite files in a private temp directory. */
export function sqliteSites(): SiteFactory {
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-rel-ledger-'));
  let n = 0;
  const site = (file: string): Site => ({
    kind: 'sqlite',
    spec: file,
    table: (t) => t,
    async tamper(sql) {
      const db = new Database(file, { fileMustExist: true });
      try {
        db.pragma('foreign_keys = OFF');
        // every append-only trigger, as someone with the file can
        const triggers = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE '%_no_update' OR name LIKE '%_no_delete')").pluck().all() as string[];
        db.exec(`BEGIN;
          ${triggers.map((t) => `DROP TRIGGER "${t}";`).join(' ')}
          ${sql};
          COMMIT;`);
      } finally {
        db.close();
      }
    },
    async scalar(sql) {
      const db = new Database(file, { fileMustExist: true, readonly: true });
      try {
        return db.prepare(sql).pluck().get();
      } finally {
        db.close();
      }
    },
  });
  const next = (): string => {
    n += 1;
    const d = join(dir, `site-${n}`);
    mkdirSync(d);
    return join(d, 'ledger.db');
  };
  return {
    kind: 'sqlite',
    async fresh() {
      return site(next());
    },
    async clone(seed) {
      const file = next();
      // a closed ledger has no -wal left; copy it too if a crash left one
      copyFileSync(seed.spec, file);
      if (existsSync(`${seed.spec}-wal`)) copyFileSync(`${seed.spec}-wal`, `${file}-wal`);
      return site(file);
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Scratch PostgreSQL databases (the ledger in schema dotctl), all dropped by cleanup. */
export function postgresSites(): SiteFactory {
  const names: string[] = [];
  const site = (name: string): Site => ({
    kind: 'postgres',
    spec: dbUrl(name),
    table: (t) => `dotctl.${t}`,
    async tamper(sql) {
      const c = await adminClient(name);
      try {
        // superuser only: replica mode skips ordinary triggers (append-only ones and foreign keys)
        await c.query(`BEGIN; SET LOCAL session_replication_role = replica; ${sql}; COMMIT;`);
      } finally {
        await c.end();
      }
    },
    async scalar(sql) {
      const c = await adminClient(name);
      try {
        const r = await c.query(sql);
        const row = r.rows[0] as Record<string, unknown> | undefined;
        return row ? Object.values(row)[0] : undefined;
      } finally {
        await c.end();
      }
    },
  });
  return {
    kind: 'postgres',
    async fresh() {
      const db = await createScratchDb('rel_ledger');
      names.push(db.name);
      return site(db.name);
    },
    async clone(seed) {
      const from = decodeURIComponent(new URL(seed.spec).pathname.slice(1));
      const name = uniqueName('rel_clone');
      const c = await adminClient();
      try {
        await c.query(`CREATE DATABASE "${name}" TEMPLATE "${from}"`);
      } finally {
        await c.end();
      }
      names.push(name);
      return site(name);
    },
    async cleanup() {
      const c = await adminClient();
      try {
        for (const n of names.splice(0)) {
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [n]);
          await c.query(`DROP DATABASE IF EXISTS "${n}"`);
        }
      } finally {
        await c.end();
      }
    },
  };
}

/** SQL string literal (standard quoting, valid in SQLite and PostgreSQL). */
export function lit(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/'/g, "''")}'`;
}
