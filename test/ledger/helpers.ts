/**
 * Builders and per-adapter sites for the ledger tests. A "site" is one fresh ledger location
 * (a SQLite file in a temp dir, a scratch PostgreSQL database, a named in-memory ledger) plus
 * raw access to it that goes around the adapter — for the SQL ledgers with the append-only
 * triggers in force (`run`) or bypassed the way someone with file or superuser access could
 * (`tamper`). The in-memory ledger has no storage to reach around: its raw access is only what
 * the contract needs (does it exist, make it full).
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openLedger, type OpenLedgerOptions } from '../../src/ledger/open.js';
import { dropMemoryLedger, openMemoryLedger } from '../../src/ledger/memory.js';
import { openPostgresLedger } from '../../src/ledger/postgres.js';
import { openSqliteLedger } from '../../src/ledger/sqlite.js';
import type { AdmissionRecord, DecisionRecord, LedgerStore, LogEventKind, NewLogEvent, ProposalRecord } from '../../src/ledger/port.js';
import { adminClient, createScratchDb } from '../helpers/pg.js';
import type pg from 'pg';
import { sealEvent, type ChainHead } from '../../src/ledger/chain.js';
import { LOG_COLUMNS, logRowValues } from '../../src/ledger/rows.js';

/** A fixed clock for events: minute `i` after a base instant. */
export function at(i: number): string {
  return new Date(Date.UTC(2024, 4, 1, 8, 0, 0) + i * 60_000).toISOString();
}

/** An event with sensible defaults. */
export function ev(overrides: Partial<NewLogEvent> & { i?: number } = {}): NewLogEvent {
  const { i = 0, ...rest } = overrides;
  return {
    at: at(i),
    actor: 'alice',
    event: 'proposed' satisfies LogEventKind,
    proposalId: null,
    dotId: null,
    actionCode: null,
    proposalHash: null,
    outcome: 'ok',
    detail: { i },
    ...rest,
  };
}

/** A proposal with sensible defaults. */
export function proposal(id: string, overrides: Partial<ProposalRecord> = {}): ProposalRecord {
  return {
    id,
    dotIds: ['DOT-PG-GRANT-SCHEMA', 'DOT-BACKUP-SCRIPT-HARDEN'],
    params: { schema: 'sandbox_tac', role: 'directus' },
    targetFingerprint: 'pg:prod-db-01/directus',
    canonical: `{"id":${JSON.stringify(id)}}`,
    hash: `hash-of-${id}`,
    state: 'proposed',
    createdBy: 'alice',
    createdAt: at(0),
    expiresAt: null,
    signature: null,
    content: null,
    ...overrides,
  };
}

/** An admission of `dotId`'s content by `actor`. */
export function admission(dotId: string, actor: string, overrides: Partial<AdmissionRecord> = {}): AdmissionRecord {
  return {
    dotId,
    version: 1,
    contentHash: `content-of-${dotId}`,
    fileHashes: { [`${dotId}.yaml`]: 'aa', 'laws.yaml': 'bb' },
    actor,
    signature: Buffer.from(`sig-${actor}`).toString('base64'),
    at: at(7),
    comment: null,
    ...overrides,
  };
}

/** An approval of `p` by `actor`. */
export function approval(p: ProposalRecord, actor: string, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    proposalId: p.id,
    kind: 'approve',
    hashSigned: p.hash,
    actor,
    signature: Buffer.from(`sig-${actor}`).toString('base64'),
    comment: null,
    at: at(5),
    expiresAt: at(60 * 24),
    ...overrides,
  };
}

/** The `proposed` event that goes with storing `p`. */
export function proposedEvent(p: ProposalRecord, i = 0): NewLogEvent {
  return ev({ i, event: 'proposed', actor: p.createdBy, proposalId: p.id, dotId: p.dotIds[0] ?? null, proposalHash: p.hash });
}

/** What every site's raw access offers. */
interface CommonRawAccess {
  /** Whether anything of a ledger exists at the site (file, schema dotctl, named memory ledger). */
  exists(): Promise<boolean>;
  /** Makes every later append to the action log fail, like a full disk would. */
  blockAppends(): Promise<void>;
}

/** Raw access to an in-memory ledger. */
export interface MemoryRawAccess extends CommonRawAccess {
  readonly kind: 'memory';
}

/** Raw access to one SQL site's tables, around the adapter. */
export interface SqlRawAccess extends CommonRawAccess {
  readonly kind: 'sql';
  /** Qualified name of the action log table. */
  readonly logTable: string;
  /** Qualified name of the decisions table. */
  readonly decisionsTable: string;
  /** Qualified name of the admissions table. */
  readonly admissionsTable: string;
  /** Runs SQL with the triggers in force; rejects with the database's error. */
  run(sql: string): Promise<void>;
  /** Runs SQL with the append-only triggers bypassed (file access for SQLite, superuser for PostgreSQL). */
  tamper(sql: string): Promise<void>;
  /** Schema versions recorded, ascending. */
  versions(): Promise<number[]>;
}

/** Raw access to a site, by kind of storage. */
export type RawAccess = SqlRawAccess | MemoryRawAccess;

/** One fresh ledger location. */
export interface Site<R extends RawAccess = SqlRawAccess> {
  readonly spec: string;
  readonly raw: R;
  open(options?: OpenLedgerOptions): Promise<LedgerStore>;
  /** Opens the adapter directly with a small streaming batch, to exercise batch boundaries. */
  openBatched(batchSize: number): Promise<LedgerStore>;
}

/** A kind of ledger the suites run over; hands out fresh sites and cleans all of them up. */
export interface Backend<R extends RawAccess = SqlRawAccess> {
  readonly name: 'sqlite' | 'postgres' | 'memory';
  fresh(): Promise<Site<R>>;
  cleanup(): Promise<void>;
}

/** Backend of SQLite files in a private temp directory (removed by cleanup). */
export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-ledger-test-'));
  let n = 0;
  return {
    name: 'sqlite',
    async fresh() {
      n += 1;
      const file = join(dir, `site-${n}`, 'ledger.db');
      return {
        spec: file,
        raw: sqliteRaw(file),
        open: (o) => openLedger(file, o),
        openBatched: (batchSize) => openSqliteLedger(file, { batchSize }),
      };
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function withRawSqlite<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** SQL that drops every append-only trigger of a SQLite ledger (what someone with the file can do). */
export function dropAppendOnlyTriggers(db: Database.Database): string {
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE '%_no_update' OR name LIKE '%_no_delete')").pluck().all() as string[];
  return names.map((n) => `DROP TRIGGER "${n}";`).join(' ');
}

function sqliteRaw(file: string): SqlRawAccess {
  return {
    kind: 'sql',
    logTable: 'dot_action_log',
    decisionsTable: 'dot_decisions',
    admissionsTable: 'dot_admissions',
    async run(sql) {
      withRawSqlite(file, (db) => db.exec(sql));
    },
    async tamper(sql) {
      // whoever has the file can drop every append-only trigger first
      withRawSqlite(file, (db) => {
        db.pragma('foreign_keys = OFF');
        db.exec(`BEGIN; ${dropAppendOnlyTriggers(db)} ${sql}; COMMIT;`);
      });
    },
    async versions() {
      return withRawSqlite(file, (db) => (db.prepare('SELECT version FROM dotctl_schema_version ORDER BY version').all() as { version: number }[]).map((r) => r.version));
    },
    async exists() {
      return existsSync(file);
    },
    async blockAppends() {
      withRawSqlite(file, (db) =>
        db.exec(`CREATE TRIGGER test_block_appends BEFORE INSERT ON dot_action_log
                   BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`),
      );
    },
  };
}

/** Backend of scratch PostgreSQL databases (all dropped by cleanup). Fails if PostgreSQL is down. */
export function postgresBackend(): Backend {
  const drops: (() => Promise<void>)[] = [];
  return {
    name: 'postgres',
    async fresh() {
      const db = await createScratchDb('ledger');
      drops.push(() => db.drop());
      return {
        spec: db.url,
        raw: pgRaw(db.name),
        open: (o) => openLedger(db.url, o),
        openBatched: (batchSize) => openPostgresLedger(db.url, { batchSize }),
      };
    },
    async cleanup() {
      for (const drop of drops.splice(0)) await drop();
    },
  };
}

async function withPgAdmin<T>(database: string, fn: (c: Awaited<ReturnType<typeof adminClient>>) => Promise<T>): Promise<T> {
  const c = await adminClient(database);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function pgRaw(database: string): SqlRawAccess {
  return {
    kind: 'sql',
    logTable: 'dotctl.dot_action_log',
    decisionsTable: 'dotctl.dot_decisions',
    admissionsTable: 'dotctl.dot_admissions',
    async run(sql) {
      await withPgAdmin(database, (c) => c.query(sql));
    },
    async tamper(sql) {
      // Superuser only: replica mode skips ordinary triggers, the append-only ones included.
      await withPgAdmin(database, (c) => c.query(`BEGIN; SET LOCAL session_replication_role = replica; ${sql}; COMMIT;`));
    },
    async versions() {
      return withPgAdmin(database, async (c) => (await c.query<{ version: number }>('SELECT version FROM dotctl.schema_version ORDER BY version')).rows.map((r) => r.version));
    },
    async exists() {
      return withPgAdmin(database, async (c) => (await c.query("SELECT to_regnamespace('dotctl') AS n")).rows[0].n !== null);
    },
    async blockAppends() {
      await withPgAdmin(database, (c) => c.query('ALTER TABLE dotctl.dot_action_log ADD CONSTRAINT test_block_appends CHECK (seq < 0) NOT VALID'));
    },
  };
}

/**
 * Backend of named in-memory ledgers of this process (all dropped by cleanup). Full is
 * maxEvents set to the events already there, through the adapter's own option.
 */
export function memoryBackend(): Backend<MemoryRawAccess> {
  const names: string[] = [];
  const base = `test-${process.pid}-${Date.now().toString(36)}`;
  return {
    name: 'memory',
    async fresh() {
      const name = `${base}-${names.length + 1}`;
      names.push(name);
      const spec = `memory:${name}`;
      return {
        spec,
        raw: {
          kind: 'memory',
          async exists() {
            return openMemoryLedger(spec, { create: false }).then(
              (l) => l.close().then(() => true),
              () => false,
            );
          },
          async blockAppends() {
            const l = await openMemoryLedger(spec, { create: false });
            const held = (await l.readEvents()).length;
            await l.close();
            await (await openMemoryLedger(spec, { create: false, maxEvents: held })).close();
          },
        },
        open: (o) => openLedger(spec, o),
        openBatched: (batchSize) => openMemoryLedger(spec, { batchSize }),
      };
    },
    async cleanup() {
      for (const name of names.splice(0)) dropMemoryLedger(name);
    },
  };
}

/** The SQL backends, for the suites that reach around the adapter with SQL or other processes. */
export function sqlBackends(): Backend[] {
  return [sqliteBackend(), postgresBackend()];
}

/** Every backend: the suites of the port's contract run over all of them. */
export function allBackends(): Backend<RawAccess>[] {
  return [...sqlBackends(), memoryBackend()];
}

/** Appends `n` simple events (minute i = 1..n) and returns nothing; for building a chain to tamper with. */
export async function appendN(ledger: LedgerStore, n: number, actor = 'alice'): Promise<void> {
  for (let i = 1; i <= n; i += 1) {
    await ledger.appendEvent(ev({ i, actor, event: i % 2 === 0 ? 'approved' : 'proposed', detail: { i, note: `event ${i}` } }));
  }
}

/** SQL string literal (standard quoting, valid in SQLite and PostgreSQL). */
export function lit(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * SQL (run through `tamper`) that takes a current ledger back to the schema of version `to`
 * (1 or 2), as an older dotctl left it: for the migration cases.
 */
export function downgradeSql(backend: Backend['name'], to: 1 | 2): string {
  const pg = backend === 'postgres';
  const t = (name: string): string => (pg ? `dotctl.${name}` : name);
  const versions = pg ? 'dotctl.schema_version' : 'dotctl_schema_version';
  // SQLite's tamper has dropped the append-only triggers already; PostgreSQL's only bypasses them
  const triggers = pg ? ['dot_proposals', 'schema_version'].map((x) => `DROP TRIGGER ${x}_append_only ON dotctl.${x}; DROP TRIGGER ${x}_no_truncate ON dotctl.${x};`).join(' ') : '';
  const v2 = to === 1 ? `DROP TABLE ${t('dot_admissions')}; ALTER TABLE ${t('dot_proposals')} DROP COLUMN content;` : '';
  return `DROP TABLE ${t('dot_proposal_states')}; ${triggers} ${v2} DELETE FROM ${versions} WHERE version > ${to}`;
}

/** SQL inserting `p` as an older dotctl stored it (no state index row; `content` only from version 2). */
export function legacyProposalSql(backend: Backend['name'], p: ProposalRecord, version: 1 | 2): string {
  const table = backend === 'postgres' ? 'dotctl.dot_proposals' : 'dot_proposals';
  const cols = ['id', 'dot_ids', 'params', 'target_fingerprint', 'canonical', 'hash', 'state', 'created_by', 'created_at', 'expires_at', 'signature'];
  const values = [p.id, JSON.stringify(p.dotIds), JSON.stringify(p.params), p.targetFingerprint, p.canonical, p.hash, p.state, p.createdBy, p.createdAt, p.expiresAt, p.signature];
  if (version === 2) {
    cols.push('content');
    values.push(p.content ? JSON.stringify(p.content) : null);
  }
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${values.map(lit).join(', ')})`;
}

/**
 * Fills a fresh PostgreSQL ledger's log (through `admin`, its superuser connection) with `n`
 * chained rows whose details vary in shape, keeps a copy in dotctl.seed_copy and disables the
 * log's append-only triggers: a tamper suite restores the copy before each case.
 */
export async function seedPostgresLog(admin: pg.Client, n: number): Promise<void> {
  const rows: unknown[][] = [];
  let head: ChainHead | null = null;
  for (let i = 1; i <= n; i += 1) {
    const s = sealEvent(head, ev({ i, detail: { i, sql: `GRANT "r${i % 7}"`, nested: { k: [i, 'é'] } } }));
    rows.push([...logRowValues(s.row, s.detailJson)]);
    head = { seq: s.row.seq, hash: s.row.hash };
  }
  for (let k = 0; k < rows.length; k += 500) {
    const params: unknown[] = [];
    const tuples = rows.slice(k, k + 500).map((v) => `(${v.map((x) => `$${params.push(x)}`).join(', ')})`);
    await admin.query(`INSERT INTO dotctl.dot_action_log (${LOG_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }
  await admin.query('CREATE TABLE dotctl.seed_copy AS SELECT * FROM dotctl.dot_action_log');
  await admin.query('ALTER TABLE dotctl.dot_action_log DISABLE TRIGGER USER');
}
