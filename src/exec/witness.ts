/**
 * The witness in the target: a small `dotctl` schema (as Sqitch and Flyway keep their registry
 * in the target) whose append-only table `dotctl.witness` records, for every apply and rollback,
 * which ledger governs the target, the proposal and its hash, and the ledger's head at that
 * moment. A row is written in the same transaction as the change it witnesses, so the target
 * holds it exactly when it holds the change. Everyone may read it (pg_dump of the database by
 * any role keeps working); only its creator (or a superuser) may write, and nobody may update,
 * delete or truncate it short of dropping its triggers or the schema.
 */
import type { TargetClient } from './target.js';

/** The schema the witness lives in; snapshots and scratch copies leave it out. */
export const WITNESS_SCHEMA = 'dotctl';

/** What a witness row says. */
export interface WitnessRow {
  readonly ledgerId: string;
  readonly proposalId: string;
  readonly proposalHash: string;
  readonly event: 'apply' | 'rollback';
  readonly headSeq: number;
  readonly headHash: string;
  readonly actor: string;
  /** the target transaction that wrote it (and made the change) */
  readonly xid: string;
  /** the target's clock when it was written */
  readonly at: string;
}

/** A row to write (the target fills in xid and at). */
export type NewWitnessRow = Omit<WitnessRow, 'xid' | 'at'>;

const CREATE = `
CREATE SCHEMA IF NOT EXISTS dotctl;
CREATE TABLE IF NOT EXISTS dotctl.witness (
  ledger_id     text        NOT NULL,
  proposal_id   text        NOT NULL,
  proposal_hash text        NOT NULL,
  event         text        NOT NULL CHECK (event IN ('apply', 'rollback')),
  head_seq      bigint      NOT NULL CHECK (head_seq >= 1),
  head_hash     text        NOT NULL,
  actor         text        NOT NULL,
  xid           bigint      NOT NULL DEFAULT txid_current(),
  at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dotctl.witness IS 'dotctl: which ledger governs this database and the ledger head at each apply and rollback; append-only. Drop the schema dotctl only to re-bind the database to another ledger on purpose.';
CREATE OR REPLACE FUNCTION dotctl.witness_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'dotctl.witness is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER witness_append_only BEFORE UPDATE OR DELETE ON dotctl.witness FOR EACH ROW EXECUTE FUNCTION dotctl.witness_append_only();
CREATE TRIGGER witness_no_truncate BEFORE TRUNCATE ON dotctl.witness FOR EACH STATEMENT EXECUTE FUNCTION dotctl.witness_append_only();
GRANT USAGE ON SCHEMA dotctl TO PUBLIC;
GRANT SELECT ON dotctl.witness TO PUBLIC;
`;

const COLUMNS = `ledger_id, proposal_id, proposal_hash, event, head_seq::text AS head_seq, head_hash, actor, xid::text AS xid,
  to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`;

function toRow(r: Record<string, unknown>): WitnessRow {
  return {
    ledgerId: String(r.ledger_id),
    proposalId: String(r.proposal_id),
    proposalHash: String(r.proposal_hash),
    event: r.event === 'rollback' ? 'rollback' : 'apply',
    headSeq: Number(r.head_seq),
    headHash: String(r.head_hash),
    actor: String(r.actor),
    xid: String(r.xid),
    at: String(r.at),
  };
}

async function witnessExists(client: TargetClient): Promise<boolean> {
  const r = await client.query(`SELECT to_regclass('dotctl.witness') IS NOT NULL AS present`);
  return r.rows[0]?.present === true;
}

/** Every witness row, oldest first; empty when the target has no witness yet. */
export async function readWitness(client: TargetClient): Promise<readonly WitnessRow[]> {
  if (!(await witnessExists(client))) return [];
  const r = await client.query(`SELECT ${COLUMNS} FROM dotctl.witness ORDER BY at, head_seq`);
  return r.rows.map(toRow);
}

/** The witness row written by transaction `xid` for `proposalId`, or null. */
export async function witnessOfTransaction(client: TargetClient, proposalId: string, xid: string): Promise<WitnessRow | null> {
  if (!(await witnessExists(client))) return null;
  const r = await client.query(`SELECT ${COLUMNS} FROM dotctl.witness WHERE proposal_id = $1 AND xid = $2::bigint ORDER BY head_seq DESC LIMIT 1`, [proposalId, xid]);
  return r.rows[0] ? toRow(r.rows[0]) : null;
}

/**
 * Writes a witness row inside the caller's open transaction, creating the schema on first use
 * (in that transaction too: a change that rolls back leaves no schema behind).
 */
export async function insertWitness(client: TargetClient, row: NewWitnessRow): Promise<void> {
  if (!(await witnessExists(client))) await client.query(CREATE);
  await client.query('INSERT INTO dotctl.witness (ledger_id, proposal_id, proposal_hash, event, head_seq, head_hash, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    row.ledgerId,
    row.proposalId,
    row.proposalHash,
    row.event,
    row.headSeq,
    row.headHash,
    row.actor,
  ]);
}
