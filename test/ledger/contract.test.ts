/**
 * The ledger contract: one suite, run over every adapter against the real thing (a SQLite file,
 * a scratch PostgreSQL database, the in-memory ledger). PostgreSQL being down fails these tests;
 * it never skips them. Where storage differs (schema versions, how append-only is enforced) the
 * suite says what each adapter must do instead.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GENESIS, hashRow, verifyChain } from '../../src/ledger/chain.js';
import type { LedgerStore, LogRow } from '../../src/ledger/port.js';
import { DotctlError, InputError, LedgerError } from '../../src/model/errors.js';
import { verifyLedger } from '../../src/ledger/states.js';
import { admission, allBackends, approval, appendN, at, downgradeSql, ev, legacyProposalSql, proposal, proposedEvent, type Backend, type RawAccess, type Site } from './helpers.js';

/** The port's methods; an adapter may have helpers of its own, but none that rewrites. */
const PORT_METHODS = [
  'appendEvent',
  'appendEvents',
  'readEvents',
  'iterateEvents',
  'putProposal',
  'getProposal',
  'listProposals',
  'listProposalSummaries',
  'countProposals',
  'addDecision',
  'listDecisions',
  'transitionProposal',
  'checkProposalStates',
  'close',
] as const satisfies readonly (keyof LedgerStore)[];

function ledgerContract(backend: Backend<RawAccess>): void {
  describe(`ledger contract: ${backend.name}`, () => {
    let site: Site<RawAccess>;
    let ledger: LedgerStore;

    before(async () => {
      site = await backend.fresh();
      ledger = await site.open();
    });
    after(async () => {
      await ledger?.close();
      await backend.cleanup();
    });

    test('a new ledger is empty and its chain is intact at the genesis hash', async () => {
      assert.deepEqual(await ledger.readEvents(), []);
      assert.deepEqual(await verifyChain(ledger.iterateEvents()), { kind: 'intact', rows: 0, headHash: GENESIS });
      if (site.raw.kind === 'sql') assert.deepEqual(await site.raw.versions(), [1, 2, 3, 4]);
    });

    test('appended events come back byte-for-byte, chained from genesis, and verify', async () => {
      const detail = {
        step: 'diff',
        sql: 'GRANT USAGE ON SCHEMA "sandbox_tac" TO directus; -- \'quoted\'',
        numbers: [0, -1, 1.5, 1e21, 2 ** 53, 5e-324, -2.5e-7],
        nested: { z: true, a: null, m: ['x', { y: 'ý — Đ32 ✓' }] },
        empty: {},
      };
      const a = await ledger.appendEvent(ev({ i: 1, actor: 'alice', detail }));
      const b = await ledger.appendEvent(ev({ i: 2, actor: 'bob', event: 'approved', proposalId: 'P-1', dotId: 'DOT-A', actionCode: 'CODE-A', proposalHash: 'h1', outcome: null }));
      assert.equal(a.seq, 1);
      assert.equal(a.prevHash, GENESIS);
      assert.equal(a.hash, hashRow(GENESIS, a));
      assert.equal(b.seq, 2);
      assert.equal(b.prevHash, a.hash);
      assert.deepEqual(a.detail, detail);
      assert.deepEqual(await ledger.readEvents(), [a, b]);
      const verdict = await verifyChain(ledger.iterateEvents());
      assert.deepEqual(verdict, { kind: 'intact', rows: 2, headHash: b.hash });
    });

    test('event times are stored as UTC ISO text, whatever zone they were given in', async () => {
      const row = await ledger.appendEvent(ev({ at: '2024-05-01T10:05:00+02:00', actor: 'zoned' }));
      assert.equal(row.at, '2024-05-01T08:05:00.000Z');
      assert.equal((await ledger.readEvents({ actor: 'zoned' }))[0]?.at, '2024-05-01T08:05:00.000Z');
    });

    test("time in the log never runs backwards: a row dated before the head is dated at the head's time and keeps the time it claimed", async () => {
      const head = await ledger.appendEvent(ev({ at: '2024-05-01T09:00:00Z', actor: 'ahead' }));
      const late = await ledger.appendEvent(ev({ at: '2024-05-01T07:00:00Z', actor: 'behind' }));
      assert.equal(late.at, head.at);
      assert.equal(late.detail.claimed_at, '2024-05-01T07:00:00.000Z');
      assert.equal((await verifyChain(ledger.iterateEvents())).kind, 'intact');
    });

    test('an event the ledger cannot store is refused with a LedgerError and nothing is written', async () => {
      const before = (await ledger.readEvents()).length;
      await assert.rejects(ledger.appendEvent(ev({ at: 'yesterday' })), (e: unknown) => {
        assert.ok(e instanceof LedgerError);
        assert.equal(e.code, 'LEDGER_BAD_EVENT');
        assert.match(e.message, /"yesterday" is not ISO-8601/);
        return true;
      });
      await assert.rejects(ledger.appendEvent(ev({ detail: { f: () => 1 } })), LedgerError);
      assert.equal((await ledger.readEvents()).length, before);
    });

    test('appendEvents writes its events in order, chained to the head, in one transaction: all or none', async () => {
      const head = (await ledger.readEvents()).at(-1);
      const rows = await ledger.appendEvents([ev({ i: 41, actor: 'batch-1' }), ev({ i: 42, actor: 'batch-2' }), ev({ i: 43, actor: 'batch-3' })]);
      assert.deepEqual(
        rows.map((r) => r.actor),
        ['batch-1', 'batch-2', 'batch-3'],
      );
      assert.equal(rows[0]?.seq, (head?.seq ?? 0) + 1);
      assert.equal(rows[0]?.prevHash, head?.hash ?? rows[0]?.prevHash);
      assert.equal(rows[1]?.prevHash, rows[0]?.hash);
      assert.equal(rows[2]?.prevHash, rows[1]?.hash);
      assert.deepEqual((await ledger.readEvents()).slice(-3), rows);
      // one bad event refuses the whole batch: its good neighbours are not written either
      const before = (await ledger.readEvents()).length;
      await assert.rejects(ledger.appendEvents([ev({ i: 44, actor: 'good' }), ev({ at: 'yesterday' })]), LedgerError);
      assert.equal((await ledger.readEvents()).length, before);
      assert.equal((await verifyLedger(ledger)).kind, 'intact');
    });

    test('filters select by proposal, DOT, actor, event and time; limit keeps the latest rows in seq order', async () => {
      const s = await backend.fresh();
      const l = await s.open();
      try {
        await l.appendEvent(ev({ i: 1, actor: 'alice', event: 'proposed', proposalId: 'P1', dotId: 'DOT-A' }));
        await l.appendEvent(ev({ i: 2, actor: 'bob', event: 'approved', proposalId: 'P1', dotId: 'DOT-A' }));
        await l.appendEvent(ev({ i: 3, actor: 'alice', event: 'proposed', proposalId: 'P2', dotId: 'DOT-B' }));
        await l.appendEvent(ev({ i: 4, actor: 'carol', event: 'applied', proposalId: 'P1', dotId: 'DOT-A' }));
        const seqs = async (f: Parameters<LedgerStore['readEvents']>[0]): Promise<number[]> => (await l.readEvents(f)).map((r) => r.seq);
        assert.deepEqual(await seqs({ proposalId: 'P1' }), [1, 2, 4]);
        assert.deepEqual(await seqs({ dotId: 'DOT-B' }), [3]);
        assert.deepEqual(await seqs({ actor: 'alice' }), [1, 3]);
        assert.deepEqual(await seqs({ event: 'approved' }), [2]);
        assert.deepEqual(await seqs({ since: at(3) }), [3, 4]);
        assert.deepEqual(await seqs({ since: '2024-05-01T10:03:00+02:00' }), [3, 4]);
        assert.deepEqual(await seqs({ limit: 2 }), [3, 4]);
        assert.deepEqual(await seqs({ proposalId: 'P1', limit: 2 }), [2, 4]);
        assert.deepEqual(await seqs({ proposalId: 'P1', actor: 'alice', since: at(1) }), [1]);
        assert.deepEqual(await seqs({ proposalId: 'nope' }), []);
        await assert.rejects(l.readEvents({ since: 'last week' }), InputError);
        await assert.rejects(l.readEvents({ limit: -1 }), InputError);
      } finally {
        await l.close();
      }
    });

    test('proposals are stored with their event, read back, listed by state; a duplicate id is refused', async () => {
      const p = proposal('P-store', { expiresAt: at(120), signature: 'c2ln', params: { schema: 'sandbox_tac', n: 7, on: true } });
      const logBefore = (await ledger.readEvents()).length;
      const row = await ledger.putProposal(p, proposedEvent(p));
      assert.equal(row.event, 'proposed');
      assert.equal(row.proposalId, p.id);
      assert.deepEqual(await ledger.getProposal(p.id), p);
      assert.equal(await ledger.getProposal('P-none'), null);
      assert.ok((await ledger.listProposals()).some((x) => x.id === p.id));
      assert.deepEqual(
        (await ledger.listProposals('proposed')).map((x) => x.id),
        [p.id],
      );
      assert.deepEqual(await ledger.listProposals('applied'), []);
      await assert.rejects(ledger.putProposal(p, proposedEvent(p)), (e: unknown) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, /already in the ledger/);
        return true;
      });
      assert.equal((await ledger.readEvents()).length, logBefore + 1);
    });

    test('proposal summaries: the latest page in recorded order without the frozen content, filtered by derived state; counts per state', async () => {
      const s = await backend.fresh();
      const l = await s.open();
      try {
        assert.deepEqual(await l.listProposalSummaries(), []);
        assert.deepEqual(await l.countProposals(), {});
        const ids = ['P-s1', 'P-s2', 'P-s3', 'P-s4', 'P-s5'];
        for (const [i, id] of ids.entries()) {
          const p = proposal(id, { content: { files: { 'DOT-A.yaml': 'x'.repeat(5000) }, hashes: {} }, createdAt: at(10 - i) });
          await l.putProposal(p, proposedEvent(p, i));
        }
        await l.transitionProposal('P-s2', ['proposed'], 'applying', ev({ i: 6, event: 'apply_started', proposalId: 'P-s2' }));
        await l.transitionProposal('P-s2', ['applying'], 'applied', ev({ i: 7, event: 'applied', proposalId: 'P-s2' }));
        await l.transitionProposal('P-s4', ['proposed'], 'withdrawn', ev({ i: 8, event: 'withdrawn', proposalId: 'P-s4' }));
        const all = await l.listProposalSummaries();
        // recorded order, not the proposers' clocks (created_at runs backwards here)
        assert.deepEqual(
          all.map((x) => [x.id, x.state]),
          [
            ['P-s1', 'proposed'],
            ['P-s2', 'applied'],
            ['P-s3', 'proposed'],
            ['P-s4', 'withdrawn'],
            ['P-s5', 'proposed'],
          ],
        );
        const full = proposal('P-s1', { createdAt: at(10) });
        assert.deepEqual(all[0], {
          id: full.id,
          dotIds: full.dotIds,
          state: 'proposed',
          hash: full.hash,
          targetFingerprint: full.targetFingerprint,
          createdBy: full.createdBy,
          createdAt: full.createdAt,
          expiresAt: null,
        });
        assert.deepEqual(
          (await l.listProposalSummaries({ limit: 2 })).map((x) => x.id),
          ['P-s4', 'P-s5'],
        );
        assert.deepEqual(await l.listProposalSummaries({ limit: 0 }), []);
        assert.deepEqual(
          (await l.listProposalSummaries({ state: 'proposed', limit: 2 })).map((x) => x.id),
          ['P-s3', 'P-s5'],
        );
        assert.deepEqual(
          (await l.listProposalSummaries({ state: 'applied' })).map((x) => x.id),
          ['P-s2'],
        );
        assert.deepEqual(await l.listProposalSummaries({ state: 'failed' }), []);
        assert.deepEqual(await l.countProposals(), { proposed: 3, applied: 1, withdrawn: 1 });
      } finally {
        await l.close();
      }
    });

    test('a proposal keeps its frozen content byte-for-byte; one without it reads back null', async () => {
      const content = {
        files: { 'DOT-A.yaml': 'id: DOT-A\n# ý — Đ32 ✓\n', 'DOT-A.fix.diff': '--- a\n+++ b\n', 'laws.yaml': 'laws: []\n' },
        hashes: { 'DOT-A': 'c0ffee' },
      };
      const p = proposal('P-frozen', { dotIds: ['DOT-A'], content });
      await ledger.putProposal(p, proposedEvent(p));
      assert.deepEqual((await ledger.getProposal(p.id))?.content, content);
      const bare = proposal('P-unfrozen');
      await ledger.putProposal(bare, proposedEvent(bare));
      assert.equal((await ledger.getProposal(bare.id))?.content, null);
    });

    test('admissions are stored with their admitted event, listed per DOT in order', async () => {
      const s = await backend.fresh();
      const l = await s.open();
      try {
        const a1 = admission('DOT-A', 'rita', { comment: 'read every line' });
        const a2 = admission('DOT-A', 'raj', { at: at(8) });
        const b1 = admission('DOT-B', 'rita', { version: 3, contentHash: 'other', fileHashes: { 'DOT-B.yaml': 'cc' } });
        const row = await l.addAdmission(a1, ev({ i: 7, actor: 'rita', event: 'admitted', dotId: 'DOT-A' }));
        assert.equal(row.event, 'admitted');
        await l.addAdmission(a2, ev({ i: 8, actor: 'raj', event: 'admitted', dotId: 'DOT-A' }));
        await l.addAdmission(b1, ev({ i: 9, actor: 'rita', event: 'admitted', dotId: 'DOT-B' }));
        assert.deepEqual(await l.listAdmissions('DOT-A'), [a1, a2]);
        assert.deepEqual(await l.listAdmissions(), [a1, a2, b1]);
        assert.deepEqual(await l.listAdmissions('DOT-none'), []);
        assert.deepEqual(
          (await l.readEvents({ event: 'admitted' })).map((e) => e.actor),
          ['rita', 'raj', 'rita'],
        );
        // atomic with its event
        await assert.rejects(l.addAdmission(admission('DOT-C', 'rita'), ev({ at: 'not a time', event: 'admitted' })), LedgerError);
        assert.deepEqual(await l.listAdmissions('DOT-C'), []);
      } finally {
        await l.close();
      }
    });

    test('a proposal whose event cannot be written is not stored either', async () => {
      const p = proposal('P-atomic');
      await assert.rejects(ledger.putProposal(p, ev({ at: 'not a time', proposalId: p.id })), LedgerError);
      assert.equal(await ledger.getProposal(p.id), null);
    });

    test('decisions are stored with their event in order; a decision on an unknown proposal is refused', async () => {
      const p = proposal('P-decide');
      await ledger.putProposal(p, proposedEvent(p));
      const d1 = approval(p, 'bob', { comment: 'looks right' });
      const d2 = approval(p, 'carol', { kind: 'reject', comment: 'wrong schema', expiresAt: null, at: at(6) });
      const r1 = await ledger.addDecision(d1, ev({ i: 5, actor: 'bob', event: 'approved', proposalId: p.id }));
      await ledger.addDecision(d2, ev({ i: 6, actor: 'carol', event: 'rejected', proposalId: p.id }));
      assert.equal(r1.event, 'approved');
      assert.deepEqual(await ledger.listDecisions(p.id), [d1, d2]);
      assert.deepEqual(await ledger.listDecisions('P-none'), []);
      const logBefore = (await ledger.readEvents()).length;
      await assert.rejects(
        ledger.addDecision(approval(proposal('P-ghost'), 'bob'), ev({ event: 'approved', proposalId: 'P-ghost' })),
        (e: unknown) => e instanceof InputError && /unknown proposal "P-ghost"/.test(e.message),
      );
      assert.equal((await ledger.readEvents()).length, logBefore);
    });

    test('transition is a compare-and-set: wrong state gives null and writes nothing', async () => {
      const p = proposal('P-cas');
      await ledger.putProposal(p, proposedEvent(p));
      const logBefore = (await ledger.readEvents()).length;
      assert.equal(await ledger.transitionProposal(p.id, ['applying'], 'applied', ev({ event: 'applied', proposalId: p.id })), null);
      assert.equal((await ledger.getProposal(p.id))?.state, 'proposed');
      assert.equal((await ledger.readEvents()).length, logBefore);
      const row = await ledger.transitionProposal(p.id, ['proposed'], 'applying', ev({ event: 'apply_started', proposalId: p.id }));
      assert.equal(row?.event, 'apply_started');
      assert.equal((await ledger.getProposal(p.id))?.state, 'applying');
      await assert.rejects(
        ledger.transitionProposal('P-none', ['proposed'], 'applying', ev({ event: 'apply_started' })),
        (e: unknown) => e instanceof InputError && /unknown proposal/.test(e.message),
      );
    });

    test('two concurrent transitions from the same state: exactly one wins, one event is written', async () => {
      const p = proposal('P-race');
      await ledger.putProposal(p, proposedEvent(p));
      const other = await site.open(); // a second connection, as a second process would have
      try {
        const logBefore = (await ledger.readEvents()).length;
        const results = await Promise.all([
          ledger.transitionProposal(p.id, ['proposed'], 'applying', ev({ actor: 'op-1', event: 'apply_started', proposalId: p.id })),
          other.transitionProposal(p.id, ['proposed'], 'applying', ev({ actor: 'op-2', event: 'apply_started', proposalId: p.id })),
          ledger.transitionProposal(p.id, ['proposed'], 'applying', ev({ actor: 'op-3', event: 'apply_started', proposalId: p.id })),
        ]);
        const winners = results.filter((r): r is LogRow => r !== null);
        assert.equal(winners.length, 1, `exactly one transition must win, got ${winners.length}`);
        const events = await ledger.readEvents({ proposalId: p.id, event: 'apply_started' });
        assert.deepEqual(
          events.map((e) => e.actor),
          [winners[0]?.actor],
        );
        assert.equal((await ledger.readEvents()).length, logBefore + 1);
        assert.equal((await other.getProposal(p.id))?.state, 'applying');
      } finally {
        await other.close();
      }
    });

    test('a failed append throws and takes the record written with it back', async () => {
      const s = await backend.fresh();
      const l = await s.open();
      try {
        const p = proposal('P-blocked');
        await l.putProposal(p, proposedEvent(p));
        await s.raw.blockAppends();
        await assert.rejects(l.appendEvent(ev({ i: 9 })), (e: unknown) => {
          assert.ok(e instanceof LedgerError, `expected LedgerError, got ${String(e)}`);
          assert.equal(e.exitCode, 7);
          assert.match(e.message, /^cannot write the ledger .+ \(.+\); /);
          return true;
        });
        const cas = l.transitionProposal(p.id, ['proposed'], 'applying', ev({ event: 'apply_started', proposalId: p.id }));
        await assert.rejects(cas, LedgerError);
        assert.equal((await l.getProposal(p.id))?.state, 'proposed', 'the state change must roll back with its event');
        await assert.rejects(l.addDecision(approval(p, 'bob'), ev({ event: 'approved', proposalId: p.id })), LedgerError);
        assert.deepEqual(await l.listDecisions(p.id), []);
        assert.equal((await l.readEvents()).length, 1);
      } finally {
        await l.close();
      }
    });

    test('the action log refuses UPDATE and DELETE, whoever asks', async () => {
      const before = await ledger.readEvents();
      const raw = site.raw;
      if (raw.kind === 'sql') {
        await assert.rejects(raw.run(`UPDATE ${raw.logTable} SET actor = 'mallory' WHERE seq = 1`), /append-only: UPDATE refused/);
        await assert.rejects(raw.run(`DELETE FROM ${raw.logTable} WHERE seq = 1`), /append-only: DELETE refused/);
        if (backend.name === 'postgres') {
          await assert.rejects(raw.run(`TRUNCATE ${raw.logTable}`), /append-only: TRUNCATE refused/);
        }
        await assert.rejects(raw.run(`UPDATE ${raw.decisionsTable} SET actor = 'mallory'`), /append-only: UPDATE refused/);
        await assert.rejects(raw.run(`DELETE FROM ${raw.decisionsTable}`), /append-only: DELETE refused/);
      } else {
        // No storage to reach around: what a caller holds is all it could rewrite, and it cannot.
        const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(ledger)).filter((m) => m !== 'constructor' && typeof (ledger as unknown as Record<string, unknown>)[m] === 'function');
        for (const m of PORT_METHODS) assert.ok(methods.includes(m), `${m} missing`);
        const rewriting = methods.filter((m) => !(PORT_METHODS as readonly string[]).includes(m) && /update|delete|remove|truncate|edit|replace|set/i.test(m));
        assert.deepEqual(rewriting, [], 'the in-memory ledger offers no way to rewrite what it holds');
        const row = (await ledger.readEvents())[0]!;
        assert.throws(() => ((row as { actor: string }).actor = 'mallory'), TypeError);
        assert.throws(() => ((row.detail as Record<string, unknown>).step = 'forged'), TypeError);
        const rows = (await ledger.readEvents()) as LogRow[];
        rows.splice(0, 1);
        const p = (await ledger.listProposals())[0]!;
        assert.throws(() => ((p as { state: string }).state = 'applied'), TypeError);
        const d = (await ledger.listDecisions('P-decide'))[0]!;
        assert.throws(() => ((d as { actor: string }).actor = 'mallory'), TypeError);
        assert.equal((await ledger.listProposals())[0]?.state, p.state);
      }
      // dated with the last row, so the log's time does not run backwards
      const lastAt = (await ledger.readEvents()).at(-1)?.at ?? at(0);
      await ledger.addAdmission(admission('DOT-T', 'rita'), ev({ event: 'admitted', dotId: 'DOT-T', at: lastAt }));
      if (raw.kind === 'sql') {
        await assert.rejects(raw.run(`UPDATE ${raw.admissionsTable} SET content_hash = 'forged'`), /append-only: UPDATE refused/);
        await assert.rejects(raw.run(`DELETE FROM ${raw.admissionsTable}`), /append-only: DELETE refused/);
        if (backend.name === 'postgres') {
          await assert.rejects(raw.run(`TRUNCATE ${raw.admissionsTable}`), /append-only: TRUNCATE refused/);
        }
      } else {
        const a = (await ledger.listAdmissions('DOT-T'))[0]!;
        assert.throws(() => ((a as { contentHash: string }).contentHash = 'forged'), TypeError);
      }
      assert.equal((await ledger.listAdmissions('DOT-T'))[0]?.contentHash, 'content-of-DOT-T');
      assert.equal((await ledger.readEvents())[0]?.actor, 'alice');
      // every row is as it was (the chain's own checks, time order included, are chain.test.ts's)
      assert.deepEqual((await ledger.readEvents()).slice(0, before.length), before);
    });

    test('migrations are idempotent: reopening keeps each version once and the data intact', async () => {
      const rows = await ledger.readEvents();
      for (let k = 0; k < 2; k += 1) {
        const again = await site.open();
        assert.deepEqual(await again.readEvents(), rows);
        await again.close();
      }
      const reader = await site.open({ mode: 'read' });
      assert.deepEqual(await reader.readEvents(), rows);
      await reader.close();
      if (site.raw.kind === 'sql') assert.deepEqual(await site.raw.versions(), [1, 2, 3, 4]); // memory has no schema to migrate
    });

    // a case of stored schemas only: the in-memory ledger has no schema to migrate, so it has no such case
    const forStoredSchemas = (name: string, fn: () => Promise<void>): void => {
      if (backend.name !== 'memory') test(name, fn);
    };
    forStoredSchemas('a version-1 ledger gains dot_admissions, the proposals content column and the state index when opened for writing', async () => {
      const s = (await backend.fresh()) as Site;
      const l = await s.open();
      const old = proposal('P-v1');
      await l.appendEvent(proposedEvent(old));
      await l.close();
      await s.raw.tamper(`${downgradeSql(backend.name, 1)}; ${legacyProposalSql(backend.name, old, 1)}`);
      assert.deepEqual(await s.raw.versions(), [1]);
      const migrated = await s.open();
      try {
        assert.deepEqual(await s.raw.versions(), [1, 2, 3, 4]);
        assert.deepEqual(await migrated.getProposal(old.id), old);
        await migrated.addAdmission(admission('DOT-A', 'rita'), ev({ event: 'admitted', dotId: 'DOT-A' }));
        assert.equal((await migrated.listAdmissions()).length, 1);
        assert.equal((await verifyLedger(migrated)).kind, 'intact');
      } finally {
        await migrated.close();
      }
    });

    forStoredSchemas('a version-2 ledger upgrades on open for writing: its proposals keep their stored state (the legacy limit), later changes are derived from the chain', async () => {
      const s = (await backend.fresh()) as Site;
      const l = await s.open();
      const done = proposal('P-legacy-applied', { state: 'applied' });
      const open = proposal('P-legacy-open');
      await l.appendEvent(proposedEvent(done, 0));
      await l.appendEvent(proposedEvent(open, 1));
      await l.appendEvent(ev({ i: 2, event: 'applied', proposalId: done.id }));
      await l.close();
      await s.raw.tamper(`${downgradeSql(backend.name, 2)}; ${legacyProposalSql(backend.name, done, 2)}; ${legacyProposalSql(backend.name, open, 2)}`);
      assert.deepEqual(await s.raw.versions(), [1, 2]);
      const migrated = await s.open();
      try {
        assert.deepEqual(await s.raw.versions(), [1, 2, 3, 4]);
        assert.equal((await migrated.getProposal(done.id))?.state, 'applied');
        assert.deepEqual(
          (await migrated.listProposals('proposed')).map((p) => p.id),
          [open.id],
        );
        assert.equal((await verifyLedger(migrated)).kind, 'intact');
        const moved = await migrated.transitionProposal(open.id, ['proposed'], 'applying', ev({ i: 3, event: 'apply_started', proposalId: open.id }));
        assert.deepEqual([moved?.detail.proposal_state, moved?.detail.prev_state_seq], ['applying', null]);
        assert.equal((await migrated.getProposal(open.id))?.state, 'applying');
        assert.deepEqual(
          (await migrated.listProposals('applying')).map((p) => p.id),
          [open.id],
        );
        // summaries and counts: the legacy proposal by its stored state, listed before the indexed one
        assert.deepEqual(
          (await migrated.listProposalSummaries()).map((p) => [p.id, p.state]),
          [
            [done.id, 'applied'],
            [open.id, 'applying'],
          ],
        );
        assert.deepEqual(
          (await migrated.listProposalSummaries({ limit: 1 })).map((p) => p.id),
          [open.id],
        );
        assert.deepEqual(
          (await migrated.listProposalSummaries({ state: 'applied', limit: 5 })).map((p) => p.id),
          [done.id],
        );
        assert.deepEqual(await migrated.countProposals(), { applying: 1, applied: 1 });
        assert.equal((await verifyLedger(migrated)).kind, 'intact');
        // the upgraded ledger refuses what a current one refuses
        await assert.rejects(s.raw.run(`UPDATE ${s.raw.logTable.replace('dot_action_log', 'dot_proposals')} SET state = 'proposed'`), /append-only: UPDATE refused/);
      } finally {
        await migrated.close();
      }
    });

    test('opening a ledger that does not exist for reading says so and creates nothing', async () => {
      const s = await backend.fresh();
      await assert.rejects(s.open({ mode: 'read' }), (e: unknown) => {
        assert.ok(e instanceof InputError);
        assert.equal(e.code, 'LEDGER_MISSING');
        assert.match(e.message, /^no ledger at .+ yet/);
        return true;
      });
      assert.equal(await s.raw.exists(), false);
    });

    test('iterateEvents streams every row in seq order across batch boundaries', async () => {
      const s = await backend.fresh();
      const l = await s.openBatched(7);
      try {
        await appendN(l, 28); // 4 full batches, then an empty one
        let expected = 1;
        for await (const r of l.iterateEvents()) {
          assert.equal(r.seq, expected);
          expected += 1;
        }
        assert.equal(expected, 29);
        await l.appendEvent(ev({ i: 29 }));
        assert.equal((await verifyChain(l.iterateEvents())).rows, 29);
      } finally {
        await l.close();
      }
    });

    test('every failure is a DotctlError with an exit code, never a bare driver error', async () => {
      const l = await site.open();
      await l.close();
      await assert.rejects(l.readEvents(), (e: unknown) => e instanceof DotctlError && e.exitCode === 7);
    });
  });
}

for (const backend of allBackends()) ledgerContract(backend);
