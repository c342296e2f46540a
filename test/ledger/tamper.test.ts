/**
 * Tampering with a stored ledger around the adapter, the append-only triggers bypassed the way
 * someone with file access (SQLite) or superuser rights (PostgreSQL) could: verify must name the
 * right row every time, on both adapters.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hashRow, verifyChain } from '../../src/ledger/chain.js';
import type { ChainVerdict, LedgerStore, LogRow } from '../../src/ledger/port.js';
import { sqlBackends, appendN, lit, type Backend, type Site } from './helpers.js';

const N = 6;

/** A fresh ledger with N chained rows; returns the site and the rows as written. */
async function seeded(backend: Backend): Promise<{ site: Site; rows: LogRow[] }> {
  const site = await backend.fresh();
  const l = await site.open();
  try {
    await appendN(l, N);
    return { site, rows: [...(await l.readEvents())] };
  } finally {
    await l.close();
  }
}

async function verifySite(site: Site): Promise<ChainVerdict> {
  const l: LedgerStore = await site.open({ mode: 'read' });
  try {
    return await verifyChain(l.iterateEvents());
  } finally {
    await l.close();
  }
}

function expectBroken(v: ChainVerdict, seq: number, reason: string): void {
  assert.equal(v.kind, 'broken', `tampering went unnoticed: ${JSON.stringify(v)}`);
  if (v.kind !== 'broken') return;
  assert.deepEqual({ seq: v.seq, reason: v.reason }, { seq, reason }, v.message);
  assert.match(v.message, new RegExp(`\\brows? ${seq}\\b`));
}

function insertSql(table: string, r: LogRow): string {
  const values = [r.seq, r.at, r.actor, r.event, r.proposalId, r.dotId, r.actionCode, r.proposalHash, r.outcome, JSON.stringify(r.detail), r.prevHash, r.hash].map(lit).join(', ');
  return `INSERT INTO ${table} (seq, at, actor, event, proposal_id, dot_id, action_code, proposal_hash, outcome, detail, prev_hash, hash)
          VALUES (${values})`;
}

function byseq(rows: LogRow[], seq: number): LogRow {
  const r = rows.find((x) => x.seq === seq);
  assert.ok(r);
  return r;
}

function tamperSuite(backend: Backend): void {
  describe(`tampering detected: ${backend.name}`, () => {
    after(() => backend.cleanup());

    test('an intact seeded ledger verifies (the baseline the others break)', async () => {
      const { site, rows } = await seeded(backend);
      assert.deepEqual(await verifySite(site), { kind: 'intact', rows: N, headHash: byseq(rows, N).hash });
    });

    test('editing one field of a row is a hash mismatch at that row', async () => {
      const { site } = await seeded(backend);
      await site.raw.tamper(`UPDATE ${site.raw.logTable} SET actor = 'mallory' WHERE seq = 3`);
      expectBroken(await verifySite(site), 3, 'hash_mismatch');
    });

    test('editing the detail JSON of a row is a hash mismatch at that row', async () => {
      const { site } = await seeded(backend);
      await site.raw.tamper(`UPDATE ${site.raw.logTable} SET detail = '{"i":4,"note":"nothing happened"}' WHERE seq = 4`);
      expectBroken(await verifySite(site), 4, 'hash_mismatch');
    });

    test('a detail that is not JSON any more is a hash mismatch, not a crash', async () => {
      const { site } = await seeded(backend);
      await site.raw.tamper(`UPDATE ${site.raw.logTable} SET detail = 'garbage{' WHERE seq = 2`);
      expectBroken(await verifySite(site), 2, 'hash_mismatch');
    });

    test('deleting a middle row is a seq gap at the missing seq', async () => {
      const { site } = await seeded(backend);
      await site.raw.tamper(`DELETE FROM ${site.raw.logTable} WHERE seq = 3`);
      expectBroken(await verifySite(site), 3, 'seq_gap');
    });

    test('deleting the last row is NOT detectable by the chain alone (documented): it verifies one row shorter', async () => {
      const { site, rows } = await seeded(backend);
      await site.raw.tamper(`DELETE FROM ${site.raw.logTable} WHERE seq = ${N}`);
      assert.deepEqual(await verifySite(site), { kind: 'intact', rows: N - 1, headHash: byseq(rows, N - 1).hash });
    });

    test('a forged row appended with a correct own hash but a wrong link is a broken link at it', async () => {
      const { site, rows } = await seeded(backend);
      const fields = { ...byseq(rows, N), seq: N + 1, actor: 'mallory', detail: { forged: true } };
      const prevHash = byseq(rows, N - 1).hash;
      await site.raw.tamper(insertSql(site.raw.logTable, { ...fields, prevHash, hash: hashRow(prevHash, fields) }));
      expectBroken(await verifySite(site), N + 1, 'broken_link');
    });

    test('a forged row inserted in the middle (later rows renumbered) is a broken link at it', async () => {
      const { site, rows } = await seeded(backend);
      const t = site.raw.logTable;
      const fields = { ...byseq(rows, 3), seq: 4, actor: 'mallory', detail: { forged: true } };
      const prevHash = byseq(rows, 2).hash; // a plausible but wrong link: row 3's hash is what row 4 must carry
      await site.raw.tamper(`UPDATE ${t} SET seq = seq + 1000000 WHERE seq >= 4;
        UPDATE ${t} SET seq = seq - 999999 WHERE seq >= 1000000;
        ${insertSql(t, { ...fields, prevHash, hash: hashRow(prevHash, fields) })}`);
      expectBroken(await verifySite(site), 4, 'broken_link');
    });

    test('a forged row that links correctly is caught at the row after it', async () => {
      const { site, rows } = await seeded(backend);
      const t = site.raw.logTable;
      const fields = { ...byseq(rows, 3), seq: 4, actor: 'mallory', detail: { forged: true } };
      const prevHash = byseq(rows, 3).hash;
      await site.raw.tamper(`UPDATE ${t} SET seq = seq + 1000000 WHERE seq >= 4;
        UPDATE ${t} SET seq = seq - 999999 WHERE seq >= 1000000;
        ${insertSql(t, { ...fields, prevHash, hash: hashRow(prevHash, fields) })}`);
      expectBroken(await verifySite(site), 5, 'broken_link');
    });

    test('swapping two rows is a broken link at the first of them', async () => {
      const { site } = await seeded(backend);
      const t = site.raw.logTable;
      await site.raw.tamper(`UPDATE ${t} SET seq = 1000000 WHERE seq = 3;
        UPDATE ${t} SET seq = 3 WHERE seq = 4;
        UPDATE ${t} SET seq = 4 WHERE seq = 1000000`);
      expectBroken(await verifySite(site), 3, 'broken_link');
    });

    test('a row rewritten with its hash recomputed is caught at the next row', async () => {
      const { site, rows } = await seeded(backend);
      const fields = { ...byseq(rows, 2), outcome: 'failed' };
      await site.raw.tamper(`UPDATE ${site.raw.logTable} SET outcome = 'failed', hash = ${lit(hashRow(fields.prevHash, fields))} WHERE seq = 2`);
      expectBroken(await verifySite(site), 3, 'broken_link');
    });

    test('replacing the first row with one not chained from genesis is a bad genesis', async () => {
      const { site, rows } = await seeded(backend);
      const first = byseq(rows, 1);
      const prev = 'f'.repeat(64);
      await site.raw.tamper(`UPDATE ${site.raw.logTable} SET prev_hash = ${lit(prev)}, hash = ${lit(hashRow(prev, first))} WHERE seq = 1`);
      expectBroken(await verifySite(site), 1, 'bad_genesis');
    });
  });
}

for (const backend of sqlBackends()) tamperSuite(backend);
