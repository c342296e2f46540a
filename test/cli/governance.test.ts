/**
 * The governance walk as users run it: operator proposes, reviewers approve or reject, the
 * gate refuses what it must, against a real PostgreSQL target and both ledgers.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile, appendFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';
import { createIncident, paramsFor, type Incident } from '../helpers/incident.js';
import { createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { admitAll } from '../helpers/admission.js';

for (const ledgerKind of ['sqlite', 'postgres'] as const) {
  describe(`governance walk on the ${ledgerKind} ledger`, () => {
    let inc: Incident;
    let ledgerDb: ScratchDb | null = null;
    let flags: string[];
    const as = (key: string, args: string[]) => runCli([...flags, '--key', key, ...args], { cwd: inc.dir });
    before(async () => {
      inc = await createIncident(`gov_${ledgerKind}`);
      flags = [...inc.flags];
      if (ledgerKind === 'postgres') {
        ledgerDb = await createScratchDb('ledger');
        flags[flags.indexOf('--ledger') + 1] = ledgerDb.url;
      }
      admitAll(flags, [inc.reviewer1, inc.reviewer2], inc.dir);
    });
    after(async () => {
      await inc?.cleanup();
      await ledgerDb?.drop();
    });

    let ad = '';
    let c2 = '';
    test('an operator proposes A + D: evidence from read-only checks, proposal rendered', async () => {
      const r = as(inc.operator.key, ['propose', 'A', 'D', ...(await paramsFor(inc, ['A', 'D'])), '--json', '--out', `${inc.dir}/ad.md`]);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { id: string; hash: string; evidence: { outcome: string }[] };
      ad = j.id;
      assert.match(j.id, /^P-\d{8}-[0-9a-f]{6}$/);
      assert.ok(j.evidence.length > 5 && j.evidence.every((e) => e.outcome === 'passed'));
      const md = await readFile(`${inc.dir}/ad.md`, 'utf8');
      assert.ok(md.includes(j.hash));
      assert.match(md, /## Evidence\n\nCollected read-only/);
      assert.match(md, /Dump role has no USAGE on the schema yet \| passed \| 1 row\(s\): false/);
    });

    test('--offline runs no checks (evidence marked absent) but still binds the server it reads', async () => {
      const r = runCli([...flags, '--key', inc.operator.key, 'propose', 'D', ...(await paramsFor(inc, ['D'])), '--offline', '--json', '--out', `${inc.dir}/offline.md`], { cwd: inc.dir });
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { evidence: unknown[]; target: string };
      assert.deepEqual(j.evidence, []);
      assert.match(j.target, new RegExp(`^pg:\\d+/\\d+/${inc.db.name}$`));
      // without a server there is no identity to bind: refused, nothing proposed
      const down = runCli([...flags, '--target', 'postgres://postgres@127.0.0.1:1/nowhere', '--key', inc.operator.key, 'propose', 'D', ...(await paramsFor(inc, ['D'])), '--offline'], {
        cwd: inc.dir,
      });
      assert.equal(down.code, 8, down.stderr);
      assert.match(down.stderr, /cannot connect to the target postgres:\/\/127\.0\.0\.1:1\/nowhere/);
      assert.match(await readFile(`${inc.dir}/offline.md`, 'utf8'), /## Evidence\n\n_Absent: rendered without a target \(offline\)/);
    });

    test('a reviewer cannot propose; a key not in the identities file is refused (exit 3)', async () => {
      const r = as(inc.reviewer1.key, ['propose', 'D', ...(await paramsFor(inc, ['D']))]);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /rita is not an operator; only operators propose/);
    });

    test('the proposer may not approve; nor may an operator', () => {
      const r = as(inc.operator.key, ['approve', ad]);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /olga is not a reviewer/);
    });

    test('apply before approval is refused with what is missing (exit 3)', () => {
      const r = as(inc.operator.key, ['apply', ad]);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /1 approval\(s\) from distinct reviewers required \(Đ32\), 0 valid \(1 missing\)/);
    });

    test('status spells out the unmet requirements', () => {
      const r = runCli([...flags, 'status', ad]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /not ready to apply\n {2}- 1 approval\(s\) from distinct reviewers required/);
    });

    test('a reviewer approves once; a second approval by the same reviewer is refused', () => {
      const r = as(inc.reviewer1.key, ['approve', ad, '--comment', 'A + D per seed §5']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /rita approved .*gate: ready to apply/s);
      const again = as(inc.reviewer1.key, ['approve', ad]);
      assert.equal(again.code, 3);
      assert.match(again.stderr, /rita has already approved/);
    });

    test('the approver may not apply it; a changed DOT file voids the approval', async () => {
      const r = as(inc.reviewer1.key, ['apply', ad]);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /rita is not an enabled operator/);
    });

    test('an approval replayed from another proposal does not count', async () => {
      const p2 = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D'])), '--json']);
      assert.equal(p2.code, 0, p2.stderr);
      const id2 = (JSON.parse(p2.stdout) as { id: string }).id;
      const st = JSON.parse(runCli([...flags, 'status', ad, '--json']).stdout) as { decisions: unknown[] };
      assert.equal(st.decisions.length, 1);
      // the status of the other proposal shows no valid approval although rita approved something
      const s2 = runCli([...flags, 'status', id2]);
      assert.match(s2.stdout, /0 valid \(1 missing\)/);
    });

    test('C2 needs dual control: one approval is refused at apply, two distinct reviewers meet it', async () => {
      const p = as(inc.operator.key, ['propose', 'C2', 'D', ...(await paramsFor(inc, ['C2', 'D'])), '--json']);
      assert.equal(p.code, 0, p.stderr);
      c2 = (JSON.parse(p.stdout) as { id: string }).id;
      assert.equal(as(inc.reviewer1.key, ['approve', c2]).code, 0);
      const one = as(inc.operator2.key, ['apply', c2]);
      assert.equal(one.code, 3);
      assert.match(one.stderr, /dual control \(CONST-IRREVERSIBLE, risk:irreversible\): 2 approval\(s\) from distinct reviewers required.*1 valid \(1 missing\)/);
      const second = as(inc.reviewer2.key, ['approve', c2]);
      assert.equal(second.code, 0, second.stderr);
      // dual control is met; what is left is the restore drill CONST-IRREVERSIBLE asks for (test/exec/restore-drill.test.ts)
      assert.match(second.stdout, /gate: not ready — CONST-IRREVERSIBLE requires a restore drill that passed on this target within 24 h/);
      assert.doesNotMatch(second.stdout, /dual control/);
    });

    test('any rejection blocks', () => {
      const r = as(inc.reviewer2.key, ['reject', ad, '--reason', 'wait for the owner of sandbox_tac']);
      assert.equal(r.code, 0, r.stderr);
      const apply = as(inc.operator2.key, ['apply', ad]);
      assert.equal(apply.code, 3);
      assert.match(apply.stderr, /raj rejected .*; a rejection blocks it/);
    });

    test('a key readable by others is refused like ssh does', async () => {
      await chmod(inc.reviewer2.key, 0o644);
      const r = as(inc.reviewer2.key, ['approve', c2]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /readable by group or others \(mode 644\); run chmod 600/);
      await chmod(inc.reviewer2.key, 0o600);
    });

    test('editing the DOT after approval changes nothing of the proposal: it runs its frozen content', async () => {
      // a private copy of the catalogue, so the repository's dots/ stay untouched
      const { cp } = await import('node:fs/promises');
      const dots = `${inc.dir}/dots-edited`;
      await cp('dots', dots, { recursive: true });
      const text = await readFile(`${dots}/DOT-PG-DROP-SCHEMA.yaml`, 'utf8');
      await writeFile(`${dots}/DOT-PG-DROP-SCHEMA.yaml`, text.replace('DROP SCHEMA :"schema" CASCADE', 'DROP SCHEMA :"schema" CASCADE -- edited'));
      await appendFile(`${dots}/DOT-PG-DROP-SCHEMA.yaml`, '\n# reviewed text changed after approval\n');
      const st = JSON.parse(runCli([...flags, '--dots', dots, 'status', c2, '--json']).stdout) as { gate: { unmet: { kind: string }[] }; current_hash: string; proposal: { hash: string } };
      // the approvals still count; what is left is only the restore drill CONST-IRREVERSIBLE asks for
      assert.deepEqual(
        st.gate.unmet.map((u) => u.kind),
        ['restore_drill_missing'],
      );
      assert.equal(st.current_hash, st.proposal.hash);
      // the edited file itself cannot be proposed until reviewers admit it
      const r = runCli([...flags, '--dots', dots, '--key', inc.operator.key, 'propose', 'C2', 'D', ...(await paramsFor(inc, ['C2', 'D']))], { cwd: inc.dir });
      assert.equal(r.code, 3);
      assert.match(r.stderr, /DOT-PG-DROP-SCHEMA\.yaml changed since DOT-PG-DROP-SCHEMA was last admitted .*dotctl admit DOT-PG-DROP-SCHEMA/);
    });

    test('the auditor reads the log and the chain verifies', () => {
      const log = runCli([...flags, 'log', '--json']);
      assert.equal(log.code, 0, log.stderr);
      const events = log.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string });
      for (const e of ['proposed', 'approved', 'rejected', 'refused'])
        assert.ok(
          events.some((x) => x.event === e),
          `log has ${e}`,
        );
      const v = runCli([...flags, 'log', 'verify']);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /dot_action_log intact: \d+ rows, head [0-9a-f]{64}/);
    });
  });
}
