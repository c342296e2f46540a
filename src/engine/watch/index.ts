/**
 * `dotctl watch`: one cycle runs every standing check — the invariants of every applied proposal
 * against its target, the backup sets, the governed files — compares each with its last known
 * state (derived from the log's latest `invariant_failed` / `invariant_recovered` row for it) and,
 * on a change only, appends that event as the automation identity, pushes the aggregate status
 * to the alert endpoints and drafts the remedy a failing check names. Nothing changes the target.
 * A watcher keeps its caches (frozen proposals re-created, dump verdicts) across cycles.
 */
import { hostname } from 'node:os';
import { GateError, InputError } from '../../model/errors.js';
import type { LogRow, ProposalRecord } from '../../model/records.js';
import { bindParams, parseParamPairs } from '../../catalogue/params.js';
import type { WatchSettings } from '../../catalogue/watch-config.js';
import { actsAs } from '../../gate/identities.js';
import { actorFrom } from '../registry.js';
import type { LedgerStore } from '../../ledger/port.js';
import { deliverAll, type AlertEndpoint, type AlertMessage, type Delivery } from '../../exec/alert.js';
import { resolveTarget, targetFingerprint } from '../../exec/target.js';
import { loadFrozen } from '../admission.js';
import { canonicalJson, sha256Hex } from '../../model/canonical.js';
import type { ValidDot } from '../../catalogue/validate.js';
import { withTrustedTime } from '../clock.js';
import { ledgerName, nowIso, signerOf, withLedgerOf, type EngineOptions } from '../options.js';
import { judgeBackupSet, VerdictCache } from './backups.js';
import { draftRemedies } from './draft.js';
import { governedChecks } from './governed.js';
import { runInvariants, standingChecks, type WatchedProposal } from './invariants.js';
import type { WatchChange, WatchCheck, WatchReport } from './types.js';

export type { WatchReport, WatchCheck, WatchChange, WatchDraft, WatchStatus, WatchCheckKind } from './types.js';

/** A watcher: `cycle()` runs once; its caches live as long as it does. */
export interface Watcher {
  readonly actor: string;
  cycle(): Promise<WatchReport>;
}

/** The last known state of every check, from the log's latest invariant event of each. Reads only. */
export async function lastKnownStates(ledger: LedgerStore): Promise<Map<string, 'holding' | 'failing'>> {
  const rows: LogRow[] = [...(await ledger.readEvents({ event: 'invariant_failed' })), ...(await ledger.readEvents({ event: 'invariant_recovered' }))];
  rows.sort((a, b) => a.seq - b.seq);
  const out = new Map<string, 'holding' | 'failing'>();
  for (const r of rows) if (typeof r.detail.check === 'string') out.set(r.detail.check, r.event === 'invariant_failed' ? 'failing' : 'holding');
  return out;
}

/**
 * Re-creates an applied proposal from its frozen content and stored parameters (never today's
 * files). Proposals frozen from the same files (A on fifty schemas) are validated once: `memo`
 * is keyed by the SHA-256 of the frozen files, their recorded hashes and the DOT ids.
 */
async function watched(record: ProposalRecord, memo: Map<string, ValidDot[]>): Promise<WatchedProposal> {
  try {
    const key = sha256Hex(canonicalJson({ content: record.content ?? null, dots: record.dotIds }));
    let dots = memo.get(key);
    if (!dots) {
      dots = (await loadFrozen(record)).dots;
      if (memo.size >= 64) memo.clear();
      memo.set(key, dots);
    }
    const pairs = Object.entries(record.params)
      .filter(([, v]) => !(typeof v === 'object' && v !== null))
      .map(([k, v]) => `${k}=${String(v)}`);
    const params = bindParams(
      dots.map((d) => d.spec),
      parseParamPairs(pairs),
    );
    return { record, dots, params, error: null };
  } catch (err) {
    return { record, dots: [], params: {}, error: (err as Error).message };
  }
}

/** The alert endpoints with their URLs (a `url_env` read from the engine's environment). */
function endpoints(settings: WatchSettings, env: NodeJS.ProcessEnv): AlertEndpoint[] {
  return settings.alerts.map((a, i) => {
    const url = a.url ?? (a.urlEnv ? env[a.urlEnv] : undefined);
    if (!url) throw new InputError(`watch.alerts[${i}] takes its URL from $${a.urlEnv}, which is not set; export ${a.urlEnv}=https://… or give url`);
    if (!/^https?:\/\//.test(url)) throw new InputError(`watch.alerts[${i}]: $${a.urlEnv} is not an http:// or https:// URL`);
    return { kind: a.kind, url, timeoutMs: a.timeoutMs, retries: a.retries };
  });
}

/** What the alert endpoints are told after a change: the aggregate status and what changed. */
function alertMessage(report: Omit<WatchReport, 'alerts'>): AlertMessage {
  const failing = report.checks.filter((c) => c.status === 'failing');
  const status = failing.length > 0 ? 'down' : 'up';
  const drafted = report.drafted.filter((d) => d.proposalId !== null).map((d) => `${d.proposalId} (${d.dotId})`);
  const msg =
    status === 'down'
      ? `dotctl watch: ${failing.length} failing: ${failing.map((c) => `${c.name}: ${c.observed}`).join(' | ')}${drafted.length > 0 ? ` | drafted ${drafted.join(', ')}` : ''}`
      : `dotctl watch: all ${report.checks.filter((c) => c.status === 'holding').length} standing checks hold`;
  const pick = (c: WatchCheck): Record<string, unknown> => ({ check: c.id, kind: c.kind, name: c.name, observed: c.observed, expected: c.expected, proposal_id: c.proposalId, dot_id: c.dotId });
  return {
    status,
    msg,
    body: {
      source: 'dotctl watch',
      status,
      at: report.at,
      host: hostname(),
      target: report.target,
      actor: report.actor,
      changes: report.changes.map((c) => ({ check: c.id, name: c.name, from: c.from, to: c.to, event: c.event, seq: c.seq })),
      failing: failing.map(pick),
      drafted: report.drafted.filter((d) => d.proposalId !== null).map((d) => ({ proposal_id: d.proposalId, dot_id: d.dotId, params: d.params, check: d.check })),
    },
  };
}

/**
 * Builds a watcher acting as the signer, which must be an identity with role automation (its
 * rows are by it; it may propose, never approve or apply). Refuses before any check: a key that
 * is not automation (exit 3), an alert URL variable that is not set (exit 2).
 */
export async function createWatcher(o: EngineOptions, settings: WatchSettings): Promise<Watcher> {
  const key = await signerOf(o);
  const { me } = await withLedgerOf(o, 'read', (ledger) => actorFrom(ledger, ledgerName(o), key));
  if (!actsAs(me, 'automation')) {
    throw new GateError(
      `${me.name} is not an automation identity; dotctl watch logs and drafts as one: create a key (dotctl keygen watch --role automation), list it with roles: [automation] and pass it with --key`,
    );
  }
  const env = o.env ?? process.env;
  const alerts = endpoints(settings, env);
  const given: EngineOptions = o;
  const frozen = new Map<string, WatchedProposal>();
  const validated = new Map<string, ValidDot[]>();
  const verdicts = new VerdictCache();
  const tried = new Set<string>();
  const host = hostname();

  const cycle = async (): Promise<WatchReport> => {
    const notes: string[] = [];
    const run = await withLedgerOf(given, 'write', async (ledger) => {
      const t = await withTrustedTime(given, ledger, null);
      const at = nowIso(t);
      const applied = await ledger.listProposals('applied');
      const live = new Set(applied.map((p) => `${p.id}:${p.hash}`));
      for (const k of frozen.keys()) if (!live.has(k)) frozen.delete(k);
      const withStanding: WatchedProposal[] = [];
      for (const p of applied) {
        const key = `${p.id}:${p.hash}`;
        let w = frozen.get(key);
        if (!w) {
          w = await watched(p, validated);
          frozen.set(key, w);
        }
        if (w.error !== null || w.dots.some((d) => standingChecks(d).length > 0)) withStanding.push(w);
      }
      const checks: WatchCheck[] = [];
      let target: string | null = null;
      if (withStanding.length > 0) {
        const address = resolveTarget(given.target, env);
        target = targetFingerprint(address);
        checks.push(...(await runInvariants(withStanding, address, env, notes)));
      }
      checks.push(...(await governedChecks(ledger, applied, host)));
      for (const set of settings.backupSets) checks.push(await judgeBackupSet(set, new Date(at), verdicts));

      // a change of state only: the log does not grow while nothing changes
      const known = await lastKnownStates(ledger);
      const changes: WatchChange[] = [];
      for (const c of checks) {
        if (c.status === 'not_run') continue;
        const from = known.get(c.id) ?? 'unknown';
        if (c.status === from || (c.status === 'holding' && from === 'unknown')) continue;
        const event = c.status === 'failing' ? 'invariant_failed' : 'invariant_recovered';
        const row = await ledger.appendEvent({
          at: nowIso(t),
          actor: me.name,
          event,
          proposalId: c.proposalId,
          dotId: c.dotId,
          actionCode: c.actionCode,
          proposalHash: c.proposalHash,
          outcome: c.status === 'failing' ? 'failed' : 'ok',
          detail: { check: c.id, kind: c.kind, name: c.name, observed: c.observed, expected: c.expected, ...(target ? { target } : {}), host },
        });
        changes.push({ id: c.id, name: c.name, from, to: c.status, event, seq: row.seq });
        if (c.status === 'holding') for (const k of tried) if (k.startsWith(`${c.id}\0`)) tried.delete(k);
      }
      return { at, target, checks, changes };
    });
    const drafted = await draftRemedies(given, run.checks, run.at, tried);
    const base = { ...run, actor: me.name, failing: run.checks.filter((c) => c.status === 'failing').length, drafted, notes };
    let delivered: Delivery[] = [];
    if (alerts.length > 0 && (run.changes.length > 0 || drafted.some((d) => d.proposalId !== null))) delivered = await deliverAll(alerts, alertMessage({ ...base }));
    return { ...base, alerts: delivered };
  };
  return { actor: me.name, cycle };
}
