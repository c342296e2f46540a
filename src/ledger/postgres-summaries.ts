/**
 * Proposal summaries and counts on the PostgreSQL ledger (port `listProposalSummaries`,
 * `countProposals`), run inside the caller's snapshot transaction. The states of a page are
 * judged as `getProposal` judges one, with the evidence of the whole page read in three queries
 * (`= ANY($1)`) instead of three per proposal: a page costs a fixed number of round trips.
 */
import type pg from 'pg';
import type { ProposalCounts, ProposalQuery, ProposalSummary } from './port.js';
import { LOG_COLUMNS, toLogRow, type StoredLogRow } from './rows.js';
import { STATE_KEY, judgeProposalState, stateForged } from './states.js';
import { evidenceOf, type StoredStateRow } from './states-sql.js';
import { addCounts, orderedCounts, pageOf, summarySql, toSummary, type StoredSummary } from './summaries-sql.js';

const SUM = summarySql('postgres');
const EVIDENCE = {
  index: 'SELECT seq, proposal_id, state, prev_seq FROM dotctl.dot_proposal_states WHERE proposal_id = ANY($1::text[]) ORDER BY seq',
  chained: `SELECT ${LOG_COLUMNS.join(', ')} FROM dotctl.dot_action_log WHERE proposal_id = ANY($1::text[]) AND strpos(detail, '"${STATE_KEY}"') > 0 ORDER BY seq`,
  first: 'SELECT proposal_id, min(seq) AS seq FROM dotctl.dot_action_log WHERE proposal_id = ANY($1::text[]) GROUP BY proposal_id',
} as const;

/** Rows grouped by their proposal id. */
function byProposal<T>(rows: readonly T[], id: (r: T) => string | null): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = id(r);
    if (k === null) continue;
    const list = out.get(k) ?? [];
    list.push(r);
    out.set(k, list);
  }
  return out;
}

/** The latest `query.limit` summaries (all without one), oldest first, each state judged; on `c`, inside a snapshot. */
export async function pgListSummaries(c: pg.PoolClient, query: ProposalQuery): Promise<ProposalSummary[]> {
  const [state, limit] = [query.state ?? null, query.limit ?? null];
  const indexed = (await c.query<StoredSummary>(SUM.indexed, [state, limit])).rows;
  const rest = limit === null ? null : limit - indexed.length;
  // the legacy rows are looked for only when the page reaches past every indexed proposal
  const legacy = rest === null || rest > 0 ? (await c.query<StoredSummary>(SUM.legacy, [state, rest])).rows : [];
  const page = pageOf(indexed, legacy);
  if (page.length === 0) return [];
  const ids = page.map((r) => r.id);
  const index = byProposal((await c.query<StoredStateRow>(EVIDENCE.index, [ids])).rows, (r) => r.proposal_id);
  const chained = byProposal((await c.query<StoredLogRow>(EVIDENCE.chained, [ids])).rows.map(toLogRow), (r) => r.proposalId);
  const first = new Map((await c.query<{ proposal_id: string; seq: string }>(EVIDENCE.first, [ids])).rows.map((r) => [r.proposal_id, r.seq] as const));
  return page.map((r) => {
    const j = judgeProposalState(r.id, evidenceOf(r.state, index.get(r.id) ?? [], chained.get(r.id) ?? [], first.get(r.id) ?? null));
    if (j.problem) throw stateForged(j.problem);
    return toSummary(r, j.state);
  });
}

/** Proposals per derived state from the state index; on `c`, inside a snapshot. */
export async function pgCountProposals(c: pg.PoolClient): Promise<ProposalCounts> {
  const counts = {};
  const indexed = addCounts(counts, (await c.query<{ state: string; n: string }>(SUM.countIndexed)).rows);
  const all = Number((await c.query<{ n: string }>(SUM.countAll)).rows[0]?.n ?? 0);
  // proposals without index rows (a ledger older than the index) only when some exist
  if (indexed < all) addCounts(counts, (await c.query<{ state: string; n: string }>(SUM.countLegacy)).rows);
  return orderedCounts(counts);
}
