import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decideGate, checkDecider, type GateInput, type GateProposal } from '../../src/gate/decide.js';
import { encodePublicKey, type Identity, type Role } from '../../src/gate/identities.js';
import { signStatement } from '../../src/gate/signature.js';
import { gateRequirements } from '../../src/catalogue/laws.js';
import type { DecisionRecord, LogRow } from '../../src/model/records.js';
import type { Law } from '../../src/catalogue/schema.js';

interface Person {
  readonly identity: Identity;
  readonly key: KeyObject;
}
function person(name: string, roles: Role[], disabled = false): Person {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { identity: { name, roles, publicKey: encodePublicKey(publicKey), disabled }, key: privateKey };
}
const op = person('olga', ['operator']);
const op2 = person('omar', ['operator']);
const rev1 = person('rita', ['reviewer']);
const rev2 = person('raj', ['reviewer']);
const both = person('bea', ['operator', 'reviewer']);
const aud = person('aud', ['auditor']);
const people = [op, op2, rev1, rev2, both, aud];
const identities = people.map((p) => p.identity);

const HASH = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const NOW = '2026-11-28T12:00:00.000Z';

const laws = new Map<string, Law>([
  ['G', { id: 'G', title: 'gate', text: 't', requires: { min_approvals: 1, separation_of_duties: true } }],
  ['IRR', { id: 'IRR', title: 'irr', text: 't', requires: { dual_control: true, approval_ttl_hours: 4 } }],
]);
const dotOf = (risk: 'reversible' | 'irreversible', lawIds: string[]) => ({ id: 'DOT-X', risk, laws: lawIds, diff: [] }) as unknown as Parameters<typeof gateRequirements>[0][number];
const reversible = gateRequirements([dotOf('reversible', ['G'])], laws);
const irreversible = gateRequirements([dotOf('irreversible', ['G', 'IRR'])], laws);

const CREATED = '2026-11-28T10:00:00.000Z';
function proposal(over: Partial<GateProposal> = {}): GateProposal {
  const createdAt = over.createdAt ?? CREATED;
  const base: GateProposal = {
    id: 'P1',
    hash: HASH,
    currentHash: HASH,
    createdBy: 'olga',
    createdAt,
    expiresAt: null,
    state: 'proposed',
    signature: signStatement(op.key, 'propose', 'P1', HASH, createdAt),
  };
  return { ...base, ...over };
}
function approve(p: Person, opts: { hash?: string; at?: string; proposalId?: string; kind?: 'approve' | 'reject'; signer?: Person } = {}): DecisionRecord {
  const kind = opts.kind ?? 'approve';
  const hash = opts.hash ?? HASH;
  const at = opts.at ?? '2026-11-28T11:00:00.000Z';
  return {
    proposalId: 'P1',
    kind,
    hashSigned: hash,
    actor: p.identity.name,
    signature: signStatement((opts.signer ?? p).key, kind, opts.proposalId ?? 'P1', hash, at),
    comment: null,
    at,
    expiresAt: null,
  };
}
function decide(over: Partial<GateInput> = {}) {
  return decideGate({ proposal: proposal(), decisions: [], identities, requirements: reversible, now: NOW, applier: op.identity, companions: [], ...over });
}
const kinds = (d: ReturnType<typeof decide>) => d.unmet.map((u) => u.kind);

test('reversible: one valid approval by a reviewer lets an operator who did not approve apply', () => {
  const d = decide({ decisions: [approve(rev1)] });
  assert.equal(d.kind, 'allow');
  assert.deepEqual(d.approvers, ['rita']);
});

test('no approval: refused, naming how many are missing and who may not approve', () => {
  const d = decide();
  assert.equal(d.kind, 'refuse');
  assert.match(d.unmet[0]?.message ?? '', /1 approval\(s\) from distinct reviewers required \(G\), 0 valid \(1 missing\); olga may not approve/);
});

test('irreversible: dual control needs two distinct reviewers; one reviewer twice counts once', () => {
  assert.deepEqual(kinds(decide({ requirements: irreversible, decisions: [approve(rev1)] })), ['approvals_missing']);
  const twice = decide({ requirements: irreversible, decisions: [approve(rev1), approve(rev1)] });
  assert.equal(twice.kind, 'refuse');
  assert.deepEqual(twice.approvers, ['rita']);
  assert.match(twice.discounted[0]?.reason ?? '', /already approved; one reviewer counts once/);
  assert.match(twice.unmet[0]?.message ?? '', /^dual control \(IRR, risk:irreversible\): 2 approval\(s\)/);
  assert.equal(decide({ requirements: irreversible, decisions: [approve(rev1), approve(rev2)] }).kind, 'allow');
});

test('the proposer approving does not count, even when also a reviewer', () => {
  const p = proposal({ createdBy: 'bea', signature: signStatement(both.key, 'propose', 'P1', HASH, CREATED) });
  const d = decide({ proposal: p, decisions: [approve(both)] });
  assert.deepEqual(kinds(d), ['approvals_missing']);
  assert.match(d.discounted[0]?.reason ?? '', /bea proposed it and may not approve it/);
  assert.match(checkDecider(p, both.identity, 'approve', [], NOW) ?? '', /bea proposed P1 and may not approve it/);
});

test('an approver may not apply; an operator who did not approve may', () => {
  const d = decide({ decisions: [approve(rev1), approve(both)], applier: both.identity });
  assert.deepEqual(kinds(d), ['applier_approved']);
  assert.equal(decide({ decisions: [approve(rev1)], applier: op2.identity }).kind, 'allow');
});

test('the applier must be an enabled operator', () => {
  assert.deepEqual(kinds(decide({ decisions: [approve(rev1)], applier: aud.identity })), ['applier_not_operator']);
  assert.deepEqual(kinds(decide({ decisions: [approve(rev1)], applier: rev2.identity })), ['applier_not_operator']);
});

test('approval TTL edge (24 h from the signed time): valid one millisecond before expiry, void at the exact instant', () => {
  const a = approve(rev1, { at: '2026-11-28T11:00:00.000Z' });
  assert.equal(decide({ decisions: [a], now: '2026-11-29T10:59:59.999Z' }).kind, 'allow');
  const d = decide({ decisions: [a], now: '2026-11-29T11:00:00.000Z' });
  assert.equal(d.kind, 'refuse');
  assert.match(d.discounted[0]?.reason ?? '', /approval expired at 2026-11-29T11:00:00.000Z/);
});

test('a law shortens the TTL: an irreversible approval lasts 4 h', () => {
  const d = decide({ requirements: irreversible, decisions: [approve(rev1), approve(rev2)], now: '2026-11-28T15:00:00.000Z' });
  assert.equal(d.kind, 'refuse');
  assert.match(d.discounted[0]?.reason ?? '', /expired at 2026-11-28T15:00:00.000Z/);
});

test("moving an approval's time (or a stored expires_at) does not revive it: the time is signed", () => {
  const a = approve(rev1, { at: '2026-11-27T00:00:00.000Z' });
  const moved = { ...a, at: '2026-11-28T11:00:00.000Z', expiresAt: '2999-01-01T00:00:00.000Z' };
  const d = decide({ decisions: [moved] });
  assert.equal(d.kind, 'refuse');
  assert.match(d.discounted[0]?.reason ?? '', /does not verify/);
});

test('proposal expiry (72 h from its signed creation) blocks apply and approval; a moved creation time breaks the signature', () => {
  const p = proposal({ createdAt: '2026-11-25T12:00:00.000Z' });
  assert.ok(kinds(decide({ proposal: p, decisions: [approve(rev1)] })).includes('proposal_expired'));
  assert.match(checkDecider(p, rev1.identity, 'approve', [], NOW) ?? '', /expired at 2026-11-28T12:00:00.000Z/);
  const moved = { ...p, createdAt: '2026-11-28T11:00:00.000Z' };
  assert.match(
    decide({ proposal: moved, decisions: [approve(rev1)] })
      .unmet.map((u) => u.message)
      .join(' '),
    /does not verify .*tampered/,
  );
});

test('the action log is cross-checked: a deleted rejection, a state put back, a rewritten canonical text', () => {
  const row = (seq: number, event: LogRow['event'], actor: string): LogRow => ({
    seq,
    at: NOW,
    actor,
    event,
    proposalId: 'P1',
    dotId: null,
    actionCode: null,
    proposalHash: HASH,
    outcome: 'ok',
    detail: {},
    prevHash: '',
    hash: '',
  });
  const del = decide({ decisions: [approve(rev1)], events: [row(1, 'proposed', 'olga'), row(2, 'rejected', 'raj')] });
  assert.match(del.unmet.map((u) => u.message).join(' '), /raj rejected P1 \(action log seq 2\) but that rejection is missing from the decisions: the ledger was tampered with/);
  const back = decide({ decisions: [approve(rev1)], events: [row(1, 'applied', 'olga')] });
  assert.deepEqual(kinds(back), ['ledger_tampered']);
  const canon = decide({ proposal: proposal({ canonical: '{"x":1}' }), decisions: [approve(rev1)] });
  assert.match(canon.unmet[0]?.message ?? '', /canonical JSON of P1 no longer hashes to its hash/);
});

test('a hash change after approval voids every approval', () => {
  const d = decide({ proposal: proposal({ currentHash: OTHER }), decisions: [approve(rev1)] });
  assert.deepEqual(kinds(d).sort(), ['approvals_missing', 'hash_changed']);
  assert.match(d.discounted[0]?.reason ?? '', /approved hash aaaaaaaaaaaa…, not the current one/);
});

test('a tampered signature, a signature by another key and a replay from another proposal do not count', () => {
  const tampered = { ...approve(rev1), signature: Buffer.alloc(64, 1).toString('base64') };
  const wrongKey = approve(rev1, { signer: rev2 });
  const replayed = approve(rev1, { proposalId: 'P2' });
  for (const bad of [tampered, wrongKey, replayed]) {
    const d = decide({ decisions: [bad] });
    assert.equal(d.kind, 'refuse');
    assert.match(d.discounted[0]?.reason ?? '', /does not verify for this proposal/);
  }
  const otherHash = { ...approve(rev1), hashSigned: OTHER };
  assert.match(decide({ decisions: [otherHash] }).discounted[0]?.reason ?? '', /does not verify/);
});

test('unknown, disabled and non-reviewer approvers do not count', () => {
  const ghost = person('ghost', ['reviewer']);
  const disabled = person('dora', ['reviewer'], true);
  const ids = [...identities, disabled.identity];
  for (const [who, reason] of [
    [ghost, /ghost was not in the identity registry/],
    [disabled, /dora is disabled/],
    [op2, /omar is not a reviewer/],
  ] as const) {
    const d = decide({ identities: ids, decisions: [approve(who)] });
    assert.equal(d.kind, 'refuse');
    assert.match(d.discounted[0]?.reason ?? '', reason);
  }
});

test('a key listed under another name: an approval signed by rita but filed as raj does not count', () => {
  const filedAsRaj = { ...approve(rev1), actor: 'raj' };
  assert.equal(decide({ decisions: [filedAsRaj] }).kind, 'refuse');
});

test('any valid rejection blocks, even with enough approvals', () => {
  const d = decide({ decisions: [approve(rev1), approve(rev2, { kind: 'reject' })] });
  assert.deepEqual(kinds(d), ['rejected']);
  assert.match(d.unmet[0]?.message ?? '', /raj rejected P1; a rejection blocks it/);
});

test('the proposer must be an enabled operator with a valid signature', () => {
  assert.deepEqual(kinds(decide({ proposal: proposal({ signature: null }), decisions: [approve(rev1)] })), ['proposer_invalid']);
  assert.deepEqual(kinds(decide({ proposal: proposal({ createdBy: 'rita' }), decisions: [approve(rev2)] })), ['proposer_invalid']);
});

test('a missing companion refuses with the way out', () => {
  const d = decide({ decisions: [approve(rev1)], companions: [{ dotId: 'DOT-D', requiredBy: 'DOT-A', status: 'missing' }] });
  assert.match(d.unmet[0]?.message ?? '', /companion DOT-D of DOT-A is neither in this bundle nor applied on the target.*bundle it or apply it first/);
  assert.equal(decide({ decisions: [approve(rev1)], companions: [{ dotId: 'DOT-D', requiredBy: 'DOT-A', status: 'applied' }] }).kind, 'allow');
});

test('an applied proposal cannot be applied again', () => {
  assert.deepEqual(kinds(decide({ proposal: proposal({ state: 'applied' }), decisions: [approve(rev1)] })), ['state']);
});

test('checkDecider: only enabled reviewers decide; one approval per reviewer; stale hashes are refused', () => {
  assert.equal(checkDecider(proposal(), rev1.identity, 'approve', [], NOW), null);
  assert.match(checkDecider(proposal(), op2.identity, 'approve', [], NOW) ?? '', /not a reviewer/);
  assert.match(checkDecider(proposal(), rev1.identity, 'approve', [approve(rev1)], NOW) ?? '', /already approved/);
  assert.match(checkDecider(proposal({ currentHash: OTHER }), rev1.identity, 'approve', [], NOW) ?? '', /changed since P1 was proposed/);
  assert.equal(checkDecider(proposal(), rev1.identity, 'reject', [approve(rev1)], NOW), null);
});

// control groups: a law may ask that some of the approvals come from members of a named group
const owner = person('dora', ['reviewer']);
const dora: Identity = { ...owner.identity, groups: ['data-owners'] };
const grouped = [...identities, dora];
const ownerLaw = new Map<string, Law>([...laws, ['OWN', { id: 'OWN', title: 'owner', text: 't', requires: { min_approvals: 2, group_approvals: [{ group: 'data-owners', min: 1 }] } }]]);
const ownerReq = gateRequirements([dotOf('irreversible', ['G', 'IRR', 'OWN'])], ownerLaw);

test('control group: two reviewers who are not data owners are not enough; one of them must be', () => {
  assert.deepEqual(ownerReq.groupApprovals, [{ group: 'data-owners', min: 1, sources: ['OWN'] }]);
  const d = decide({ identities: grouped, requirements: ownerReq, decisions: [approve(rev1), approve(rev2)] });
  assert.deepEqual(kinds(d), ['group_approvals_missing']);
  assert.match(d.unmet[0]?.message ?? '', /^control group data-owners \(OWN\): 1 approval\(s\) from its members required, 0 valid \(1 missing\); members: dora$/);
  assert.equal(decide({ identities: grouped, requirements: ownerReq, decisions: [approve(rev1), approve(owner)] }).kind, 'allow');
});

test('control group: the owner alone does not make dual control; an owner approval that does not count does not count for the group', () => {
  // one approval from the group, but two distinct reviewers are still required
  assert.deepEqual(kinds(decide({ identities: grouped, requirements: ownerReq, decisions: [approve(owner)] })), ['approvals_missing']);
  // the owner's approval of another hash counts neither as an approval nor for the group
  const stale = decide({ identities: grouped, requirements: ownerReq, decisions: [approve(rev1), approve(rev2), approve(owner, { hash: OTHER })] });
  assert.deepEqual(kinds(stale), ['group_approvals_missing']);
  // a disabled owner is not a member
  const off = decide({ identities: [...identities, { ...dora, disabled: true }], requirements: ownerReq, decisions: [approve(rev1), approve(owner)] });
  assert.deepEqual(kinds(off).sort(), ['approvals_missing', 'group_approvals_missing']);
  assert.match(
    off.unmet.find((u) => u.kind === 'group_approvals_missing')?.message ?? '',
    /no enabled reviewer belongs to group data-owners; add data-owners to the groups: of a reviewer by a registry change/,
  );
});

test('control group: a group requirement raises the total it implies, and laws without groups leave requirements as they were', () => {
  const only = gateRequirements([dotOf('reversible', ['G'])], new Map([...laws, ['TWO', { id: 'TWO', title: 't', text: 't', requires: { group_approvals: [{ group: 'dba', min: 2 }] } }]]));
  assert.equal(only.minApprovals, 1);
  const two = gateRequirements([dotOf('reversible', ['G', 'TWO'])], new Map([...laws, ['TWO', { id: 'TWO', title: 't', text: 't', requires: { group_approvals: [{ group: 'dba', min: 2 }] } }]]));
  assert.equal(two.minApprovals, 2);
  assert.deepEqual(two.sources.min_approvals, ['G', 'TWO']);
  assert.equal('groupApprovals' in reversible, false);
});

test('a signature dated beyond the five-minute skew in the future of the trusted clock does not count; within the skew it does', () => {
  // NOW is 12:00: an approval signed at 12:04:59 (a clock a little ahead) counts, one ten days ahead does not
  assert.equal(decide({ decisions: [approve(rev1, { at: '2026-11-28T12:04:59.000Z' })] }).kind, 'allow');
  assert.equal(decide({ decisions: [approve(rev1, { at: '2026-11-28T12:05:00.000Z' })] }).kind, 'allow');
  const ahead = decide({ decisions: [approve(rev1, { at: '2026-12-08T12:00:00.000Z' })] });
  assert.equal(ahead.kind, 'refuse');
  assert.deepEqual(kinds(ahead), ['approvals_missing']);
  assert.match(ahead.discounted[0]?.reason ?? '', /rita's approval is dated 2026-12-08T12:00:00\.000Z, more than 5 min in the future of the trusted clock \(2026-11-28T12:00:00\.000Z\)/);
  // the same approval is judged on the signed time alone once the clock reaches it: valid then, 24 h later expired
  assert.equal(
    decide({ decisions: [approve(rev1, { at: '2026-12-08T12:00:00.000Z' })], proposal: proposal({ createdAt: '2026-12-08T11:00:00.000Z' }), now: '2026-12-08T12:00:00.000Z' }).kind,
    'allow',
  );
});

test('a proposal dated in the future of the trusted clock is refused; a future-dated rejection still blocks', () => {
  const p = proposal({ createdAt: '2026-12-08T10:00:00.000Z' });
  const d = decide({ proposal: p, decisions: [approve(rev1)] });
  assert.ok(kinds(d).includes('future_dated'));
  assert.match(d.unmet.find((u) => u.kind === 'future_dated')?.message ?? '', /proposal P1 is dated 2026-12-08T10:00:00\.000Z, more than 5 min in the future of the trusted clock .*propose it again/);
  assert.equal(decide({ proposal: proposal({ createdAt: '2026-11-28T12:04:00.000Z' }), decisions: [approve(rev1)] }).kind, 'allow');
  const r = decide({ decisions: [approve(rev1), approve(rev2, { kind: 'reject', at: '2026-12-08T10:00:00.000Z' })] });
  assert.deepEqual(kinds(r), ['rejected']);
});

test('with the time not known yet (now null) everything but time is judged: refusals then hold at any time', () => {
  const expired = approve(rev1, { at: '2026-11-20T00:00:00.000Z' });
  assert.equal(decide({ now: null, decisions: [expired], proposal: proposal({ createdAt: '2026-11-19T00:00:00.000Z' }) }).kind, 'allow');
  assert.deepEqual(kinds(decide({ now: null, decisions: [] })), ['approvals_missing']);
  assert.deepEqual(kinds(decide({ now: null, decisions: [approve(rev1), approve(rev2, { kind: 'reject' })] })), ['rejected']);
});

test('automation (dotctl watch) may propose, but never approves or applies, whatever other roles it lists', () => {
  const bot = person('wally', ['automation']);
  const botReviewer = person('wendy', ['automation', 'reviewer', 'operator']);
  const ids = [...identities, bot.identity, botReviewer.identity];
  // a proposal drafted by the automation identity is a valid proposal
  const drafted = proposal({ createdBy: 'wally', signature: signStatement(bot.key, 'propose', 'P1', HASH, CREATED) });
  assert.equal(decide({ identities: ids, proposal: drafted, decisions: [approve(rev1)] }).kind, 'allow');
  // its approvals do not count, and it may not decide at all
  const d = decide({ identities: ids, proposal: drafted, decisions: [approve(botReviewer)] });
  assert.deepEqual(kinds(d), ['approvals_missing']);
  assert.match(d.discounted[0]?.reason ?? '', /wendy is an automation identity, which never approves/);
  assert.match(checkDecider(drafted, botReviewer.identity, 'approve', [], NOW) ?? '', /automation identity; automation drafts proposals and never approves/);
  // it may not apply, even holding the operator role
  for (const applier of [bot.identity, botReviewer.identity]) {
    const a = decide({ identities: ids, proposal: drafted, decisions: [approve(rev1)], applier });
    assert.deepEqual(kinds(a), ['applier_not_operator']);
    assert.match(a.unmet[0]?.message ?? '', /is an automation identity, which drafts proposals but never applies them/);
  }
});
