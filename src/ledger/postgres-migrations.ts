/**
 * The postgres ledger's schema: its forward migrations, in order, and how they are applied
 * (by whoever opens an outdated ledger for writing, or by `provisionLedgerRoles` as the owner).
 */
import type pg from 'pg';
import { LedgerError } from '../model/errors.js';
import { displayLedger, ledgerTooNew } from './failure.js';
import type { Migration } from './rows.js';

/** The advisory lock namespace ("dotc") and the key of the migration lock. */
export const LOCK_NS = 0x646f7463;
const LOCK_MIGRATE = 1;

/** Forward migrations of the PostgreSQL ledger, applied in order inside one locked transaction. */
export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'proposals, decisions and the append-only hash-chained dot_action_log',
    sql: `
      CREATE FUNCTION dotctl.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        RAISE EXCEPTION 'dotctl.% is append-only: % refused', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'prohibited_sql_statement_attempted';
      END
      $fn$;

      CREATE TABLE dotctl.dot_proposals (
        id                 text COLLATE "C" PRIMARY KEY,
        dot_ids            text NOT NULL,
        params             text NOT NULL,
        target_fingerprint text,
        canonical          text NOT NULL,
        hash               text NOT NULL,
        state              text NOT NULL,
        created_by         text NOT NULL,
        created_at         text COLLATE "C" NOT NULL,
        expires_at         text COLLATE "C",
        signature          text
      );
      CREATE INDEX dot_proposals_state ON dotctl.dot_proposals (state, created_at);

      CREATE TABLE dotctl.dot_decisions (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        proposal_id text COLLATE "C" NOT NULL REFERENCES dotctl.dot_proposals (id),
        kind        text NOT NULL CHECK (kind IN ('approve', 'reject')),
        hash_signed text NOT NULL,
        actor       text NOT NULL,
        signature   text NOT NULL,
        comment     text,
        at          text COLLATE "C" NOT NULL,
        expires_at  text COLLATE "C"
      );
      CREATE INDEX dot_decisions_proposal ON dotctl.dot_decisions (proposal_id, id);
      CREATE TRIGGER dot_decisions_append_only BEFORE UPDATE OR DELETE ON dotctl.dot_decisions
        FOR EACH ROW EXECUTE FUNCTION dotctl.refuse_change();
      CREATE TRIGGER dot_decisions_no_truncate BEFORE TRUNCATE ON dotctl.dot_decisions
        FOR EACH STATEMENT EXECUTE FUNCTION dotctl.refuse_change();

      CREATE TABLE dotctl.dot_action_log (
        seq           bigint PRIMARY KEY CHECK (seq > 0),
        at            text COLLATE "C" NOT NULL,
        actor         text COLLATE "C" NOT NULL,
        event         text COLLATE "C" NOT NULL,
        proposal_id   text COLLATE "C",
        dot_id        text COLLATE "C",
        action_code   text,
        proposal_hash text,
        outcome       text,
        detail        text NOT NULL,
        prev_hash     text NOT NULL,
        hash          text NOT NULL
      );
      CREATE INDEX dot_action_log_proposal ON dotctl.dot_action_log (proposal_id, seq);
      CREATE INDEX dot_action_log_at ON dotctl.dot_action_log (at);
      CREATE TRIGGER dot_action_log_append_only BEFORE UPDATE OR DELETE ON dotctl.dot_action_log
        FOR EACH ROW EXECUTE FUNCTION dotctl.refuse_change();
      CREATE TRIGGER dot_action_log_no_truncate BEFORE TRUNCATE ON dotctl.dot_action_log
        FOR EACH STATEMENT EXECUTE FUNCTION dotctl.refuse_change();
    `,
  },
  {
    version: 2,
    description: 'dot_admissions (reviewers admit DOT content by hash) and the content frozen in each proposal',
    sql: `
      CREATE TABLE dotctl.dot_admissions (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dot_id       text COLLATE "C" NOT NULL,
        version      integer NOT NULL,
        content_hash text NOT NULL,
        file_hashes  text NOT NULL,
        actor        text NOT NULL,
        signature    text NOT NULL,
        at           text COLLATE "C" NOT NULL,
        comment      text
      );
      CREATE INDEX dot_admissions_dot ON dotctl.dot_admissions (dot_id, id);
      CREATE TRIGGER dot_admissions_append_only BEFORE UPDATE OR DELETE ON dotctl.dot_admissions
        FOR EACH ROW EXECUTE FUNCTION dotctl.refuse_change();
      CREATE TRIGGER dot_admissions_no_truncate BEFORE TRUNCATE ON dotctl.dot_admissions
        FOR EACH STATEMENT EXECUTE FUNCTION dotctl.refuse_change();

      ALTER TABLE dotctl.dot_proposals ADD COLUMN content text;
    `,
  },
  {
    version: 3,
    description: 'proposal states derived from chained events (dot_proposal_states); every table append-only',
    sql: `
      CREATE TABLE dotctl.dot_proposal_states (
        seq         bigint PRIMARY KEY,
        proposal_id text COLLATE "C" NOT NULL REFERENCES dotctl.dot_proposals (id),
        state       text NOT NULL,
        prev_seq    bigint
      );
      CREATE INDEX dot_proposal_states_proposal ON dotctl.dot_proposal_states (proposal_id, seq DESC) INCLUDE (state);
      ${appendOnly('dot_proposal_states')}
      ${appendOnly('dot_proposals')}
      ${appendOnly('schema_version')}
    `,
  },
  {
    version: 4,
    description: 'log rows found by event kind through an index (the registry, heads, watch states)',
    sql: 'CREATE INDEX IF NOT EXISTS dot_action_log_event ON dotctl.dot_action_log (event, seq);',
  },
];

/** The triggers that refuse UPDATE, DELETE and TRUNCATE on a table of schema dotctl. */
function appendOnly(table: string): string {
  return `
      CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON dotctl.${table}
        FOR EACH ROW EXECUTE FUNCTION dotctl.refuse_change();
      CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON dotctl.${table}
        FOR EACH STATEMENT EXECUTE FUNCTION dotctl.refuse_change();`;
}

/** The schema version this build of dotctl writes. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]?.version ?? 0;

type Queryable = pg.ClientBase;

/** The schema version of the ledger in schema dotctl, or null when there is none. */
export async function currentVersion(client: Queryable): Promise<number | null> {
  const t = await client.query<{ t: string | null }>(`SELECT to_regclass('dotctl.schema_version')::text AS t`);
  if (t.rows[0]?.t == null) return null;
  const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM dotctl.schema_version');
  return r.rows[0]?.v ?? 0;
}

/**
 * Brings the ledger to PG_SCHEMA_VERSION inside the caller's transaction, under the migration
 * lock (two processes migrating at once: the second waits, then finds nothing left to do).
 */
export async function migrateInTransaction(client: Queryable, url: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NS, LOCK_MIGRATE]);
  // only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when it exists
  const schema = await client.query<{ n: string | null }>("SELECT to_regnamespace('dotctl')::text AS n");
  if (schema.rows[0]?.n == null) await client.query('CREATE SCHEMA dotctl');
  await client.query(`CREATE TABLE IF NOT EXISTS dotctl.schema_version (
    version     integer PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
  )`);
  const v = (await currentVersion(client)) ?? 0;
  if (v > PG_SCHEMA_VERSION) throw ledgerTooNew(url, v, PG_SCHEMA_VERSION);
  for (const m of PG_MIGRATIONS) {
    if (m.version <= v) continue;
    await client.query(m.sql);
    await client.query('INSERT INTO dotctl.schema_version (version, description) VALUES ($1, $2)', [m.version, m.description]);
  }
}

/**
 * Creates or upgrades the ledger in its own transaction. A login without the right to change
 * the schema (the writer role of `dotctl ledger roles`) gets one sentence naming the way out.
 */
export async function migrate(client: Queryable, url: string, found: number | null): Promise<void> {
  await client.query('BEGIN');
  try {
    await migrateInTransaction(client, url);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: unknown }).code !== '42501') throw err;
    const what = found === null ? 'holds no ledger yet' : `holds a ledger at schema version ${found} that this dotctl must upgrade to ${PG_SCHEMA_VERSION}`;
    throw new LedgerError(
      `the database ${displayLedger(url)} ${what}, and this login may not change its schema (${(err as Error).message}); have an administrator run dotctl ledger roles --owner-role NAME --writer-role NAME with a superuser --ledger URL, then connect as the writer again`,
      { code: 'LEDGER_NEEDS_OWNER', context: { found, needed: PG_SCHEMA_VERSION } },
    );
  }
}
