/**
 * Proposal states derived from the chain (src/ledger/states.ts), over every adapter: each state
 * change is a chained event that records the new state, the state index agrees with it, and no
 * table can be rewritten through SQL with the triggers in force. Around the adapter (file access
 * for SQLite, superuser for PostgreSQL) a forged state — index or column — is refused when the
 * proposal is read (exit 7) and named by `verifyLedger`, what `dotctl log verify` runs.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LedgerError } from '../../src/model/errors.js';
import { verifyLedger } from '../../src/ledger/states.js';
import type { LedgerStore, ProposalRecord } from '../../src/ledger/port.js';
import { allBackends, ev, lit, proposal, proposedEvent, type Backend, type RawAccess, type Site } from './helpers.js';

/** A proposal taken proposed → applying → applied on a fresh ledger; returns it and the site. */
async function appliedOn(backend: Backend<RawAccess>, id: string): Promise<{ site: Site<RawAccess>; p: ProposalRecord; other: ProposalRecord }> {
  const site = await backend.fresh();
  const l = await site.open();
  try {
    const p = proposal(id);
    const other = proposal(`${id}-other`);
    await l.putProposal(p, proposedEvent(p, 0));
    await l.putProposal(other, proposedEvent(other, 1));
    assert.ok(await l.transitionProposal(p.id, ['proposed'], 'applying', ev({ i: 2, event: 'apply_started', proposalId: p.id })));
    await l.appendEvent(ev({ i: 3, event: 'step_passed', proposalId: p.id, detail: { step: 1 } }));
    assert.ok(await l.transitionProposal(p.id, ['applying'], 'applied', ev({ i: 4, event: 'applied', proposalId: p.id })));
    return { site, p, other };
  } finally {
    await l.close();
  }
}

async function withOpen<T>(site: Site<RawAccess>, fn: (l: LedgerStore) => Promise<T>): Promise<T> {
  const l = await site.open();
  try {
    return await fn(l);
  } finally {
    await l.close();
  }
}

function statesSuite(backend: Backend<RawAccess>): void {
  describe(`derived proposal states: ${backend.name}`, () => {
    after(() => backend.cleanup());

    test('each state change is a chained event recording the state; the state is derived from them and verifies', async () => {
      const { site, p, other } = await appliedOn(backend, 'P-derive');
      await withOpen(site, async (l) => {
        const rows = await l.readEvents({ proposalId: p.id });
        assert.deepEqual(
          rows.map((r) => [r.event, r.detail.proposal_state ?? '-', r.detail.prev_state_seq === undefined ? '-' : r.detail.prev_state_seq]),
          [
            ['proposed', 'proposed', null],
            ['apply_started', 'applying', 1],
            ['step_passed', '-', '-'],
            ['applied', 'applied', 3],
          ],
        );
        assert.equal((await l.getProposal(p.id))?.state, 'applied');
        assert.deepEqual(
          (await l.listProposals('applied')).map((x) => x.id),
          [p.id],
        );
        assert.deepEqual(
          (await l.listProposals('proposed')).map((x) => x.id),
          [other.id],
        );
        assert.deepEqual(
          (await l.listProposals()).map((x) => [x.id, x.state]),
          [
            [p.id, 'applied'],
            [other.id, 'proposed'],
          ],
        );
        assert.deepEqual(await verifyLedger(l), { kind: 'intact', rows: 5, headHash: rows.at(-1)?.hash });
        // an applied proposal does not go back: the compare-and-set reads the derived state
        assert.equal(await l.transitionProposal(p.id, ['proposed'], 'applying', ev({ i: 5, event: 'apply_started', proposalId: p.id })), null);
      });
    });

    test("an event that writes the ledger's own state keys, or changes another proposal's state, is refused and writes nothing", async () => {
      const { site, p, other } = await appliedOn(backend, 'P-keys');
      await withOpen(site, async (l) => {
        const before = (await l.readEvents()).length;
        await assert.rejects(
          l.appendEvent(ev({ i: 6, proposalId: p.id, detail: { proposal_state: 'proposed' } })),
          (e: unknown) => e instanceof LedgerError && /written by the ledger itself/.test(e.message),
        );
        await assert.rejects(l.appendEvent(ev({ i: 6, detail: { prev_state_seq: 1 } })), LedgerError);
        await assert.rejects(
          l.transitionProposal(other.id, ['proposed'], 'withdrawn', ev({ i: 6, event: 'withdrawn', proposalId: p.id })),
          (e: unknown) => e instanceof LedgerError && /with an event of/.test(e.message),
        );
        assert.equal((await l.readEvents()).length, before);
        assert.equal((await l.getProposal(other.id))?.state, 'proposed');
      });
    });

    if (backend.name === 'memory') return;

    test('every table refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) with the triggers in force', async () => {
      const { site, p } = await appliedOn(backend, 'P-locked');
      const raw = site.raw as Extract<RawAccess, { kind: 'sql' }>;
      const prefix = raw.logTable.replace('dot_action_log', '');
      // dot_decisions and dot_admissions: the contract suite
      const tables: [string, string][] = [
        ['dot_proposals', "state = 'proposed'"],
        ['dot_proposal_states', "state = 'proposed'"],
        ['dot_action_log', 'actor = actor'],
        [prefix === '' ? 'dotctl_schema_version' : 'schema_version', 'version = version'],
      ];
      for (const [t, set] of tables) {
        await assert.rejects(raw.run(`UPDATE ${prefix}${t} SET ${set}`), /append-only: UPDATE refused/, t);
        await assert.rejects(raw.run(`DELETE FROM ${prefix}${t}`), /append-only: DELETE refused/, t);
        if (backend.name === 'postgres') await assert.rejects(raw.run(`TRUNCATE ${prefix}${t} CASCADE`), /append-only: TRUNCATE refused/, t);
      }
      await withOpen(site, async (l) => {
        assert.equal((await l.getProposal(p.id))?.state, 'applied');
        assert.equal((await verifyLedger(l)).kind, 'intact');
      });
    });

    // Around the triggers: each forgery must be refused on read and named by verify.
    const S = (site: Site<RawAccess>): string => (site.raw as { logTable: string }).logTable.replace('dot_action_log', 'dot_proposal_states');
    const P = (site: Site<RawAccess>): string => (site.raw as { logTable: string }).logTable.replace('dot_action_log', 'dot_proposals');
    const forgeries: { name: string; sql: (site: Site<RawAccess>, id: string) => string; seq: number }[] = [
      { name: 'the latest index row put back to proposed', sql: (s, id) => `UPDATE ${S(s)} SET state = 'proposed' WHERE proposal_id = ${lit(id)} AND seq = 5`, seq: 5 },
      { name: 'the index rows after proposed deleted', sql: (s, id) => `DELETE FROM ${S(s)} WHERE proposal_id = ${lit(id)} AND seq > 1`, seq: 3 },
      { name: 'the latest index row deleted', sql: (s, id) => `DELETE FROM ${S(s)} WHERE proposal_id = ${lit(id)} AND seq = 5`, seq: 5 },
      { name: 'a middle index row deleted', sql: (s, id) => `DELETE FROM ${S(s)} WHERE proposal_id = ${lit(id)} AND seq = 3`, seq: 3 },
      { name: 'every index row deleted (the proposal made to look legacy)', sql: (s, id) => `DELETE FROM ${S(s)} WHERE proposal_id = ${lit(id)}`, seq: 1 },
      {
        name: 'a forged index row pointing at a later row of the log',
        sql: (s, id) => `INSERT INTO ${S(s)} (seq, proposal_id, state, prev_seq) VALUES (4, ${lit(id)}, 'proposed', 5)`,
        seq: 4,
      },
      {
        name: 'a forged index row beyond the head of the log, back to proposed',
        sql: (s, id) => `INSERT INTO ${S(s)} (seq, proposal_id, state, prev_seq) VALUES (99, ${lit(id)}, 'proposed', 5)`,
        seq: 99,
      },
      { name: 'the state column changed', sql: (s, id) => `UPDATE ${P(s)} SET state = 'applied' WHERE id = ${lit(id)}`, seq: 1 },
    ];
    for (const f of forgeries) {
      test(`forged state, ${f.name}: reading the proposal is refused (exit 7) and verify names it`, async () => {
        const { site, p } = await appliedOn(backend, `P-forge-${forgeries.indexOf(f)}`);
        // the column case forges the other proposal (still proposed); the index cases the applied one
        const id = /column/.test(f.name) ? `${p.id}-other` : p.id;
        await (site.raw as { tamper(sql: string): Promise<void> }).tamper(f.sql(site, id));
        await withOpen(site, async (l) => {
          await assert.rejects(l.getProposal(id), (e: unknown) => {
            assert.ok(e instanceof LedgerError, String(e));
            assert.equal(e.exitCode, 7);
            assert.equal(e.code, 'LEDGER_STATE_FORGED');
            assert.match(e.message, new RegExp(`proposal ${id} disagrees with the action log`));
            return true;
          });
          await assert.rejects(l.transitionProposal(id, ['proposed'], 'applying', ev({ i: 9, event: 'apply_started', proposalId: id })), LedgerError);
          // a list that shows it judges it too
          await assert.rejects(l.listProposalSummaries(), (e: unknown) => e instanceof LedgerError && e.exitCode === 7 && e.code === 'LEDGER_STATE_FORGED');
          const v = await verifyLedger(l);
          assert.equal(v.kind, 'broken', JSON.stringify(v));
          if (v.kind !== 'broken') return;
          assert.deepEqual([v.reason, v.proposalId, v.seq], ['forged_state', id, /column/.test(f.name) ? 2 : f.seq], v.message);
          assert.match(v.message, new RegExp(`proposal ${id}\\b`));
        });
      });
    }
  });
}

for (const backend of allBackends()) statesSuite(backend);
