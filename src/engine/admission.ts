/**
 * Admission of DOT content and the content frozen in proposals. Reviewers admit a DOT's exact
 * files (`dotctl admit`); propose refuses a DOT whose current files were not admitted; a
 * proposal freezes the files it was made from, and everything after it (approve, status,
 * apply, rehearsal, rollback) re-creates its DOTs from those frozen files, never from the disk.
 */
import { GateError, InputError } from '../model/errors.js';
import type { AdmissionRecord, ProposalRecord } from '../model/records.js';
import type { Catalogue, ValidDot } from '../catalogue/validate.js';
import { validateSource } from '../catalogue/load.js';
import { changedFiles, frozenSource } from '../catalogue/content.js';
import { admissionLaw } from '../catalogue/laws.js';
import { findDot, orderBundle } from '../catalogue/bundle.js';
import { formatProblem } from '../model/errors.js';
import { signStatement } from '../gate/signature.js';
import { decideAdmission, type AdmissionDecision } from '../gate/admission.js';
import { actsAs, type Identity } from '../gate/identities.js';
import type { LedgerStore, NewLogEvent } from '../ledger/port.js';
import { withTrustedTime } from './clock.js';
import { catalogueOf, ledgerName, nowIso, signerOf, withLedgerOf, type EngineOptions } from './options.js';
import { actorFrom, admissionRegistry, readRegistry, type RegistryView } from './registry.js';

/** One DOT whose current content may not be proposed yet, and the way out. */
export interface Unadmitted {
  readonly dotId: string;
  readonly contentHash: string;
  /** files that differ from the last admitted content (all of them for a DOT never admitted) */
  readonly changed: readonly string[];
  readonly decision: Extract<AdmissionDecision, { kind: 'not_admitted' }>;
  /** one sentence: what differs and what to run */
  readonly message: string;
}

/** Who judges admissions: the registry in force now, and the one in force at each admission's row. */
export interface AdmissionJudges {
  readonly identities: readonly Identity[];
  readonly identitiesFor?: (a: AdmissionRecord) => readonly Identity[] | null;
}

/** The judges of admissions from the ledger's registry (each admission by the registry in force at its row). */
export async function admissionJudges(ledger: LedgerStore, view: RegistryView, identities: readonly Identity[]): Promise<AdmissionJudges> {
  return { identities, identitiesFor: admissionRegistry(view, await ledger.readEvents({ event: 'admitted' })) };
}

/** The admission verdict on one DOT's current content. */
export function admissionOf(dot: ValidDot, cat: Catalogue, admissions: readonly AdmissionRecord[], judges: AdmissionJudges, now: string): AdmissionDecision {
  return decideAdmission({
    dotId: dot.spec.id,
    contentHash: dot.content.hash,
    admissions: admissions.filter((a) => a.dotId === dot.spec.id),
    ...judges,
    requirements: admissionLaw(dot.spec, cat.laws),
    now,
  });
}

/**
 * Which DOTs of `dots` are not admitted in their current content: each names the files that
 * differ from its last admitted version and the way out. Reads the ledger only.
 */
export async function checkAdmitted(ledger: LedgerStore, cat: Catalogue, dots: readonly ValidDot[], judges: AdmissionJudges, now: string): Promise<Unadmitted[]> {
  const admissions = await ledger.listAdmissions();
  const out: Unadmitted[] = [];
  for (const dot of dots) {
    const decision = admissionOf(dot, cat, admissions, judges, now);
    if (decision.kind === 'admitted') continue;
    const last = decision.lastAdmitted;
    const changed = last ? changedFiles(last.fileHashes, dot.content.fileHashes) : Object.keys(dot.content.files).sort();
    const what = last
      ? `${changed.join(', ') || 'its content'} changed since ${dot.spec.id} was last admitted (v${last.version}, ${last.at})`
      : `${dot.spec.id} (${changed.join(', ')}) was never admitted by reviewers`;
    out.push({
      dotId: dot.spec.id,
      contentHash: dot.content.hash,
      changed,
      decision,
      message: `${what}; ${decision.message}: a reviewer runs dotctl admit ${dot.spec.id}`,
    });
  }
  return out;
}

/** Refuses (GateError, exit 3, logged `refused`) when a DOT of the bundle is not admitted. */
export async function requireAdmitted(
  o: EngineOptions,
  ledger: LedgerStore,
  cat: Catalogue,
  dots: readonly ValidDot[],
  registry: { readonly view: RegistryView; readonly identities: readonly Identity[] },
  actor: string,
  action: string,
): Promise<void> {
  const at = nowIso(o);
  const missing = await checkAdmitted(ledger, cat, dots, await admissionJudges(ledger, registry.view, registry.identities), at);
  if (missing.length === 0) return;
  const reason = missing.map((m) => m.message).join('; ');
  await ledger.appendEvent(dotEvent(at, actor, 'refused', missing.map((m) => m.dotId).join('+'), 'refused', { action, reason, changed: Object.fromEntries(missing.map((m) => [m.dotId, m.changed])) }));
  throw new GateError(`${action} refused: ${reason}`, { context: { dots: missing.map((m) => m.dotId) } });
}

function dotEvent(at: string, actor: string, event: NewLogEvent['event'], dotId: string, outcome: string, detail: Record<string, unknown>, actionCode: string | null = null): NewLogEvent {
  return { at, actor, event, proposalId: null, dotId, actionCode, proposalHash: null, outcome, detail };
}

/** What `admitDots` did for one DOT. */
export interface AdmitResult {
  readonly dotId: string;
  readonly version: number;
  readonly contentHash: string;
  /** `admitted` (signed now) or `already` (this reviewer had admitted this content) */
  readonly outcome: 'admitted' | 'already';
  readonly decision: AdmissionDecision;
}

/**
 * A reviewer admits DOTs (by id or option label, or every DOT of the catalogue with `all`): signs
 * each one's current content hash, stores it and logs `admitted`. Refused for anyone but an
 * enabled reviewer (exit 3, logged).
 */
export async function admitDots(o: EngineOptions, refs: readonly string[] | 'all', comment: string | null): Promise<AdmitResult[]> {
  const cat = await catalogueOf(o);
  const dots = refs === 'all' ? [...cat.dots.values()] : refs.map((r) => findDot(cat, r));
  if (dots.length === 0) throw new InputError('name at least one DOT to admit (id or option label), or pass --all');
  const key = await signerOf(o);
  return withLedgerOf(o, 'write', async (ledger) => {
    const { view, registry, me } = await actorFrom(ledger, ledgerName(o), key);
    const at = nowIso(await withTrustedTime(o, ledger, null));
    if (!actsAs(me, 'reviewer')) {
      const reason = `${me.name} is not ${me.disabled ? 'enabled' : me.roles.includes('automation') ? 'a reviewer but an automation identity' : 'a reviewer'}; only reviewers admit DOT content`;
      await ledger.appendEvent(dotEvent(at, me.name, 'refused', dots.map((d) => d.spec.id).join('+'), 'refused', { action: 'admit', reason }));
      throw new GateError(reason);
    }
    const results: AdmitResult[] = [];
    for (const dot of dots) {
      const prior = await ledger.listAdmissions(dot.spec.id);
      const mine = prior.some((a) => a.actor === me.name && a.contentHash === dot.content.hash);
      let all = prior;
      if (!mine) {
        const record: AdmissionRecord = {
          dotId: dot.spec.id,
          version: dot.spec.version,
          contentHash: dot.content.hash,
          fileHashes: dot.content.fileHashes,
          actor: me.name,
          signature: signStatement(key.privateKey, 'admit', dot.spec.id, dot.content.hash, at),
          at,
          comment,
        };
        await ledger.addAdmission(
          record,
          dotEvent(at, me.name, 'admitted', dot.spec.id, 'ok', { version: dot.spec.version, content_hash: dot.content.hash, files: dot.content.fileHashes, comment }, dot.spec.action_code),
        );
        all = [...prior, record];
      }
      const decision = admissionOf(dot, cat, all, await admissionJudges(ledger, view, registry.members), at);
      results.push({ dotId: dot.spec.id, version: dot.spec.version, contentHash: dot.content.hash, outcome: mine ? 'already' : 'admitted', decision });
    }
    return results;
  });
}

/** One DOT of the catalogue with its admissions and the verdict on its current content. */
export interface AdmissionStatus {
  readonly dotId: string;
  readonly version: number;
  readonly contentHash: string;
  readonly decision: AdmissionDecision | null;
  readonly admissions: readonly AdmissionRecord[];
}

/** The admissions of one DOT (or every DOT) and whether its current content may be proposed. */
export async function listAdmissionStatus(o: EngineOptions, ref?: string): Promise<{ statuses: AdmissionStatus[]; note: string | null }> {
  const cat = await catalogueOf(o);
  const dots = ref === undefined ? [...cat.dots.values()] : [findDot(cat, ref)];
  return withLedgerOf(o, 'read', async (ledger) => {
    const admissions = await ledger.listAdmissions();
    const now = nowIso(await withTrustedTime(o, ledger, null));
    const view = await readRegistry(ledger);
    const registry = view.entries.at(-1)?.registry;
    const judges = registry ? await admissionJudges(ledger, view, registry.members) : null;
    const statuses = dots.map((d) => ({
      dotId: d.spec.id,
      version: d.spec.version,
      contentHash: d.content.hash,
      decision: judges ? admissionOf(d, cat, admissions, judges, now) : null,
      admissions: admissions.filter((a) => a.dotId === d.spec.id),
    }));
    return { statuses, note: judges ? null : 'the ledger has no identity registry (dotctl ledger init), so admissions cannot be judged' };
  });
}

/**
 * Re-creates a proposal's DOTs from the content frozen in it, in apply order, without reading
 * the disk; refuses a record without frozen content (made by an older dotctl) or whose frozen
 * files no longer validate or no longer hash to what it recorded (tampered). With `cacheDir`,
 * frozen content already validated by this build comes from the catalogue cache.
 */
export async function loadFrozen(record: ProposalRecord, cacheDir?: string): Promise<{ dots: ValidDot[]; catalogue: Catalogue }> {
  const content = record.content;
  if (!content) {
    throw new GateError(`proposal ${record.id} holds no frozen DOT content (it was made before proposals froze their content); propose it again`);
  }
  // the catalogue cache answers content this build already validated (its entries are MAC'd)
  const result = await validateSource(frozenSource(content, `proposal ${record.id}`), cacheDir);
  if (result.kind === 'invalid') {
    throw new GateError(
      `the content frozen in proposal ${record.id} does not validate (${result.problems.slice(0, 3).map(formatProblem).join('; ')}): the ledger was tampered with; run dotctl log verify`,
    );
  }
  const dots = record.dotIds.map((id) => {
    const d = result.catalogue.dots.get(id);
    if (!d) throw new GateError(`the content frozen in proposal ${record.id} lacks ${id}: the ledger was tampered with; run dotctl log verify`);
    if (content.hashes[id] !== d.content.hash) {
      throw new GateError(`the content of ${id} frozen in proposal ${record.id} no longer hashes to ${String(content.hashes[id]).slice(0, 12)}…: the ledger was tampered with; run dotctl log verify`);
    }
    return d;
  });
  return { dots: orderBundle(dots), catalogue: result.catalogue };
}
