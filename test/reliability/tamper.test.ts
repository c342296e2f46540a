/**
 * Tampering, systematically, through the real CLI, on both ledgers, with the append-only triggers
 * bypassed (SQLite: file access; PostgreSQL: superuser in replica mode).
 *
 * dot_action_log — every column edited (plainly, and with the row's own hash recomputed by a
 * tamperer who knows the scheme), rows deleted, inserted, reordered: `dotctl log verify` exits 7
 * naming the first broken row and why, every time. (test/ledger/tamper.test.ts proves a sample of
 * these at the adapter; this suite covers every column and goes through the binary.)
 *
 * dot_proposals and dot_decisions are not hash-chained; what protects them is the gate: a
 * proposal's hash is recomputed from the DOT files, its parameters and its target, the proposer
 * signs (action, id, hash, time), every decision is a signature by its actor over (kind, id, hash,
 * time). So tampering there is "detected" when the gate stops counting what was tampered with:
 * `dotctl apply` refuses (exit 3) before it connects to the target. What no signature covers (a
 * deleted rejection, a state put back, the stored canonical text) is cross-checked against the
 * hash-chained action log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashRow } from '../../src/ledger/chain.js';
import { openLedger } from '../../src/ledger/open.js';
import type { LogRow, NewLogEvent } from '../../src/ledger/port.js';
import { generateKeyFile } from '../../src/gate/keys.js';
import { hasStackTrace } from '../helpers/cli.js';
import { dotctl, pool, startRecorder, type Recorder } from './run.js';
import { admitAll } from '../helpers/admission.js';
import { registerFixture } from '../helpers/genesis.js';
import { ADMIN_URL } from '../helpers/pg.js';
import { lit, postgresSites, sqliteSites, type Site, type SiteFactory } from './sites.js';

const N = 6;

/** The events of the seeded log: every column set, so each one can be edited (and nulled). */
function seedEvent(i: number): NewLogEvent {
  return {
    at: new Date(Date.UTC(2024, 4, 1, 8, i)).toISOString(),
    actor: i % 2 === 0 ? 'rita' : 'olga',
    event: i === 1 ? 'proposed' : i === 2 ? 'approved' : 'step_passed',
    proposalId: 'P-20240501-abcdef',
    dotId: 'DOT-PG-GRANT-SCHEMA',
    actionCode: 'DOT-PG-GRANT-DIRECTUS',
    proposalHash: 'a'.repeat(64),
    outcome: 'ok',
    detail: { i, step: `step ${i}`, observed: "1 row(s): 'false'" },
  };
}

/** A log tampering and where verify must name it. */
interface LogCase {
  readonly name: string;
  readonly sql: (t: string, rows: readonly LogRow[]) => string;
  readonly seq: number;
  readonly reason: 'hash_mismatch' | 'seq_gap' | 'broken_link' | 'bad_genesis';
}

const row = (rows: readonly LogRow[], seq: number): LogRow => {
  const r = rows.find((x) => x.seq === seq);
  if (!r) throw new Error(`no row ${seq}`);
  return r;
};

/** Stored column name → LogRow field, and a different value of the column's kind. */
const EDITABLE: readonly { column: string; field: keyof LogRow; other: string; nullable: boolean }[] = [
  { column: 'at', field: 'at', other: '2024-05-01T08:03:00.001Z', nullable: false },
  { column: 'actor', field: 'actor', other: 'mallory', nullable: false },
  { column: 'event', field: 'event', other: 'refused', nullable: false },
  { column: 'proposal_id', field: 'proposalId', other: 'P-20240501-000000', nullable: true },
  { column: 'dot_id', field: 'dotId', other: 'DOT-PG-DROP-SCHEMA', nullable: true },
  { column: 'action_code', field: 'actionCode', other: 'DOT-PG-DROP-SCHEMA', nullable: true },
  { column: 'proposal_hash', field: 'proposalHash', other: 'b'.repeat(64), nullable: true },
  { column: 'outcome', field: 'outcome', other: 'failed', nullable: true },
];

function logCases(): LogCase[] {
  const cases: LogCase[] = [];
  const m = 3;
  for (const c of EDITABLE) {
    cases.push({ name: `edit ${c.column}`, sql: (t) => `UPDATE ${t} SET ${c.column} = ${lit(c.other)} WHERE seq = ${m}`, seq: m, reason: 'hash_mismatch' });
    if (c.nullable) cases.push({ name: `null ${c.column}`, sql: (t) => `UPDATE ${t} SET ${c.column} = NULL WHERE seq = ${m}`, seq: m, reason: 'hash_mismatch' });
    else cases.push({ name: `empty ${c.column}`, sql: (t) => `UPDATE ${t} SET ${c.column} = '' WHERE seq = ${m}`, seq: m, reason: 'hash_mismatch' });
    // a tamperer who recomputes the row's own hash still breaks the next row's link
    cases.push({
      name: `edit ${c.column}, own hash recomputed`,
      sql: (t, rows) => {
        const r = row(rows, m);
        const edited = { ...r, [c.field]: c.other };
        return `UPDATE ${t} SET ${c.column} = ${lit(c.other)}, hash = ${lit(hashRow(r.prevHash, edited))} WHERE seq = ${m}`;
      },
      seq: m + 1,
      reason: 'broken_link',
    });
  }
  cases.push(
    { name: 'edit detail (a value)', sql: (t) => `UPDATE ${t} SET detail = ${lit('{"i":3,"observed":"1 row(s): \'true\'","step":"step 3"}')} WHERE seq = ${m}`, seq: m, reason: 'hash_mismatch' },
    {
      name: 'edit detail (a key added)',
      sql: (t) => `UPDATE ${t} SET detail = ${lit('{"i":3,"observed":"1 row(s): \'false\'","step":"step 3","x":1}')} WHERE seq = ${m}`,
      seq: m,
      reason: 'hash_mismatch',
    },
    { name: 'edit detail (not JSON any more)', sql: (t) => `UPDATE ${t} SET detail = 'garbage{' WHERE seq = ${m}`, seq: m, reason: 'hash_mismatch' },
    { name: 'edit detail (empty object)', sql: (t) => `UPDATE ${t} SET detail = '{}' WHERE seq = ${m}`, seq: m, reason: 'hash_mismatch' },
    {
      name: 'edit detail, own hash recomputed',
      sql: (t, rows) => {
        const r = row(rows, m);
        const detail = { ...r.detail, observed: "1 row(s): 'true'" };
        return `UPDATE ${t} SET detail = ${lit(JSON.stringify(detail))}, hash = ${lit(hashRow(r.prevHash, { ...r, detail }))} WHERE seq = ${m}`;
      },
      seq: m + 1,
      reason: 'broken_link',
    },
    { name: 'edit prev_hash', sql: (t) => `UPDATE ${t} SET prev_hash = ${lit('f'.repeat(64))} WHERE seq = ${m}`, seq: m, reason: 'broken_link' },
    {
      name: 'edit prev_hash, own hash recomputed',
      sql: (t, rows) => `UPDATE ${t} SET prev_hash = ${lit('f'.repeat(64))}, hash = ${lit(hashRow('f'.repeat(64), row(rows, m)))} WHERE seq = ${m}`,
      seq: m,
      reason: 'broken_link',
    },
    { name: 'edit hash', sql: (t) => `UPDATE ${t} SET hash = ${lit('0'.repeat(64))} WHERE seq = ${m}`, seq: m, reason: 'hash_mismatch' },
    { name: 'edit prev_hash of row 1', sql: (t) => `UPDATE ${t} SET prev_hash = ${lit('0'.repeat(64))} WHERE seq = 1`, seq: 1, reason: 'bad_genesis' },
    { name: 'edit seq (row moved to the end)', sql: (t) => `UPDATE ${t} SET seq = 100 WHERE seq = ${m}`, seq: m, reason: 'seq_gap' },
    { name: 'edit seq (renumbered down into a gap)', sql: (t) => `DELETE FROM ${t} WHERE seq = 2; UPDATE ${t} SET seq = 2 WHERE seq = ${m}`, seq: 2, reason: 'broken_link' },
    // deletions
    { name: 'delete a middle row', sql: (t) => `DELETE FROM ${t} WHERE seq = ${m}`, seq: m, reason: 'seq_gap' },
    { name: 'delete the first row', sql: (t) => `DELETE FROM ${t} WHERE seq = 1`, seq: 1, reason: 'seq_gap' },
    { name: 'delete three rows', sql: (t) => `DELETE FROM ${t} WHERE seq BETWEEN 2 AND 4`, seq: 2, reason: 'seq_gap' },
    // insertions
    {
      name: 'insert a forged row at the end, linked to the wrong row',
      sql: (t, rows) => insertSql(t, forged(rows, N + 1, row(rows, N - 1).hash)),
      seq: N + 1,
      reason: 'broken_link',
    },
    { name: 'insert a copy of a row at the end', sql: (t, rows) => insertSql(t, { ...row(rows, m), seq: N + 1 }), seq: N + 1, reason: 'broken_link' },
    { name: 'insert a row after a gap', sql: (t, rows) => insertSql(t, forged(rows, N + 5, row(rows, N).hash)), seq: N + 1, reason: 'seq_gap' },
    {
      name: 'insert a forged row in the middle (later rows renumbered)',
      sql: (t, rows) => `UPDATE ${t} SET seq = seq + 1000 WHERE seq > ${m}; UPDATE ${t} SET seq = seq - 999 WHERE seq > 1000; ${insertSql(t, forged(rows, m + 1, row(rows, m).hash))}`,
      seq: m + 2,
      reason: 'broken_link',
    },
    // reorderings
    { name: 'swap two rows', sql: (t) => `UPDATE ${t} SET seq = 100 WHERE seq = 3; UPDATE ${t} SET seq = 3 WHERE seq = 4; UPDATE ${t} SET seq = 4 WHERE seq = 100`, seq: 3, reason: 'broken_link' },
    {
      name: 'swap the first and the last row',
      sql: (t) => `UPDATE ${t} SET seq = 100 WHERE seq = 1; UPDATE ${t} SET seq = 1 WHERE seq = ${N}; UPDATE ${t} SET seq = ${N} WHERE seq = 100`,
      seq: 1,
      reason: 'bad_genesis',
    },
    { name: 'reverse the whole log', sql: (t) => `UPDATE ${t} SET seq = seq + 100; UPDATE ${t} SET seq = ${N + 101} - seq`, seq: 1, reason: 'bad_genesis' },
    { name: 'rotate the log by one', sql: (t) => `UPDATE ${t} SET seq = seq + 100; UPDATE ${t} SET seq = CASE WHEN seq = 101 THEN ${N} ELSE seq - 101 END`, seq: 1, reason: 'bad_genesis' },
  );
  return cases;
}

function forged(rows: readonly LogRow[], seq: number, prevHash: string): LogRow {
  const fields = { ...row(rows, N), seq, actor: 'mallory', event: 'applied' as const, detail: { forged: true } };
  return { ...fields, prevHash, hash: hashRow(prevHash, fields) };
}

function insertSql(t: string, r: LogRow): string {
  const values = [r.seq, r.at, r.actor, r.event, r.proposalId, r.dotId, r.actionCode, r.proposalHash, r.outcome, JSON.stringify(r.detail), r.prevHash, r.hash].map(lit).join(', ');
  return `INSERT INTO ${t} (seq, at, actor, event, proposal_id, dot_id, action_code, proposal_hash, outcome, detail, prev_hash, hash) VALUES (${values})`;
}

function logSuite(factory: () => SiteFactory): void {
  const sites = factory();
  describe(`dot_action_log tampering, ${sites.kind} ledger, through dotctl log verify`, () => {
    let seed: Site;
    let rows: LogRow[] = [];
    before(async () => {
      seed = await sites.fresh();
      const l = await openLedger(seed.spec);
      try {
        for (let i = 1; i <= N; i += 1) await l.appendEvent(seedEvent(i));
        rows = [...(await l.readEvents())];
      } finally {
        await l.close();
      }
    });
    after(() => sites.cleanup());

    test('the seeded ledger verifies (the baseline every case breaks)', async () => {
      const r = await dotctl(['--ledger', seed.spec, 'log', 'verify']);
      assert.equal(r.code, 0, r.stderr);
      // a ledger seeded without a registry verifies, its rows reported as legacy, unsigned
      assert.match(r.stdout.trim(), new RegExp(`^dot_action_log intact: ${N} rows, head ${row(rows, N).hash}(;|$)`));
    });

    const cases = logCases();
    test(`${cases.length} tamperings of every column, deletions, insertions and reorderings: exit 7 naming the row`, async () => {
      const clones = await Promise.all(cases.map(() => sites.clone(seed)));
      for (const [i, c] of cases.entries()) await clones[i]?.tamper(c.sql(clones[i]?.table('dot_action_log') ?? '', rows));
      const results = await pool(clones.map((s) => () => dotctl(['--ledger', s.spec, 'log', 'verify', '--json'])));
      const wrong: string[] = [];
      results.forEach((r, i) => {
        const c = cases[i];
        if (!c) return;
        let verdict: { kind?: string; seq?: number; reason?: string } = {};
        try {
          verdict = JSON.parse(r.stdout) as typeof verdict;
        } catch {
          // reported below
        }
        const lines = r.stderr.trim().split('\n');
        const ok =
          r.code === 7 &&
          verdict.kind === 'broken' &&
          verdict.seq === c.seq &&
          verdict.reason === c.reason &&
          lines.length === 1 &&
          (lines[0] ?? '').startsWith(`dotctl: dot_action_log is broken at seq ${c.seq}: `) &&
          new RegExp(`\\brows? ${c.seq}\\b`).test(lines[0] ?? '') &&
          !hasStackTrace(r.stderr);
        if (!ok) wrong.push(`${c.name}: expected exit 7 at seq ${c.seq} (${c.reason}), got exit ${r.code} ${r.stdout.replace(/\s+/g, ' ')} ${r.stderr.trim()}`);
      });
      assert.deepEqual(wrong, [], 'tamperings log verify did not name right');
    });

    test('what the chain alone cannot see, the head hash it prints does: the newest row deleted, or the tail re-chained', async () => {
      const head = row(rows, N).hash;
      const truncated = await sites.clone(seed);
      await truncated.tamper(`DELETE FROM ${truncated.table('dot_action_log')} WHERE seq = ${N}`);
      const rechained = await sites.clone(seed);
      // row 5 edited and re-hashed, row 6 re-linked and re-hashed: a consistent, different chain
      const r5 = { ...row(rows, 5), outcome: 'failed' };
      const h5 = hashRow(r5.prevHash, r5);
      const r6 = { ...row(rows, 6), prevHash: h5 };
      const h6 = hashRow(h5, r6);
      const t = rechained.table('dot_action_log');
      await rechained.tamper(`UPDATE ${t} SET outcome = 'failed', hash = ${lit(h5)} WHERE seq = 5; UPDATE ${t} SET prev_hash = ${lit(h5)}, hash = ${lit(h6)} WHERE seq = 6`);
      for (const s of [truncated, rechained]) {
        const r = await dotctl(['--ledger', s.spec, 'log', 'verify']);
        assert.equal(r.code, 0, r.stderr);
        const printed = /head ([0-9a-f]{64})/.exec(r.stdout)?.[1];
        assert.ok(printed && printed !== head, `the head ${printed} must differ from the recorded ${head}`);
      }
    });
  });
}

logSuite(sqliteSites);
logSuite(postgresSites);

/* ---------------------------------------------------------------------------------------------
 * Proposals and decisions: detection is the gate.
 * ------------------------------------------------------------------------------------------- */

interface GateCase {
  readonly name: string;
  readonly sql: (s: Site, ids: { p: string; p2: string }) => string;
  /** what apply must say (exit 3, or `code`), or `exit2` for a proposal that is gone */
  readonly expect: RegExp | 'exit2';
  /** the exit code when not 3: 7 where the ledger itself names the tampering */
  readonly code?: 7;
  /** the proposal to apply (default p) */
  readonly apply?: 'p' | 'forged';
}

function gateCases(): GateCase[] {
  const P = (s: Site): string => s.table('dot_proposals');
  const D = (s: Site): string => s.table('dot_decisions');
  const sigFail = /signature on .* does not verify|proposer .* is not an enabled operator/;
  const noApproval = /1 approval\(s\) from distinct reviewers required.*0 valid/;
  return [
    // dot_proposals, column by column
    // the state index still names the old id: the ledger itself names the tampering before the gate (exit 7)
    {
      name: 'proposal id changed',
      sql: (s, i) => `UPDATE ${P(s)} SET id = 'P-20240501-f0f0f0' WHERE id = ${lit(i.p)}`,
      expect: /stored state of proposal .* disagrees with the action log/,
      code: 7,
      apply: 'forged',
    },
    {
      name: 'proposal dot_ids changed (D dropped from the bundle)',
      sql: (s, i) => `UPDATE ${P(s)} SET dot_ids = '["DOT-PG-GRANT-SCHEMA"]' WHERE id = ${lit(i.p)}`,
      expect: /changed since .* was proposed/,
    },
    {
      name: 'proposal params changed (another schema)',
      sql: (s, i) => `UPDATE ${P(s)} SET params = replace(params, 'sandbox_tac', 'public') WHERE id = ${lit(i.p)}`,
      expect: /changed since .* was proposed/,
    },
    {
      name: 'proposal target_fingerprint changed',
      sql: (s, i) => `UPDATE ${P(s)} SET target_fingerprint = 'postgres://elsewhere:5432/prod' WHERE id = ${lit(i.p)}`,
      expect: /was proposed for postgres:\/\/elsewhere:5432\/prod|changed since/,
    },
    {
      name: 'proposal frozen content changed (its rollback rewritten)',
      sql: (s, i) => `UPDATE ${P(s)} SET content = replace(content, 'REVOKE USAGE ON SCHEMA', 'DROP SCHEMA') WHERE id = ${lit(i.p)}`,
      expect: /changed since .* was proposed/,
    },
    { name: 'proposal hash changed', sql: (s, i) => `UPDATE ${P(s)} SET hash = ${lit('c'.repeat(64))} WHERE id = ${lit(i.p)}`, expect: /changed since .* was proposed|does not verify/ },
    // the state is derived from the chain: a state column that disagrees with it is named as tampering
    { name: 'proposal state changed to applied', sql: (s, i) => `UPDATE ${P(s)} SET state = 'applied' WHERE id = ${lit(i.p)}`, expect: /state column now says applied.*tampered/, code: 7 },
    { name: 'proposal created_by changed to another operator', sql: (s, i) => `UPDATE ${P(s)} SET created_by = 'omar' WHERE id = ${lit(i.p)}`, expect: sigFail },
    { name: 'proposal created_by changed to a reviewer', sql: (s, i) => `UPDATE ${P(s)} SET created_by = 'raj' WHERE id = ${lit(i.p)}`, expect: /proposer raj (is|was) not an enabled operator/ },
    // the stored expires_at columns are informational: expiry is computed from the signed times,
    // so moving them (into the past or the future) changes nothing the gate decides
    { name: 'proposal signature garbled', sql: (s, i) => `UPDATE ${P(s)} SET signature = ${lit(Buffer.alloc(64, 7).toString('base64'))} WHERE id = ${lit(i.p)}`, expect: sigFail },
    { name: 'proposal signature removed', sql: (s, i) => `UPDATE ${P(s)} SET signature = NULL WHERE id = ${lit(i.p)}`, expect: sigFail },
    // its state index rows remain: the ledger names the deletion (exit 7) before apply finds no proposal
    {
      name: 'proposal row deleted',
      sql: (s, i) => `DELETE FROM ${D(s)} WHERE proposal_id = ${lit(i.p)}; DELETE FROM ${P(s)} WHERE id = ${lit(i.p)}`,
      expect: /proposal is missing from dot_proposals/,
      code: 7,
    },
    // dot_decisions, column by column (rita's approval of p)
    { name: 'decision moved to another proposal', sql: (s, i) => `UPDATE ${D(s)} SET proposal_id = ${lit(i.p2)} WHERE proposal_id = ${lit(i.p)}`, expect: noApproval },
    { name: 'decision kind changed (approve → reject)', sql: (s, i) => `UPDATE ${D(s)} SET kind = 'reject' WHERE proposal_id = ${lit(i.p)}`, expect: noApproval },
    { name: 'decision hash_signed changed', sql: (s, i) => `UPDATE ${D(s)} SET hash_signed = ${lit('c'.repeat(64))} WHERE proposal_id = ${lit(i.p)}`, expect: noApproval },
    { name: 'decision actor changed to another reviewer', sql: (s, i) => `UPDATE ${D(s)} SET actor = 'raj' WHERE proposal_id = ${lit(i.p)}`, expect: noApproval },
    { name: 'decision actor changed to the applier', sql: (s, i) => `UPDATE ${D(s)} SET actor = 'omar' WHERE proposal_id = ${lit(i.p)}`, expect: /0 valid|omar approved/ },
    { name: 'decision signature garbled', sql: (s, i) => `UPDATE ${D(s)} SET signature = ${lit(Buffer.alloc(64, 9).toString('base64'))} WHERE proposal_id = ${lit(i.p)}`, expect: noApproval },
    { name: 'decision deleted', sql: (s, i) => `DELETE FROM ${D(s)} WHERE proposal_id = ${lit(i.p)}`, expect: noApproval },
    {
      name: 'a forged approval inserted by a name not in the identities file',
      sql: (s, i) =>
        `DELETE FROM ${D(s)} WHERE proposal_id = ${lit(i.p)}; INSERT INTO ${D(s)} (proposal_id, kind, hash_signed, actor, signature, comment, at, expires_at) SELECT id, 'approve', hash, 'zed', signature, NULL, created_at, '2999-01-01T00:00:00.000Z' FROM ${P(s)} WHERE id = ${lit(i.p)}`,
      expect: noApproval,
    },
  ];
}

/** Cross-checks the gate does not make yet (findings): each must refuse, and does not today. */
function gateFindings(): GateCase[] {
  const P = (s: Site): string => s.table('dot_proposals');
  const D = (s: Site): string => s.table('dot_decisions');
  return [
    {
      name: 'proposal canonical rewritten (it no longer hashes to the stored hash)',
      sql: (s, i) => `UPDATE ${P(s)} SET canonical = replace(canonical, 'GRANT', 'REVOKE') WHERE id = ${lit(i.p)}`,
      expect: /canonical|tamper/,
    },
    {
      name: 'proposal expires_at pushed out after it expired',
      sql: (s, i) => `UPDATE ${P(s)} SET created_at = '2000-01-01T00:00:00.000Z', expires_at = '2999-01-01T00:00:00.000Z' WHERE id = ${lit(i.p)}`,
      expect: /expired|tamper/,
    },
    {
      name: 'decision expires_at pushed out after it expired',
      sql: (s, i) => `UPDATE ${D(s)} SET at = '2000-01-01T00:00:00.000Z', expires_at = '2999-01-01T00:00:00.000Z' WHERE proposal_id = ${lit(i.p)}`,
      expect: /expired|0 valid|tamper/,
    },
    { name: 'a rejection deleted (the log still records it)', sql: (s, i) => `DELETE FROM ${D(s)} WHERE proposal_id = ${lit(i.p)} AND kind = 'reject'`, expect: /rejected|tamper/ },
    {
      name: 'proposal state put back from applied to proposed (the log records it applied)',
      sql: (s, i) => `UPDATE ${P(s)} SET state = 'proposed' WHERE id = ${lit(i.p)}; DELETE FROM ${s.table('dot_proposal_states')} WHERE proposal_id = ${lit(i.p)} AND prev_seq IS NOT NULL`,
      expect: /applied|tamper/,
      code: 7,
    },
  ];
}

function gateSuite(factory: () => SiteFactory): void {
  const sites = factory();
  describe(`proposal and decision tampering, ${sites.kind} ledger: the gate stops counting it`, () => {
    let dir = '';
    let recorder: Recorder;
    let seed: Site;
    let rejected: Site;
    let applied: Site;
    const ids = { p: '', p2: '' };
    const keys: Record<string, string> = {};
    const flags = (s: Site): string[] => ['--dots', resolve('dots'), '--ledger', s.spec, '--identities', join(dir, 'identities.yaml'), '--target', recorder.url];
    const as = (s: Site, who: string, args: string[]) => dotctl([...flags(s), '--key', keys[who] ?? '', ...args], { cwd: dir });

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'dotctl-rel-gate-'));
      recorder = await startRecorder();
      let yaml = 'identities:\n';
      for (const [name, role] of [
        ['olga', 'operator'],
        ['omar', 'operator'],
        ['rita', 'reviewer'],
        ['raj', 'reviewer'],
      ] as const) {
        const k = await generateKeyFile(name, join(dir, 'keys'));
        keys[name] = k.file;
        yaml += `  - name: ${name}\n    roles: [${role}]\n    public_key: ${k.publicKey}\n`;
      }
      writeFileSync(join(dir, 'identities.yaml'), yaml);
      // admitAll gives the seed ledger this file as its genesis registry, signed by all four
      registerFixture(join(dir, 'identities.yaml'), Object.values(keys));
      seed = await sites.fresh();
      admitAll(
        flags(seed),
        [
          { name: 'rita', key: keys.rita ?? '' },
          { name: 'raj', key: keys.raj ?? '' },
        ],
        dir,
      );
      const propose = async (): Promise<string> => {
        // proposing binds the server it reads (a real one); the applies below go to the recorder
        const r = await as(seed, 'olga', ['--target', ADMIN_URL, 'propose', '--offline', 'A', 'D', '--json']);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { id: string }).id;
      };
      ids.p = await propose();
      ids.p2 = await propose();
      const a = await as(seed, 'rita', ['approve', ids.p]);
      assert.equal(a.code, 0, a.stderr);
      // variants for the findings: one with a rejection too, one marked applied the proper way
      rejected = await sites.clone(seed);
      const rj = await as(rejected, 'raj', ['reject', ids.p, '--reason', 'not before the owner agrees']);
      assert.equal(rj.code, 0, rj.stderr);
      applied = await sites.clone(seed);
      const l = await openLedger(applied.spec);
      try {
        const moved = await l.transitionProposal(ids.p, ['proposed'], 'applied', {
          at: new Date().toISOString(),
          actor: 'omar',
          event: 'applied',
          proposalId: ids.p,
          dotId: 'DOT-BACKUP-SCRIPT-HARDEN+DOT-PG-GRANT-SCHEMA',
          actionCode: null,
          proposalHash: null,
          outcome: 'ok',
          detail: { steps: 1 },
        });
        assert.ok(moved);
      } finally {
        await l.close();
      }
    });
    after(async () => {
      await recorder?.close();
      await sites.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    test('untampered, the gate lets the apply through: it goes on to connect to the target (the control)', async () => {
      const s = await sites.clone(seed);
      const before = recorder.connections();
      const r = await as(s, 'omar', ['apply', ids.p]);
      assert.equal(r.code, 8, `apply passed the gate and failed at the target: ${r.stderr}`);
      assert.match(r.stderr, /cannot connect to the target/);
      assert.ok(recorder.connections() > before, 'the control apply reached the target');
    });

    const cases = gateCases();
    test(`${cases.length} tamperings of proposal and decision columns, rows deleted or forged: apply refuses before the target`, async () => {
      const clones = await Promise.all(cases.map(() => sites.clone(seed)));
      for (const [i, c] of cases.entries()) if (clones[i]) await clones[i].tamper(c.sql(clones[i], ids));
      const before = recorder.connections();
      const results = await pool(clones.map((s, i) => () => as(s, 'omar', ['apply', cases[i]?.apply === 'forged' ? 'P-20240501-f0f0f0' : ids.p])));
      const wrong: string[] = [];
      results.forEach((r, i) => {
        const c = cases[i];
        if (!c) return;
        const code = c.expect === 'exit2' ? 2 : (c.code ?? 3);
        const ok = r.code === code && (c.expect === 'exit2' || c.expect.test(r.stderr)) && r.stderr.trim().split('\n').length === 1 && !hasStackTrace(r.stderr);
        if (!ok) wrong.push(`${c.name}: expected exit ${code}${c.expect === 'exit2' ? '' : ` matching ${c.expect}`}, got exit ${r.code}: ${r.stderr.trim()}`);
      });
      assert.deepEqual(wrong, [], 'tamperings the gate did not refuse');
      assert.equal(recorder.connections(), before, 'a refused apply reached the target');
    });

    for (const c of gateFindings()) {
      test(`${c.name}: apply refuses`, async () => {
        const base = /rejection/.test(c.name) ? rejected : /applied to proposed/.test(c.name) ? applied : seed;
        // the control: untampered, this variant is refused for the reason the tampering hides
        const s = await sites.clone(base);
        await s.tamper(c.sql(s, ids));
        const before = recorder.connections();
        const r = await as(s, 'omar', ['apply', ids.p]);
        assert.equal(r.code, c.code ?? 3, `apply was not refused at the gate (exit ${r.code}: ${r.stderr.trim()})`);
        assert.match(r.stderr, c.expect as RegExp);
        assert.equal(recorder.connections(), before);
      });
    }

    test("the findings' variants are refused before the tampering (so those tests test the tampering)", async () => {
      const rj = await as(await sites.clone(rejected), 'omar', ['apply', ids.p]);
      assert.equal(rj.code, 3, rj.stderr);
      assert.match(rj.stderr, /raj rejected/);
      const ap = await as(await sites.clone(applied), 'omar', ['apply', ids.p]);
      assert.equal(ap.code, 3, ap.stderr);
      assert.match(ap.stderr, /is applied/);
    });
  });
}

gateSuite(sqliteSites);
gateSuite(postgresSites);
