/** The sqlite ledger's schema: its forward migrations, in order. */
import type { Migration } from './rows.js';

/** Forward migrations of the SQLite ledger, applied in order inside one transaction. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'proposals, decisions and the append-only hash-chained dot_action_log',
    sql: `
      CREATE TABLE dot_proposals (
        id                 TEXT PRIMARY KEY,
        dot_ids            TEXT NOT NULL,
        params             TEXT NOT NULL,
        target_fingerprint TEXT,
        canonical          TEXT NOT NULL,
        hash               TEXT NOT NULL,
        state              TEXT NOT NULL,
        created_by         TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        expires_at         TEXT,
        signature          TEXT
      );
      CREATE INDEX dot_proposals_state ON dot_proposals (state, created_at);

      CREATE TABLE dot_decisions (
        id          INTEGER PRIMARY KEY,
        proposal_id TEXT NOT NULL REFERENCES dot_proposals (id),
        kind        TEXT NOT NULL CHECK (kind IN ('approve', 'reject')),
        hash_signed TEXT NOT NULL,
        actor       TEXT NOT NULL,
        signature   TEXT NOT NULL,
        comment     TEXT,
        at          TEXT NOT NULL,
        expires_at  TEXT
      );
      CREATE INDEX dot_decisions_proposal ON dot_decisions (proposal_id, id);
      CREATE TRIGGER dot_decisions_no_update BEFORE UPDATE ON dot_decisions
        BEGIN SELECT RAISE(ABORT, 'dot_decisions is append-only: UPDATE refused'); END;
      CREATE TRIGGER dot_decisions_no_delete BEFORE DELETE ON dot_decisions
        BEGIN SELECT RAISE(ABORT, 'dot_decisions is append-only: DELETE refused'); END;

      CREATE TABLE dot_action_log (
        seq           INTEGER PRIMARY KEY CHECK (seq > 0),
        at            TEXT NOT NULL,
        actor         TEXT NOT NULL,
        event         TEXT NOT NULL,
        proposal_id   TEXT,
        dot_id        TEXT,
        action_code   TEXT,
        proposal_hash TEXT,
        outcome       TEXT,
        detail        TEXT NOT NULL,
        prev_hash     TEXT NOT NULL,
        hash          TEXT NOT NULL
      );
      CREATE INDEX dot_action_log_proposal ON dot_action_log (proposal_id, seq);
      CREATE INDEX dot_action_log_at ON dot_action_log (at);
      CREATE TRIGGER dot_action_log_no_update BEFORE UPDATE ON dot_action_log
        BEGIN SELECT RAISE(ABORT, 'dot_action_log is append-only: UPDATE refused'); END;
      CREATE TRIGGER dot_action_log_no_delete BEFORE DELETE ON dot_action_log
        BEGIN SELECT RAISE(ABORT, 'dot_action_log is append-only: DELETE refused'); END;
    `,
  },
  {
    version: 2,
    description: 'dot_admissions (reviewers admit DOT content by hash) and the content frozen in each proposal',
    sql: `
      CREATE TABLE dot_admissions (
        id           INTEGER PRIMARY KEY,
        dot_id       TEXT NOT NULL,
        version      INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        file_hashes  TEXT NOT NULL,
        actor        TEXT NOT NULL,
        signature    TEXT NOT NULL,
        at           TEXT NOT NULL,
        comment      TEXT
      );
      CREATE INDEX dot_admissions_dot ON dot_admissions (dot_id, id);
      CREATE TRIGGER dot_admissions_no_update BEFORE UPDATE ON dot_admissions
        BEGIN SELECT RAISE(ABORT, 'dot_admissions is append-only: UPDATE refused'); END;
      CREATE TRIGGER dot_admissions_no_delete BEFORE DELETE ON dot_admissions
        BEGIN SELECT RAISE(ABORT, 'dot_admissions is append-only: DELETE refused'); END;

      ALTER TABLE dot_proposals ADD COLUMN content TEXT;
    `,
  },
  {
    version: 3,
    description: 'proposal states derived from chained events (dot_proposal_states); every table append-only',
    sql: `
      CREATE TABLE dot_proposal_states (
        seq         INTEGER PRIMARY KEY,
        proposal_id TEXT NOT NULL REFERENCES dot_proposals (id),
        state       TEXT NOT NULL,
        prev_seq    INTEGER
      );
      CREATE INDEX dot_proposal_states_proposal ON dot_proposal_states (proposal_id, seq, state);
      ${appendOnly('dot_proposal_states')}
      ${appendOnly('dot_proposals')}
      ${appendOnly('dotctl_schema_version')}
    `,
  },
  {
    version: 4,
    description: 'log rows found by event kind through an index (the registry, heads, watch states)',
    sql: 'CREATE INDEX IF NOT EXISTS dot_action_log_event ON dot_action_log (event, seq);',
  },
];

/** The triggers that refuse UPDATE and DELETE on a table (SQLite has no TRUNCATE). */
function appendOnly(table: string): string {
  return `
      CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table}
        BEGIN SELECT RAISE(ABORT, '${table} is append-only: UPDATE refused'); END;
      CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
        BEGIN SELECT RAISE(ABORT, '${table} is append-only: DELETE refused'); END;`;
}

/** The schema version this build of dotctl writes. */
export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]?.version ?? 0;
