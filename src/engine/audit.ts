/**
 * The auditor's reads: the action log (filtered), the chain verdict, the proposals. Read-only:
 * a missing ledger is reported, never created.
 */
import { InputError } from '../model/errors.js';
import { LOG_EVENT_KINDS, PROPOSAL_STATES, type LogRow, type ProposalRecord, type ProposalState } from '../model/records.js';
import { isLogEventKind, normalizeIsoTime } from '../ledger/chain.js';
import { verifySignedLog, type LogVerdict } from './signed-history.js';
import { withLedger } from '../ledger/open.js';
import type { LedgerStore, ProposalCounts, ProposalSummary } from '../ledger/port.js';
import type { LogFilter } from '../ledger/port.js';

/** `dotctl log` options as typed by a user. */
export interface LogOptions {
  readonly proposal?: string;
  readonly dot?: string;
  readonly actor?: string;
  readonly event?: string;
  readonly since?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

/** Validates log options into a filter; bad values are InputErrors naming the option. */
export function parseLogFilter(opts: LogOptions): LogFilter {
  let since: string | undefined;
  if (opts.since !== undefined) {
    // A bare date means midnight UTC; anything with a time must say its zone.
    const text = /^\d{4}-\d{2}-\d{2}$/.test(opts.since) ? `${opts.since}T00:00:00Z` : opts.since;
    since = normalizeIsoTime(text) ?? undefined;
    if (since === undefined) {
      throw new InputError(`--since ${JSON.stringify(opts.since)} is not an ISO-8601 time; pass e.g. --since 2024-05-01 or --since 2024-05-01T08:00:00Z`);
    }
  }
  let limit: number | undefined;
  if (opts.limit !== undefined) {
    limit = /^\d+$/.test(opts.limit) ? Number(opts.limit) : Number.NaN;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InputError(`--limit ${JSON.stringify(opts.limit)} is not a positive whole number; pass e.g. --limit 50`);
    }
  }
  if (opts.event !== undefined && !isLogEventKind(opts.event)) {
    throw new InputError(`--event ${JSON.stringify(opts.event)} is not an event kind; use one of ${LOG_EVENT_KINDS.join(', ')}`);
  }
  return {
    ...(opts.proposal !== undefined && { proposalId: opts.proposal }),
    ...(opts.dot !== undefined && { dotId: opts.dot }),
    ...(opts.actor !== undefined && { actor: opts.actor }),
    ...(opts.event !== undefined && { event: opts.event as LogRow['event'] }),
    ...(since !== undefined && { since }),
    ...(limit !== undefined && { limit }),
  };
}

/** Validates a proposal state name. */
export function parseState(state: string): ProposalState {
  const known: readonly string[] = PROPOSAL_STATES;
  if (!known.includes(state)) {
    throw new InputError(`--state ${JSON.stringify(state)} is not a proposal state; use one of ${PROPOSAL_STATES.join(', ')}`);
  }
  return state as ProposalState;
}

/** Reads the action log. `--dot D` also matches bundle rows (`A+D`) that include D. */
export async function readLog(ledger: string | LedgerStore, opts: LogOptions): Promise<readonly LogRow[]> {
  const filter = parseLogFilter(opts);
  return reading(ledger, async (l) => {
    if (filter.dotId === undefined) return l.readEvents(filter);
    const { dotId, limit, ...rest } = filter;
    const rows = (await l.readEvents(rest)).filter((r) => r.dotId?.split('+').includes(dotId));
    return limit === undefined ? rows : rows.slice(-limit);
  });
}

/** Re-proves the chain of the whole log, then every signed head and registry event (signed-history.ts). */
export async function verifyLog(ledger: string | LedgerStore): Promise<LogVerdict> {
  return reading(ledger, verifySignedLog);
}

/** Lists proposals, optionally in one state (validated). */
export async function listProposals(ledger: string | LedgerStore, state?: string): Promise<{ state: ProposalState | undefined; list: readonly ProposalRecord[] }> {
  const s = state === undefined ? undefined : parseState(state);
  return { state: s, list: await reading(ledger, (l) => l.listProposals(s)) };
}

/** How many proposals `dotctl proposals` shows when not told: the latest page, not the whole ledger. */
export const DEFAULT_PROPOSAL_PAGE = 50;

/** `dotctl proposals` options as typed by a user. */
export interface ProposalPageOptions {
  readonly state?: string;
  readonly limit?: string;
  readonly all?: boolean;
  /** full records (frozen content included) instead of summaries: `--json` */
  readonly full?: boolean;
}

/** A page of proposals, oldest first, and how many older ones it leaves out (0, or at least 1 when `more`). */
export interface ProposalPage {
  readonly state: ProposalState | undefined;
  readonly list: readonly (ProposalSummary | ProposalRecord)[];
  /** older proposals exist that the page does not show */
  readonly more: boolean;
  /** the page size asked for, or null for --all */
  readonly limit: number | null;
}

/** Validates --limit / --all into a page size (null: every proposal). */
export function parsePageLimit(limit: string | undefined, all: boolean | undefined): number | null {
  if (all === true && limit !== undefined) throw new InputError('--limit and --all contradict each other; pass one of them');
  if (all === true) return null;
  if (limit === undefined) return DEFAULT_PROPOSAL_PAGE;
  const n = /^\d+$/.test(limit) ? Number(limit) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`--limit ${JSON.stringify(limit)} is not a positive whole number; pass e.g. --limit 50, or --all`);
  return n;
}

/**
 * The latest page of proposals (summaries, or full records with `full`), read through the
 * ledger's indexes: one more than the page is asked for, to know whether older ones exist.
 */
export async function listProposalPage(ledger: string | LedgerStore, o: ProposalPageOptions = {}): Promise<ProposalPage> {
  const state = o.state === undefined ? undefined : parseState(o.state);
  const limit = parsePageLimit(o.limit, o.all);
  return reading(ledger, async (l) => {
    const got = await l.listProposalSummaries({ ...(state !== undefined && { state }), ...(limit !== null && { limit: limit + 1 }) });
    const more = limit !== null && got.length > limit;
    const page = more ? got.slice(1) : got;
    if (o.full !== true) return { state, list: page, more, limit };
    const full: ProposalRecord[] = [];
    for (const s of page) {
      const p = await l.getProposal(s.id);
      if (p) full.push(p);
    }
    return { state, list: full, more, limit };
  });
}

/** What `dotctl status` without a proposal shows: proposals per state, the latest few, the log's head. */
export interface LedgerOverview {
  readonly counts: ProposalCounts;
  readonly total: number;
  readonly latest: readonly ProposalSummary[];
  /** the newest row of the action log, or null for an empty log */
  readonly head: LogRow | null;
}

/** Reads the overview through indexes only: counts from the state index, the latest `latest` proposals judged one by one. */
export async function ledgerOverview(ledger: string | LedgerStore, latest = 5): Promise<LedgerOverview> {
  return reading(ledger, async (l) => {
    const counts = await l.countProposals();
    const list = await l.listProposalSummaries({ limit: latest });
    const head = (await l.readEvents({ limit: 1 }))[0] ?? null;
    const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
    return { counts, total, latest: list, head };
  });
}

/** Runs `fn` on the ledger: opened read-only (never created) when given as a path, else the caller's store. */
function reading<T>(ledger: string | LedgerStore, fn: (l: LedgerStore) => Promise<T>): Promise<T> {
  return typeof ledger === 'string' ? withLedger(ledger, { mode: 'read' }, fn) : fn(ledger);
}
