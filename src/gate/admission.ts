/**
 * Admission of DOT content: a DOT (its YAML, side files and laws, by content hash) may be
 * proposed only once enough distinct reviewers signed that exact hash. Pure: a function of the
 * admissions, the identities, what the laws ask and `now`. Every shortfall is spelled out.
 */
import type { AdmissionRecord } from '../model/records.js';
import type { AdmissionLaw } from '../catalogue/laws.js';
import { actsAs, type Identity } from './identities.js';
import { verifyStatement } from './signature.js';
import { CLOCK_SKEW_MS, isFutureDated } from '../model/time.js';

/** Reviewers needed for a DOT id never admitted before. */
export const FIRST_ADMISSION_APPROVALS = 2;
/** Reviewers needed for new content of a DOT whose earlier content was admitted. */
export const NEXT_ADMISSION_APPROVALS = 1;

/** Everything an admission decision depends on. */
export interface AdmissionInput {
  readonly dotId: string;
  readonly contentHash: string;
  /** every admission recorded for this DOT id (any hash), in the order they were made */
  readonly admissions: readonly AdmissionRecord[];
  readonly identities: readonly Identity[];
  /** the registry in force when an admission was made (its row of the log); absent: `identities`; null: no row vouches for it */
  readonly identitiesFor?: (a: AdmissionRecord) => readonly Identity[] | null;
  /** what the DOT's laws ask (`admission_approvals`); it can only raise the default */
  readonly requirements: AdmissionLaw;
  readonly now: string;
}

/** An admission that does not count, and why. */
export interface DiscountedAdmission {
  readonly actor: string;
  readonly reason: string;
}

/** The verdict on one DOT's current content. */
export type AdmissionDecision =
  | { readonly kind: 'admitted'; readonly admitters: readonly string[]; readonly required: number }
  | {
      readonly kind: 'not_admitted';
      readonly admitters: readonly string[];
      readonly required: number;
      readonly discounted: readonly DiscountedAdmission[];
      /** the most recent content of this DOT that was admitted, or null when none ever was */
      readonly lastAdmitted: AdmissionRecord | null;
      readonly message: string;
    };

/** Why an admission does not count (null when it counts for its hash). */
function discount(a: AdmissionRecord, dotId: string, identities: readonly Identity[] | null, now: string): string | null {
  if (!identities) return `${a.actor}'s admission has no row in the action log, so no registry can vouch for it`;
  const who = identities.find((i) => i.name === a.actor);
  if (!who) return `${a.actor} was not in the identity registry when the admission was made`;
  if (a.dotId !== dotId || !verifyStatement(who.publicKey, a.signature, 'admit', dotId, a.contentHash, a.at)) {
    return `the signature of ${a.actor}'s admission does not verify for this DOT and content (wrong key, other DOT or hash, or tampered)`;
  }
  if (who.disabled) return `${a.actor} is disabled`;
  if (!actsAs(who, 'reviewer')) return `${a.actor} is not a reviewer${who.roles.includes('automation') ? ' (an automation identity never admits)' : ''}`;
  if (isFutureDated(a.at, now)) return `${a.actor}'s admission is dated in the future (${a.at}, more than ${CLOCK_SKEW_MS / 60_000} min after the trusted clock's ${now})`;
  return null;
}

/** Distinct reviewers whose admission of `hash` counts. */
function validAdmitters(input: AdmissionInput, hash: string, upTo: number): { names: string[]; discounted: DiscountedAdmission[] } {
  const names: string[] = [];
  const discounted: DiscountedAdmission[] = [];
  input.admissions.slice(0, upTo).forEach((a) => {
    if (a.contentHash !== hash) return;
    const why = discount(a, input.dotId, input.identitiesFor ? input.identitiesFor(a) : input.identities, input.now);
    if (why) discounted.push({ actor: a.actor, reason: why });
    else if (!names.includes(a.actor)) names.push(a.actor);
  });
  return { names, discounted };
}

/**
 * Replays the admissions in order: a content hash becomes admitted when its distinct valid
 * reviewers reach the default (2 for a DOT never admitted, 1 once some content of it was) or
 * what the laws ask, whichever is more. Returns the admitted hashes with the admission that
 * completed each.
 */
function admittedHashes(input: AdmissionInput): Map<string, AdmissionRecord> {
  const done = new Map<string, AdmissionRecord>();
  input.admissions.forEach((a, i) => {
    if (done.has(a.contentHash)) return;
    const required = Math.max(done.size > 0 ? NEXT_ADMISSION_APPROVALS : FIRST_ADMISSION_APPROVALS, input.requirements.minimum);
    if (validAdmitters(input, a.contentHash, i + 1).names.length >= required) done.set(a.contentHash, a);
  });
  return done;
}

/** Decides whether a DOT's content is admitted now. */
export function decideAdmission(input: AdmissionInput): AdmissionDecision {
  const done = admittedHashes(input);
  const { names, discounted } = validAdmitters(input, input.contentHash, input.admissions.length);
  const earlier = [...done.entries()].filter(([h]) => h !== input.contentHash);
  const base = earlier.length > 0 ? NEXT_ADMISSION_APPROVALS : FIRST_ADMISSION_APPROVALS;
  const required = Math.max(base, input.requirements.minimum);
  if (done.has(input.contentHash) || names.length >= required) return { kind: 'admitted', admitters: names, required };
  const lastAdmitted = earlier.map(([, a]) => a).at(-1) ?? null;
  const why = input.requirements.minimum > base ? ` (${input.requirements.sources.join(', ')})` : lastAdmitted ? ' (a new version of an admitted DOT)' : ' (a DOT never admitted before)';
  const message = `${input.dotId} needs admission of its current content ${input.contentHash.slice(0, 12)}… by ${required} distinct reviewer(s)${why}, ${names.length} so far${names.length > 0 ? ` (${names.join(', ')})` : ''}`;
  return { kind: 'not_admitted', admitters: names, required, discounted, lastAdmitted, message };
}
