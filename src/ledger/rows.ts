/**
 * What both adapters share about stored rows: column lists, the mapping between stored rows
 * (snake_case, JSON as text) and the port's records, and the SQL of a log filter. Pure.
 */
import { canonicalJson } from '../model/canonical.js';
import { InputError, LedgerError } from '../model/errors.js';
import { isLogEventKind, normalizeIsoTime } from './chain.js';
import { LOG_EVENT_KINDS, PROPOSAL_STATES } from './port.js';
import type { AdmissionRecord, DecisionRecord, FrozenContent, LogEventKind, LogFilter, LogRow, ProposalRecord, ProposalState } from './port.js';

/** Columns of dot_action_log in insert/select order. */
export const LOG_COLUMNS = ['seq', 'at', 'actor', 'event', 'proposal_id', 'dot_id', 'action_code', 'proposal_hash', 'outcome', 'detail', 'prev_hash', 'hash'] as const;

/** Columns of dot_proposals in insert/select order. */
export const PROPOSAL_COLUMNS = ['id', 'dot_ids', 'params', 'target_fingerprint', 'canonical', 'hash', 'state', 'created_by', 'created_at', 'expires_at', 'signature', 'content'] as const;

/** Columns of dot_decisions (besides its surrogate key) in insert/select order. */
export const DECISION_COLUMNS = ['proposal_id', 'kind', 'hash_signed', 'actor', 'signature', 'comment', 'at', 'expires_at'] as const;

/** Columns of dot_admissions (besides its surrogate key) in insert/select order. */
export const ADMISSION_COLUMNS = ['dot_id', 'version', 'content_hash', 'file_hashes', 'actor', 'signature', 'at', 'comment'] as const;

/** A dot_action_log row as a driver returns it (seq may come back as text from bigint). */
export interface StoredLogRow {
  readonly seq: number | string;
  readonly at: string;
  readonly actor: string;
  readonly event: string;
  readonly proposal_id: string | null;
  readonly dot_id: string | null;
  readonly action_code: string | null;
  readonly proposal_hash: string | null;
  readonly outcome: string | null;
  readonly detail: string;
  readonly prev_hash: string;
  readonly hash: string;
}

/** A dot_proposals row as stored. */
export interface StoredProposal {
  readonly id: string;
  readonly dot_ids: string;
  readonly params: string;
  readonly target_fingerprint: string | null;
  readonly canonical: string;
  readonly hash: string;
  readonly state: string;
  readonly created_by: string;
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly signature: string | null;
  readonly content: string | null;
}

/** A dot_admissions row as stored. */
export interface StoredAdmission {
  readonly dot_id: string;
  readonly version: number | string;
  readonly content_hash: string;
  readonly file_hashes: string;
  readonly actor: string;
  readonly signature: string;
  readonly at: string;
  readonly comment: string | null;
}

/** A dot_decisions row as stored. */
export interface StoredDecision {
  readonly proposal_id: string;
  readonly kind: string;
  readonly hash_signed: string;
  readonly actor: string;
  readonly signature: string;
  readonly comment: string | null;
  readonly at: string;
  readonly expires_at: string | null;
}

/**
 * Maps a stored log row to a LogRow. A detail that is not a JSON object (only possible by
 * tampering) is kept as `{ unparsable: text }`, so verify reports that row's hash mismatch
 * instead of crashing.
 */
export function toLogRow(r: StoredLogRow): LogRow {
  return {
    seq: Number(r.seq),
    at: r.at,
    actor: r.actor,
    // Stored text is trusted only as far as the chain proves it; verify re-hashes whatever is there.
    event: r.event as LogEventKind,
    proposalId: r.proposal_id,
    dotId: r.dot_id,
    actionCode: r.action_code,
    proposalHash: r.proposal_hash,
    outcome: r.outcome,
    detail: parseObject(r.detail),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  return { unparsable: text };
}

/** The values of a sealed LogRow in LOG_COLUMNS order. */
export function logRowValues(row: LogRow, detailJson: string): readonly (string | number | null)[] {
  return [row.seq, row.at, row.actor, row.event, row.proposalId, row.dotId, row.actionCode, row.proposalHash, row.outcome, detailJson, row.prevHash, row.hash];
}

/** Maps a stored proposal to a ProposalRecord. */
export function toProposal(r: StoredProposal): ProposalRecord {
  return {
    id: r.id,
    dotIds: JSON.parse(r.dot_ids) as string[],
    params: JSON.parse(r.params) as Record<string, unknown>,
    targetFingerprint: r.target_fingerprint,
    canonical: r.canonical,
    hash: r.hash,
    state: r.state as ProposalState,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    signature: r.signature,
    content: r.content === null ? null : parseFrozen(r.content),
  };
}

/**
 * Frozen content as stored. Text that is not the expected shape (only possible by tampering)
 * becomes an empty content, which re-hashes to something else, so the gate refuses the proposal.
 */
function parseFrozen(text: string): FrozenContent {
  const v = parseObject(text);
  const strings = (x: unknown): Record<string, string> =>
    x !== null && typeof x === 'object' && !Array.isArray(x) && Object.values(x).every((t) => typeof t === 'string') ? (x as Record<string, string>) : {};
  return { files: strings(v.files), hashes: strings(v.hashes) };
}

/** Maps a stored admission to an AdmissionRecord. */
export function toAdmission(r: StoredAdmission): AdmissionRecord {
  const hashes = parseObject(r.file_hashes);
  return {
    dotId: r.dot_id,
    version: Number(r.version),
    contentHash: r.content_hash,
    fileHashes: Object.fromEntries(Object.entries(hashes).filter(([, h]) => typeof h === 'string')) as Record<string, string>,
    actor: r.actor,
    signature: r.signature,
    at: r.at,
    comment: r.comment,
  };
}

/** The values of an AdmissionRecord in ADMISSION_COLUMNS order. */
export function admissionValues(a: AdmissionRecord): readonly (string | number | null)[] {
  return [a.dotId, a.version, a.contentHash, canonicalJson(a.fileHashes), a.actor, a.signature, a.at, a.comment ?? null];
}

/** The values of a ProposalRecord in PROPOSAL_COLUMNS order. */
export function proposalValues(p: ProposalRecord): readonly (string | null)[] {
  return [
    p.id,
    canonicalJson(p.dotIds),
    canonicalJson(p.params),
    p.targetFingerprint ?? null,
    p.canonical,
    p.hash,
    p.state,
    p.createdBy,
    p.createdAt,
    p.expiresAt ?? null,
    p.signature ?? null,
    p.content ? canonicalJson(p.content) : null,
  ];
}

/** Maps a stored decision to a DecisionRecord. */
export function toDecision(r: StoredDecision): DecisionRecord {
  return {
    proposalId: r.proposal_id,
    kind: r.kind === 'reject' ? 'reject' : 'approve',
    hashSigned: r.hash_signed,
    actor: r.actor,
    signature: r.signature,
    comment: r.comment,
    at: r.at,
    expiresAt: r.expires_at,
  };
}

/** The values of a DecisionRecord in DECISION_COLUMNS order. */
export function decisionValues(d: DecisionRecord): readonly (string | null)[] {
  return [d.proposalId, d.kind, d.hashSigned, d.actor, d.signature, d.comment ?? null, d.at, d.expiresAt ?? null];
}

/** SQL and parameters of a log read; `placeholder(n)` renders the n-th (1-based) bind parameter. */
export interface LogQuery {
  readonly sql: string;
  readonly params: readonly (string | number)[];
}

/**
 * Builds the SELECT for `filter` over `table`: rows in seq order; with a limit, the latest
 * `limit` matching rows (still in seq order), which is what a reader of a long log wants.
 */
export function buildLogQuery(table: string, filter: LogFilter, placeholder: (n: number) => string): LogQuery {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (column: string, op: string, value: string | number): void => {
    params.push(value);
    where.push(`${column} ${op} ${placeholder(params.length)}`);
  };
  if (filter.proposalId !== undefined) add('proposal_id', '=', filter.proposalId);
  if (filter.dotId !== undefined) add('dot_id', '=', filter.dotId);
  if (filter.actor !== undefined) add('actor', '=', filter.actor);
  if (filter.event !== undefined) add('event', '=', filter.event);
  if (filter.since !== undefined) add('at', '>=', filter.since);
  if (filter.fromSeq !== undefined) add('seq', '>=', filter.fromSeq);
  if (filter.toSeq !== undefined) add('seq', '<=', filter.toSeq);
  if (filter.seqs !== undefined) {
    const marks = filter.seqs.map((n) => {
      params.push(n);
      return placeholder(params.length);
    });
    where.push(marks.length > 0 ? `seq IN (${marks.join(', ')})` : '1 = 0');
  }
  const cols = LOG_COLUMNS.join(', ');
  const cond = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
  if (filter.limit === undefined) return { sql: `SELECT ${cols} FROM ${table}${cond} ORDER BY seq`, params };
  params.push(filter.limit);
  return {
    sql: `SELECT ${cols} FROM (SELECT ${cols} FROM ${table}${cond} ORDER BY seq DESC LIMIT ${placeholder(params.length)}) AS latest ORDER BY seq`,
    params,
  };
}

/**
 * Checks and normalises a filter before it reaches SQL: `since` becomes the stored time
 * form (so text comparison is time comparison) and `limit` must be a non-negative integer.
 */
export function normalizeFilter(filter: LogFilter): LogFilter {
  let since = filter.since;
  if (since !== undefined) {
    const iso = normalizeIsoTime(since);
    if (iso === null) {
      throw new InputError(`since ${JSON.stringify(since)} is not an ISO-8601 time with a zone; use e.g. 2024-05-01T00:00:00Z`, {
        context: { since },
      });
    }
    since = iso;
  }
  if (filter.limit !== undefined && !(Number.isSafeInteger(filter.limit) && filter.limit >= 0)) {
    throw new InputError(`limit ${String(filter.limit)} is not a non-negative integer; pass a count of rows`, {
      context: { limit: filter.limit },
    });
  }
  for (const [name, v] of [
    ['fromSeq', filter.fromSeq],
    ['toSeq', filter.toSeq],
  ] as const) {
    if (v !== undefined && !Number.isSafeInteger(v)) throw new InputError(`${name} ${String(v)} is not an integer; pass a seq`, { context: { [name]: v } });
  }
  if (filter.seqs !== undefined && !filter.seqs.every((n) => Number.isSafeInteger(n))) {
    throw new InputError(`seqs ${JSON.stringify(filter.seqs)} are not all whole numbers`);
  }
  if (filter.event !== undefined && !isLogEventKind(filter.event)) {
    throw new InputError(`event ${JSON.stringify(filter.event)} is not a log event kind; use one of ${LOG_EVENT_KINDS.join(', ')}`);
  }
  return since === filter.since ? filter : { ...filter, since };
}

/** One forward migration step of a ledger schema; steps apply in version order, each once. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** Refuses to store a proposal state the port does not know (an engine bug, not user input). */
export function checkProposalState(state: string): void {
  if (!(PROPOSAL_STATES as readonly string[]).includes(state)) {
    throw new LedgerError(`cannot store proposal state ${JSON.stringify(state)}: it is not a proposal state; fix the engine`, {
      code: 'LEDGER_BAD_RECORD',
    });
  }
}
