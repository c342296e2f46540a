/**
 * Proposal summaries and counts on the SQLite ledger (port `listProposalSummaries`,
 * `countProposals`): the statements of summaries-sql.ts, prepared on first use, each read in one
 * transaction (one snapshot) and every listed state judged as `getProposal` judges it.
 */
import type Database from 'better-sqlite3';
import type { ProposalCounts, ProposalQuery, ProposalSummary } from './port.js';
import type { StoredProposal } from './rows.js';
import { stateForged, type StateJudgement } from './states.js';
import { addCounts, orderedCounts, pageOf, summarySql, toSummary, type StoredSummary } from './summaries-sql.js';

/** What the SQLite ledger delegates its summary reads to. */
export interface SqliteSummaries {
  list(query: ProposalQuery): ProposalSummary[];
  count(): ProposalCounts;
}

/** Prepares the summary reads on `db`; `judge` is the ledger's judgement of one stored proposal's state. */
export function sqliteSummaries(db: Database.Database, judge: (r: Pick<StoredProposal, 'id' | 'state'>) => StateJudgement): SqliteSummaries {
  const sql = summarySql('sqlite');
  type Count = { state: string; n: number };
  const page = (q: string) => db.prepare<[{ state: string | null; limit: number | null }], StoredSummary>(q);
  const count = (q: string) => db.prepare<[], Count>(q);
  const q = { indexed: page(sql.indexed), legacy: page(sql.legacy), countIndexed: count(sql.countIndexed), countLegacy: count(sql.countLegacy), countAll: count(sql.countAll) };
  return {
    list: (query) =>
      db.transaction(() => {
        const [state, limit] = [query.state ?? null, query.limit ?? null];
        const indexed = q.indexed.all({ state, limit });
        const rest = limit === null ? null : limit - indexed.length;
        // the legacy rows are looked for only when the page reaches past every indexed proposal
        return pageOf(indexed, rest === null || rest > 0 ? q.legacy.all({ state, limit: rest }) : []).map((r) => {
          const j = judge(r);
          if (j.problem) throw stateForged(j.problem);
          return toSummary(r, j.state);
        });
      })(),
    count: () =>
      db.transaction(() => {
        const counts = {};
        // proposals without index rows (a ledger older than the index) only when some exist
        if (addCounts(counts, q.countIndexed.all()) < (q.countAll.get()?.n ?? 0)) addCounts(counts, q.countLegacy.all());
        return orderedCounts(counts);
      })(),
  };
}
