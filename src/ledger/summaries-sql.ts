/**
 * The SQL of proposal summaries and counts (port `listProposalSummaries`, `countProposals`) for
 * both SQL ledgers. Lists must stay fast on a ledger of any size, so nothing here reads the
 * canonical text, params or frozen content, and a page is found through indexes:
 *
 * - proposals with state index rows are ordered by their first (`prev_seq IS NULL`) index row,
 *   i.e. the seq of the event that stored them: the latest page is a backwards walk of the
 *   index's primary key, however many proposals there are;
 * - proposals of a ledger older than the index (none of its rows) come before them, by creation
 *   time; they are only looked for when a page reaches past the indexed ones.
 *
 * Counts take the latest index row of each proposal from the covering index (proposal_id, seq,
 * state), and fall back to the stored state only when some proposal has no index row.
 */
import { PROPOSAL_STATES, type ProposalCounts, type ProposalState, type ProposalSummary } from './port.js';

/** The dot_proposals columns a summary needs (never canonical, params or content). */
export const SUMMARY_COLUMNS = ['id', 'dot_ids', 'target_fingerprint', 'hash', 'state', 'created_by', 'created_at', 'expires_at'] as const;

/** A summary row as read: the stored columns (`state` as stored) and the derived state. */
export interface StoredSummary {
  readonly id: string;
  readonly dot_ids: string;
  readonly target_fingerprint: string | null;
  readonly hash: string;
  /** the state column, as stored (what a proposal is judged against) */
  readonly state: string;
  readonly created_by: string;
  readonly created_at: string;
  readonly expires_at: string | null;
  /** the state of its latest index row, else the stored one */
  readonly derived: string;
}

/** The statements of one dialect. */
export interface SummarySql {
  /** indexed proposals, newest first; params: state filter or null, then limit (null = all) */
  readonly indexed: string;
  /** proposals without index rows, newest first; params: state filter or null, limit (null = all) */
  readonly legacy: string;
  /** per derived state, from the latest index row of each proposal */
  readonly countIndexed: string;
  /** per stored state, of proposals without index rows */
  readonly countLegacy: string;
  /** every proposal */
  readonly countAll: string;
}

/** Builds the statements for `dialect`. */
export function summarySql(dialect: 'sqlite' | 'postgres'): SummarySql {
  const pg = dialect === 'postgres';
  const t = (name: string): string => (pg ? `dotctl.${name}` : name);
  const S = t('dot_proposal_states');
  const P = t('dot_proposals');
  // SQLite binds these by name ({ state, limit }), PostgreSQL by position
  const p1 = pg ? '$1::text' : '@state';
  const p2 = pg ? '$2::bigint' : '@limit';
  const cols = SUMMARY_COLUMNS.map((c) => `p.${c}`).join(', ');
  // SQLite reads "no limit" as LIMIT -1; PostgreSQL as LIMIT NULL
  const limit = pg ? `LIMIT ${p2}` : `LIMIT coalesce(${p2}, -1)`;
  const latest = `(SELECT l.state FROM ${S} l WHERE l.proposal_id = p.id ORDER BY l.seq DESC LIMIT 1)`;
  return {
    indexed: `SELECT ${cols}, ${latest} AS derived FROM ${S} s JOIN ${P} p ON p.id = s.proposal_id
      WHERE s.prev_seq IS NULL AND (${p1} IS NULL OR ${latest} = ${p1}) ORDER BY s.seq DESC ${limit}`,
    // the ids come from the primary key's index alone, so the big rows are read only for a hit
    legacy: `SELECT ${cols}, p.state AS derived FROM ${P} p
      WHERE p.id IN (SELECT q.id FROM ${P} q WHERE NOT EXISTS (SELECT 1 FROM ${S} x WHERE x.proposal_id = q.id)) AND (${p1} IS NULL OR p.state = ${p1})
      ORDER BY p.created_at DESC, p.id DESC ${limit}`,
    countIndexed: pg
      ? `SELECT state, count(*) AS n FROM (SELECT DISTINCT ON (proposal_id) state FROM ${S} ORDER BY proposal_id, seq DESC) x GROUP BY state`
      : // SQLite takes the bare column `state` from the row holding max(seq)
        `SELECT state, count(*) AS n FROM (SELECT max(seq) AS seq, state FROM ${S} GROUP BY proposal_id) GROUP BY state`,
    countLegacy: `SELECT p.state AS state, count(*) AS n FROM ${P} p WHERE NOT EXISTS (SELECT 1 FROM ${S} x WHERE x.proposal_id = p.id) GROUP BY p.state`,
    countAll: `SELECT count(*) AS n FROM ${P}`,
  };
}

/** Maps a stored summary with the state it was judged to have. */
export function toSummary(r: StoredSummary, state: ProposalState): ProposalSummary {
  return {
    id: r.id,
    dotIds: JSON.parse(r.dot_ids) as string[],
    state,
    hash: r.hash,
    targetFingerprint: r.target_fingerprint,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  };
}

/**
 * One page, oldest first, from the newest-first indexed and legacy rows (legacy proposals are
 * older than every indexed one); a proposal listed twice (only by a forged index row) once.
 */
export function pageOf(indexed: readonly StoredSummary[], legacy: readonly StoredSummary[]): StoredSummary[] {
  const seen = new Set<string>();
  const out: StoredSummary[] = [];
  for (const r of [...legacy].reverse().concat([...indexed].reverse())) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push(r);
  }
  return out;
}

/** Adds counted rows (`state`, `n`) into counts; a state that is not a proposal state is kept out. */
export function addCounts(into: Partial<Record<ProposalState, number>>, rows: readonly { state: string; n: number | string }[]): number {
  let total = 0;
  for (const r of rows) {
    const n = Number(r.n);
    total += n;
    if (!(PROPOSAL_STATES as readonly string[]).includes(r.state)) continue;
    const s = r.state as ProposalState;
    into[s] = (into[s] ?? 0) + n;
  }
  return total;
}

/** Counts in PROPOSAL_STATES order (what a reader expects to see). */
export function orderedCounts(c: Partial<Record<ProposalState, number>>): ProposalCounts {
  const out: Partial<Record<ProposalState, number>> = {};
  for (const s of PROPOSAL_STATES) if (c[s] !== undefined) out[s] = c[s];
  return out;
}
