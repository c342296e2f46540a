import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decideAdmission, type AdmissionInput } from '../../src/gate/admission.js';
import { encodePublicKey, type Identity, type Role } from '../../src/gate/identities.js';
import { signStatement } from '../../src/gate/signature.js';
import type { AdmissionRecord } from '../../src/model/records.js';

interface Person {
  readonly identity: Identity;
  readonly key: KeyObject;
}
function person(name: string, roles: Role[], disabled = false): Person {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { identity: { name, roles, publicKey: encodePublicKey(publicKey), disabled }, key: privateKey };
}
const op = person('olga', ['operator']);
const rev1 = person('rita', ['reviewer']);
const rev2 = person('raj', ['reviewer']);
const rev3 = person('ria', ['reviewer']);
const gone = person('gus', ['reviewer'], true);
const identities = [op, rev1, rev2, rev3, gone].map((p) => p.identity);

const DOT = 'DOT-X';
const V1 = '1'.repeat(64);
const V2 = '2'.repeat(64);
const NOW = '2026-11-28T12:00:00.000Z';
const AT = '2026-11-28T11:00:00.000Z';

function admit(p: Person, hash: string, opts: { at?: string; dotId?: string; signer?: Person; signedDot?: string; signedHash?: string } = {}): AdmissionRecord {
  const at = opts.at ?? AT;
  return {
    dotId: opts.dotId ?? DOT,
    version: 1,
    contentHash: hash,
    fileHashes: {},
    actor: p.identity.name,
    signature: signStatement((opts.signer ?? p).key, 'admit', opts.signedDot ?? DOT, opts.signedHash ?? hash, at),
    at,
    comment: null,
  };
}
function decide(admissions: AdmissionRecord[], over: Partial<AdmissionInput> = {}) {
  return decideAdmission({ dotId: DOT, contentHash: V1, admissions, identities, requirements: { minimum: 0, sources: [] }, now: NOW, ...over });
}

test('a DOT never admitted needs two distinct reviewers', () => {
  const none = decide([]);
  assert.equal(none.kind, 'not_admitted');
  assert.match(none.kind === 'not_admitted' ? none.message : '', /by 2 distinct reviewer\(s\) \(a DOT never admitted before\), 0 so far/);
  assert.equal(decide([admit(rev1, V1)]).kind, 'not_admitted');
  assert.equal(decide([admit(rev1, V1), admit(rev1, V1)]).kind, 'not_admitted', 'one reviewer admitting twice counts once');
  const two = decide([admit(rev1, V1), admit(rev2, V1)]);
  assert.deepEqual(two, { kind: 'admitted', admitters: ['rita', 'raj'], required: 2 });
});

test('new content of an admitted DOT needs one reviewer; the last admitted version is named', () => {
  const history = [admit(rev1, V1), admit(rev2, V1)];
  const pending = decide(history, { contentHash: V2 });
  assert.equal(pending.kind, 'not_admitted');
  assert.equal(pending.kind === 'not_admitted' ? pending.lastAdmitted?.contentHash : null, V1);
  assert.match(pending.kind === 'not_admitted' ? pending.message : '', /by 1 distinct reviewer\(s\) \(a new version of an admitted DOT\)/);
  assert.equal(decide([...history, admit(rev3, V2)], { contentHash: V2 }).kind, 'admitted');
  // the previous content stays admitted
  assert.equal(decide([...history, admit(rev3, V2)]).kind, 'admitted');
});

test('one reviewer cannot bootstrap a DOT by admitting two versions alone', () => {
  const r = decide([admit(rev1, V1), admit(rev1, V2)], { contentHash: V2 });
  assert.equal(r.kind, 'not_admitted');
  assert.equal(r.required, 2);
});

test('the laws can raise the count, never lower it', () => {
  const law = { minimum: 3, sources: ['CONST-X'] };
  const r = decide([admit(rev1, V1), admit(rev2, V1)], { requirements: law });
  assert.equal(r.kind, 'not_admitted');
  assert.match(r.kind === 'not_admitted' ? r.message : '', /by 3 distinct reviewer\(s\) \(CONST-X\), 2 so far \(rita, raj\)/);
  assert.equal(decide([admit(rev1, V1), admit(rev2, V1), admit(rev3, V1)], { requirements: law }).kind, 'admitted');
  assert.equal(decide([admit(rev1, V1)], { requirements: { minimum: 1, sources: ['L'] } }).kind, 'not_admitted');
});

test('operators, disabled reviewers, unknown names, forged or replayed signatures and future dates do not count', () => {
  const cases: [AdmissionRecord, RegExp][] = [
    [admit(op, V1), /olga is not a reviewer/],
    [admit(gone, V1), /gus is disabled/],
    [{ ...admit(rev1, V1), actor: 'mallory' }, /mallory was not in the identity registry/],
    [admit(rev2, V1, { signer: rev1 }), /signature of raj's admission does not verify/],
    [admit(rev2, V1, { signedHash: V2 }), /does not verify/], // signed another content, filed under this one
    [admit(rev2, V1, { signedDot: 'DOT-Y' }), /does not verify/], // replayed from another DOT
    [{ ...admit(rev2, V1), at: '2026-11-28T11:30:00.000Z' }, /does not verify/], // its time moved
    [admit(rev2, V1, { at: '2026-11-29T00:00:00.000Z' }), /dated in the future/],
    [admit(rev2, V1, { at: '2026-12-08T12:00:00.000Z' }), /dated in the future \(2026-12-08T12:00:00\.000Z, more than 5 min after the trusted clock's/],
  ];
  for (const [bad, reason] of cases) {
    const r = decide([admit(rev1, V1), bad]);
    assert.equal(r.kind, 'not_admitted', reason.source);
    assert.ok(r.kind === 'not_admitted' && r.discounted.some((d) => reason.test(d.reason)), `${reason.source}: ${JSON.stringify(r)}`);
  }
});

test('a reviewer disabled later no longer counts for the content they admitted', () => {
  const ids = identities.map((i) => (i.name === 'raj' ? { ...i, disabled: true } : i));
  assert.equal(decide([admit(rev1, V1), admit(rev2, V1)], { identities: ids }).kind, 'not_admitted');
});

test('an admission signed a few minutes ahead of the trusted clock (within the five-minute skew) counts', () => {
  assert.equal(decide([admit(rev1, V1, { at: '2026-11-28T12:04:00.000Z' }), admit(rev2, V1)]).kind, 'admitted');
});
