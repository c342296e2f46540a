/**
 * Every act is signed by its actor: each command's rows end with a head its actor signed, and
 * `log verify` (and the gate before approve, apply and rollback) checks every head against the
 * registry in force. Attacks on copies of a real ledger (SQLite with its triggers dropped;
 * PostgreSQL as the superuser in replica mode), beside the legitimate ledger still verifying and
 * applying: a row rewritten and every later hash recomputed, the same with the signed heads
 * removed (reported as an unsigned tail by its actors), a head forged for another member, a head whose signature does not verify; then the
 * unsigned tail a crash leaves, a ledger with no registry, and the upgrade of an earlier ledger.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace, type CliResult } from '../helpers/cli.js';
import { createIncident, paramsFor, type Incident } from '../helpers/incident.js';
import { admitAll } from '../helpers/admission.js';
import { fixtureKeys } from '../helpers/genesis.js';
import { createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { loadSigningKey } from '../../src/gate/keys.js';
import { signHead } from '../../src/gate/signature.js';
import type { NewLogEvent } from '../../src/ledger/port.js';
import { appendForged, readRows, rewriteAndRehash } from './ledger-tools.js';
import { cloneLedger } from './clone.js';

const refused = (r: CliResult, code: number, pattern: RegExp): void => {
  assert.equal(r.code, code, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one sentence: ${r.stderr}`);
  assert.ok(!hasStackTrace(r.stderr));
};

const headEvent = (at: string, actor: string, detail: Record<string, unknown>): NewLogEvent => ({
  at,
  actor,
  event: 'head_signed',
  proposalId: null,
  dotId: null,
  actionCode: null,
  proposalHash: null,
  outcome: 'ok',
  detail,
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`signed history (${kind} ledger)`, () => {
    let inc: Incident;
    let ledgerDb: ScratchDb | null = null;
    let flags: string[];
    let id = '';
    const clones: (() => Promise<void>)[] = [];
    const ledger = (): string => flags[flags.indexOf('--ledger') + 1]!;
    /** The flags with the ledger replaced by a fresh copy of the team's, for an attack. */
    const onCopy = async (): Promise<{ spec: string; f: string[] }> => {
      const c = await cloneLedger(ledger());
      clones.push(c.drop);
      const f = [...flags];
      f[f.indexOf('--ledger') + 1] = c.spec;
      return { spec: c.spec, f };
    };
    const verify = (f: readonly string[]): CliResult => runCli([...f, 'log', 'verify'], { cwd: inc.dir });
    const apply = (f: readonly string[]): CliResult => runCli([...f, '--key', inc.operator2.key, 'apply', id], { cwd: inc.dir });

    before(async () => {
      inc = await createIncident(`sig_${kind}`);
      flags = [...inc.flags];
      if (kind === 'postgres') {
        ledgerDb = await createScratchDb('sig_ledger');
        flags[flags.indexOf('--ledger') + 1] = ledgerDb.url;
      }
      admitAll(flags, [inc.reviewer1, inc.reviewer2], inc.dir);
      const p = runCli([...flags, '--key', inc.operator.key, 'propose', 'A', 'D', ...(await paramsFor(inc, ['A', 'D'])), '--json'], { cwd: inc.dir });
      assert.equal(p.code, 0, p.stderr);
      id = (JSON.parse(p.stdout) as { id: string }).id;
      assert.equal(runCli([...flags, '--key', inc.reviewer1.key, 'approve', id], { cwd: inc.dir }).code, 0);
    });
    after(async () => {
      for (const c of clones) await c();
      await inc?.cleanup();
      await ledgerDb?.drop();
    });

    test('every row the commands wrote is covered by a head its actor signed', async () => {
      const rows = await readRows(ledger());
      const heads = rows.filter((r) => r.event === 'head_signed');
      assert.ok(heads.length >= 4, `genesis, two admissions, propose, approve: ${heads.length} heads`);
      for (const h of heads) {
        const covered = rows.find((r) => r.seq === (h.detail as { covers_seq: number }).covers_seq)!;
        assert.equal(covered.actor, h.actor, `the head at seq ${h.seq} is signed by the actor of the row it covers`);
      }
      const v = runCli([...flags, 'log', 'verify'], { cwd: inc.dir });
      assert.equal(v.code, 0, v.stderr);
      assert.match(
        v.stdout,
        new RegExp(`^dot_action_log intact: ${rows.length} rows, head [0-9a-f]{64}; signed through seq ${rows.length - 1} \\(${heads.length} signed heads\\), unsigned tail 0 rows\\n`),
      );
    });

    test('a row rewritten and every later hash recomputed without the keys: log verify and apply exit 7', async () => {
      const { spec, f } = await onCopy();
      const proposed = (await readRows(spec)).find((r) => r.event === 'proposed' && r.proposalId === id)!;
      await rewriteAndRehash(spec, proposed.seq, (r) => ({ ...r, detail: { ...r.detail, address: 'somewhere-else' } }));
      const firstHead = (await readRows(spec)).find((r) => r.event === 'head_signed' && (r.detail as { covers_seq: number }).covers_seq >= proposed.seq)!;
      refused(
        verify(f),
        7,
        new RegExp(
          `^dotctl: dot_action_log is broken at seq ${firstHead.seq}: the head olga signed at seq ${firstHead.seq} covers row ${proposed.seq} as .* rows up to ${proposed.seq} were rewritten and re-hashed`,
        ),
      );
      const v = JSON.parse(runCli([...f, 'log', 'verify', '--json'], { cwd: inc.dir }).stdout) as { reason: string; seq: number };
      assert.deepEqual([v.reason, v.seq], ['bad_head', firstHead.seq]);
      refused(apply(f), 7, new RegExp(`does not verify at seq ${firstHead.seq} .* dotctl will not apply on an unverifiable ledger`));
      refused(runCli([...f, '--key', inc.reviewer2.key, 'approve', id], { cwd: inc.dir }), 7, /dotctl will not approve on an unverifiable ledger/);
      // the chain alone verifies: what catches it is the signatures
      assert.equal((await import('../../src/ledger/chain.js')).verifyChain(await readRows(spec)).kind, 'intact');
    });

    test('the same with every later signed head removed: the rewritten rows are no longer signed, and verify says by whom', async () => {
      const { spec, f } = await onCopy();
      const proposed = (await readRows(spec)).find((r) => r.event === 'proposed' && r.proposalId === id)!;
      await rewriteAndRehash(
        spec,
        proposed.seq,
        (r) => ({ ...r, detail: { ...r.detail, address: 'somewhere-else' } }),
        (r) => r.event === 'head_signed',
      );
      const rows = await readRows(spec);
      // concurrent commands leave such a tail at any moment, so it is reported rather than refused;
      // what no longer holds is the signature of anything from the rewritten row on
      const v = verify(f);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, new RegExp(`unsigned tail ${rows.length - proposed.seq + 1} rows by olga, rita`));
      assert.ok(Number(/signed through seq (\d+)/.exec(v.stdout)?.[1]) < proposed.seq, v.stdout);
      // the approval the gate counts is rita's own signature over the proposal, not a row of the log
      const st = JSON.parse(runCli([...f, 'status', id, '--json'], { cwd: inc.dir }).stdout) as { gate: { approvers: string[] } };
      assert.deepEqual(st.gate.approvers, ['rita']);
    });

    test('a head forged for another member, or with a signature that does not verify, breaks the ledger (exit 7)', async () => {
      const { spec, f } = await onCopy();
      const rows = await readRows(spec);
      const last = rows.at(-1)!;
      // the insider signs with their own key and names rita
      const olga = await loadSigningKey(inc.operator.key);
      const claim = { ledgerId: rows[0]!.hash, seq: last.seq, hash: last.hash, actor: 'rita', at: last.at };
      const forged = await appendForged(spec, headEvent(last.at, 'rita', { covers_seq: last.seq, covers_hash: last.hash, key: olga.publicKey, signature: signHead(olga.privateKey, claim) }));
      refused(verify(f), 7, new RegExp(`broken at seq ${forged.seq}: the head at seq ${forged.seq} is signed by a key the identity registry did not hold for rita`));

      const second = await onCopy();
      const r2 = await readRows(second.spec);
      const l2 = r2.at(-1)!;
      const bad = await appendForged(
        second.spec,
        headEvent(l2.at, 'olga', { covers_seq: l2.seq, covers_hash: l2.hash, key: olga.publicKey, signature: signHead(olga.privateKey, { ...claim, actor: 'olga', seq: 1 }) }),
      );
      refused(verify(second.f), 7, new RegExp(`broken at seq ${bad.seq}: the signature of the head at seq ${bad.seq} by olga does not verify`));
    });

    test('a crash leaves an unsigned tail: reported, exit 0; the next command signs over it', async () => {
      const { spec, f } = await onCopy();
      const last = (await readRows(spec)).at(-1)!;
      await appendForged(spec, { ...headEvent(last.at, 'olga', { reason: 'a step of a command killed before it signed' }), event: 'refused', outcome: 'refused' });
      const v = verify(f);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /unsigned tail 1 rows by olga \(commands still running, or one that stopped before it signed; the next command's head covers them\)/);
      const w = runCli([...f, '--key', inc.operator.key, 'withdraw', id, '--reason', 'covering the tail'], { cwd: inc.dir });
      assert.equal(w.code, 0, w.stderr);
      assert.match(verify(f).stdout, /unsigned tail 0 rows/);
    });

    test('the legitimate ledger still verifies and the approved proposal applies', () => {
      assert.equal(verify(flags).code, 0);
      const r = apply(flags);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const v = verify(flags);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /unsigned tail 0 rows/);
    });
  });
}

describe('a ledger without a registry, and one of an earlier dotctl', () => {
  let inc: Incident;
  let tmp: string;
  before(async () => {
    inc = await createIncident('sig_legacy');
    tmp = await mkdtemp(join(tmpdir(), 'dotctl-legacy-'));
  });
  after(async () => {
    await inc?.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });
  const keys = (): string[] => fixtureKeys(inc.identities).flatMap((k) => ['--key', k]);

  test('no registry: every governed act is refused with the way out (exit 3)', () => {
    const l = join(tmp, 'empty.db');
    const r = runCli(['--dots', 'dots', '--ledger', l, '--identities', inc.identities, '--key', inc.reviewer1.key, 'admit', 'A']);
    refused(r, 3, /has no identity registry, so nobody may act on it; create one with dotctl ledger init --identities FILE --key KEY/);
  });

  test('ledger init refuses a second genesis (exit 2), a missing member (exit 3, naming who) and a stranger’s key (exit 2)', async () => {
    const l = join(tmp, 'init.db');
    const all = keys();
    refused(runCli(['--ledger', l, '--identities', inc.identities, ...all.slice(0, -2), 'ledger', 'init']), 3, /signed by every member, and ada did not sign: pass their keys with --key/);
    const stranger = join(tmp, 'k');
    assert.equal(runCli(['keygen', 'eve', '--dir', stranger]).code, 0);
    refused(runCli(['--ledger', l, '--identities', inc.identities, ...all, '--key', join(stranger, 'eve.key'), 'ledger', 'init']), 2, /eve\.key belongs to no member of/);
    // a fresh workspace's identities file lists no one yet
    const empty = join(tmp, 'empty.yaml');
    await writeFile(empty, 'identities: []\n');
    refused(runCli(['--ledger', l, '--identities', empty, '--key', join(stranger, 'eve.key'), 'ledger', 'init']), 2, /lists no identity; add every member's entry/);
    assert.equal(runCli(['--ledger', l, '--identities', inc.identities, ...all, 'ledger', 'init']).code, 0);
    refused(runCli(['--ledger', l, '--identities', inc.identities, ...all, 'ledger', 'init']), 2, /already has an identity registry \(seq 1\)/);
  });

  test('a ledger of an earlier dotctl is refused until upgraded; its history is then reported legacy, unsigned', async () => {
    const l = join(tmp, 'old.db');
    for (const i of [1, 2, 3]) {
      await appendForged(l, { ...headEvent(`2024-05-01T08:0${i}:00.000Z`, 'olga', { i }), event: 'proposed', proposalId: `P-20240501-00000${i}` });
    }
    const v0 = runCli(['--ledger', l, 'log', 'verify']);
    assert.equal(v0.code, 0, v0.stderr);
    assert.match(v0.stdout, /no identity registry: all 3 rows are legacy, unsigned \(dotctl ledger upgrade signs from then on\)/);
    refused(runCli(['--ledger', l, '--identities', inc.identities, ...keys(), 'ledger', 'init']), 2, /holds 3 rows of an earlier dotctl and no registry; run dotctl ledger upgrade/);
    const up = runCli(['--ledger', l, '--identities', inc.identities, ...keys(), 'ledger', 'upgrade']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /the 3 earlier row\(s\) are legacy, unsigned/);
    const v = runCli(['--ledger', l, 'log', 'verify', '--json']);
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual((({ legacy_rows, signed_through, unsigned_tail, registry }) => ({ legacy_rows, signed_through, unsigned_tail, registry }))(JSON.parse(v.stdout)), {
      legacy_rows: 3,
      signed_through: 5,
      unsigned_tail: 0,
      registry: true,
    });
    const adm = runCli(['--dots', 'dots', '--ledger', l, '--key', inc.reviewer1.key, 'admit', 'A']);
    assert.equal(adm.code, 0, adm.stderr);
  });
});
