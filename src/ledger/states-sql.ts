/**
 * The SQL of derived proposal states (states.ts) for both SQL ledgers: reading a proposal's
 * state from its latest `dot_proposal_states` row, the evidence one proposal is judged from,
 * and the set queries `log verify` runs over the whole ledger, each returning the first suspect
 * (proposal id, seq) or nothing. SQLite and PostgreSQL differ only in names, placeholders and
 * JSON access, so one builder writes both.
 */
import { LOG_COLUMNS, PROPOSAL_COLUMNS } from './rows.js';
import { PREV_STATE_KEY, STATE_KEY, type StateEvidence, type StateIndexRow, type StateJudgement, type StateProblem } from './states.js';
import type { LogRow } from './port.js';

/** A suspect one of the set checks found. */
export interface StateSuspect {
  readonly id: string;
  readonly seq: number | string;
}

/** A dot_proposal_states row as stored. */
export interface StoredStateRow {
  readonly seq: number | string;
  readonly proposal_id: string;
  readonly state: string;
  readonly prev_seq: number | string | null;
}

/** The statements of one dialect. */
export interface StateSql {
  /** every proposal with its derived state, oldest first */
  readonly proposals: string;
  /** the same, in one state (one parameter) */
  readonly proposalsIn: string;
  /** one proposal's stored row (its state column as stored) */
  readonly proposal: string;
  readonly indexOf: string;
  readonly chainedOf: string;
  readonly firstSeqOf: string;
  readonly insertState: string;
  /** set checks, each selecting `id, seq` of its first suspect */
  readonly checks: readonly string[];
}

/** Builds the statements for `dialect`. */
export function stateSql(dialect: 'sqlite' | 'postgres'): StateSql {
  const pg = dialect === 'postgres';
  const t = (name: string): string => (pg ? `dotctl.${name}` : name);
  const ph = (n: number): string => (pg ? `$${n}` : '?');
  const isNot = pg ? 'IS DISTINCT FROM' : 'IS NOT';
  const has = (col: string, key: string): string => (pg ? `strpos(${col}, '"${key}"') > 0` : `instr(${col}, '"${key}"') > 0`);
  // JSON text of a top-level key; the chain verified first, so every detail is canonical JSON
  const json = (col: string, key: string): string => (pg ? `(${col}::jsonb ->> '${key}')` : `(CASE WHEN json_valid(${col}) THEN json_extract(${col}, '$.${key}') END)`);
  const cols = (derived: string): string => PROPOSAL_COLUMNS.map((c) => (c === 'state' ? `${derived} AS state` : `p.${c}`)).join(', ');
  // the latest index row's state, else the stored one (a legacy proposal): SQLite looks it up per
  // proposal in the covering index, PostgreSQL joins the latest row of each proposal at once
  const derived = pg ? 'coalesce(s.state, p.state)' : `coalesce((SELECT s.state FROM dot_proposal_states s WHERE s.proposal_id = p.id ORDER BY s.seq DESC LIMIT 1), p.state)`;
  const from = pg
    ? `${t('dot_proposals')} p LEFT JOIN (SELECT DISTINCT ON (proposal_id) proposal_id, state FROM ${t('dot_proposal_states')} ORDER BY proposal_id, seq DESC) s ON s.proposal_id = p.id`
    : 'dot_proposals p';
  const list = `SELECT ${cols(derived)} FROM ${from}`;
  const S = t('dot_proposal_states');
  const L = t('dot_action_log');
  const P = t('dot_proposals');
  return {
    proposals: `${list} ORDER BY p.created_at, p.id`,
    proposalsIn: `${list} WHERE ${derived} = ${ph(1)} ORDER BY p.created_at, p.id`,
    proposal: `SELECT ${PROPOSAL_COLUMNS.join(', ')} FROM ${P} WHERE id = ${ph(1)}`,
    indexOf: `SELECT seq, proposal_id, state, prev_seq FROM ${S} WHERE proposal_id = ${ph(1)} ORDER BY seq`,
    chainedOf: `SELECT ${LOG_COLUMNS.join(', ')} FROM ${L} WHERE proposal_id = ${ph(1)} AND ${has('detail', STATE_KEY)} ORDER BY seq`,
    firstSeqOf: `SELECT min(seq) AS seq FROM ${L} WHERE proposal_id = ${ph(1)}`,
    insertState: `INSERT INTO ${S} (seq, proposal_id, state, prev_seq) VALUES (${ph(1)}, ${ph(2)}, ${ph(3)}, ${ph(4)})`,
    checks: [
      // an index row that no state-setting log row of that proposal matches (edited, forged)
      `SELECT s.proposal_id AS id, s.seq AS seq FROM ${S} s LEFT JOIN ${L} l ON l.seq = s.seq
        WHERE l.seq IS NULL OR l.proposal_id ${isNot} s.proposal_id OR ${json('l.detail', STATE_KEY)} ${isNot} s.state
           OR ${json('l.detail', PREV_STATE_KEY)} ${isNot} ${pg ? 's.prev_seq::text' : 's.prev_seq'}
        ORDER BY s.seq LIMIT 1`,
      // an index row that does not link to the proposal's index row before it (one was deleted)
      `SELECT id, seq FROM (SELECT proposal_id AS id, seq, prev_seq, lag(seq) OVER (PARTITION BY proposal_id ORDER BY seq) AS before FROM ${S}) x
        WHERE prev_seq ${isNot} before ORDER BY seq LIMIT 1`,
      // a state-setting log row after the proposal's latest index row (the newest ones deleted)
      `SELECT p.id AS id, l.seq AS seq FROM ${P} p JOIN ${L} l ON l.proposal_id = p.id
          AND l.seq > coalesce((SELECT max(s.seq) FROM ${S} s WHERE s.proposal_id = p.id), 0)
        WHERE ${has('l.detail', STATE_KEY)} AND ${json('l.detail', STATE_KEY)} IS NOT NULL ORDER BY l.seq LIMIT 1`,
      // a proposal born with a state-setting event whose state column was changed since
      `SELECT p.id AS id, f.seq AS seq FROM ${P} p JOIN ${L} f ON f.seq = (SELECT min(m.seq) FROM ${L} m WHERE m.proposal_id = p.id)
        WHERE ${has('f.detail', STATE_KEY)} AND ${json('f.detail', STATE_KEY)} IS NOT NULL AND ${json('f.detail', STATE_KEY)} ${isNot} p.state
        ORDER BY f.seq LIMIT 1`,
      // an index row of a proposal that is gone
      `SELECT s.proposal_id AS id, s.seq AS seq FROM ${S} s LEFT JOIN ${P} p ON p.id = s.proposal_id WHERE p.id IS NULL ORDER BY s.seq LIMIT 1`,
    ],
  };
}

/** Maps a stored index row. */
export function toStateRow(r: StoredStateRow): StateIndexRow {
  return { seq: Number(r.seq), proposalId: r.proposal_id, state: r.state, prevSeq: r.prev_seq === null ? null : Number(r.prev_seq) };
}

/** The evidence of one proposal from its stored parts (log rows already mapped). */
export function evidenceOf(column: string, index: readonly StoredStateRow[], rows: readonly LogRow[], firstSeq: number | string | null): StateEvidence {
  return { column, index: index.map(toStateRow), chained: rows.filter((r) => typeof r.detail[STATE_KEY] === 'string'), firstSeq: firstSeq === null ? null : Number(firstSeq) };
}

/**
 * What a suspect of the set checks is, described by judging its proposal on its own (`j` is
 * null for a proposal that is gone).
 */
export function suspectProblem(s: StateSuspect, j: StateJudgement | null): StateProblem {
  if (j?.problem) return j.problem;
  const seq = Number(s.seq);
  const why = j === null ? `its state index row ${seq} remains but the proposal is missing from dot_proposals (it was deleted)` : `its state index and the action log disagree at row ${seq}`;
  return { proposalId: s.id, seq, message: `the stored state of proposal ${s.id} disagrees with the action log: ${why}, so the ledger was tampered with` };
}
