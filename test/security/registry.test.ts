/**
 * Who may act is governed by the ledger's identity registry, never by a file. Each attack runs as
 * the insider would run it — the built CLI, a real target, a SQLite and a PostgreSQL ledger —
 * beside the legitimate path: a sock-puppet reviewer added to the identities file, the insider's
 * key put in place of a reviewer's, a registry change without its quorum, a stale change, a
 * rotated key's later signature, a registry change forged into the log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, hasStackTrace, type CliResult } from '../helpers/cli.js';
import { createIncident, paramsFor, type Incident, type Person } from '../helpers/incident.js';
import { admitAll } from '../helpers/admission.js';
import { createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { generateKeyFile } from '../../src/gate/keys.js';
import { appendForged, readRows } from './ledger-tools.js';
import { cloneLedger } from './clone.js';

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`the identity registry governs who may act (${kind} ledger)`, () => {
    let inc: Incident;
    let ledgerDb: ScratchDb | null = null;
    let flags: string[];
    const clones: (() => Promise<void>)[] = [];
    const as = (who: Person | string, args: readonly string[], f: readonly string[] = flags): CliResult => runCli([...f, '--key', typeof who === 'string' ? who : who.key, ...args], { cwd: inc.dir });
    const ledger = (): string => flags[flags.indexOf('--ledger') + 1]!;
    const propose = async (): Promise<string> => {
      const r = as(inc.operator, ['propose', 'A', 'D', ...(await paramsFor(inc, ['A', 'D'])), '--json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { id: string }).id;
    };
    const gate = (id: string): { kind: string; approvers: string[] } => {
      const r = runCli([...flags, 'status', id, '--json'], { cwd: inc.dir });
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { gate: { kind: string; approvers: string[] } }).gate;
    };
    const refused = (r: CliResult, code: number, pattern: RegExp): void => {
      assert.equal(r.code, code, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one sentence: ${r.stderr}`);
      assert.ok(!hasStackTrace(r.stderr));
    };
    /** A whole identities file: the registry in force (exported) with `edit` applied to its text. */
    const editedRegistry = async (name: string, edit: (yaml: string) => string): Promise<string> => {
      const r = runCli([...flags, 'identities', 'export'], { cwd: inc.dir });
      assert.equal(r.code, 0, r.stderr);
      const file = join(inc.dir, name);
      await writeFile(file, edit(r.stdout));
      return file;
    };
    const entry = (name: string, roles: string, key: string): string => `  - name: ${name}\n    roles: [${roles}]\n    public_key: ${key}\n`;

    let sam: { file: string; publicKey: string };
    let p1 = '';
    let p2 = '';

    before(async () => {
      inc = await createIncident(`reg_${kind}`);
      flags = [...inc.flags];
      if (kind === 'postgres') {
        ledgerDb = await createScratchDb('reg_ledger');
        flags[flags.indexOf('--ledger') + 1] = ledgerDb.url;
      }
      admitAll(flags, [inc.reviewer1, inc.reviewer2], inc.dir);
      sam = await generateKeyFile('sam', join(inc.dir, 'insider-keys'));
    });
    after(async () => {
      for (const c of clones) await c();
      await inc?.cleanup();
      await ledgerDb?.drop();
    });

    test('a sock-puppet reviewer added to the identities file is refused (exit 3); the real reviewer approves', async () => {
      await writeFile(inc.identities, `${await readFile(inc.identities, 'utf8')}${entry('sam', 'reviewer', sam.publicKey)}`);
      p1 = await propose();
      refused(as(sam.file, ['approve', p1]), 3, /^dotctl: the key .*sam\.key belongs to no member of the ledger's identity registry/);
      refused(as(inc.operator2, ['apply', p1]), 3, /approval\(s\) from distinct reviewers required/);
      assert.ok(!(await readRows(ledger())).some((r) => r.actor === 'sam'), 'the puppet is credited with nothing');
      assert.equal(as(inc.reviewer1, ['approve', p1]).code, 0);
      assert.deepEqual(gate(p1), { ...gate(p1), kind: 'allow', approvers: ['rita'] });
    });

    test("the insider's key put in place of a reviewer's is refused (exit 3) and the log never credits the reviewer", async () => {
      const mallory = await generateKeyFile('mallory', join(inc.dir, 'insider-keys'));
      const text = await readFile(inc.identities, 'utf8');
      const raj = /- name: raj\n {4}roles: \[reviewer\]\n {4}public_key: (\S+)/.exec(text)?.[1];
      assert.ok(raj, text);
      await writeFile(inc.identities, text.replace(raj, mallory.publicKey));
      p2 = await propose();
      refused(as(mallory.file, ['approve', p2]), 3, /belongs to no member of the ledger's identity registry/);
      const rows = await readRows(ledger());
      assert.ok(!rows.some((r) => r.proposalId === p2 && r.event === 'approved'), 'no approval is recorded');
      assert.equal(gate(p2).kind, 'refuse');
      // the real raj, with his own key, still approves
      assert.equal(as(inc.reviewer2, ['approve', p2]).code, 0);
      assert.deepEqual(gate(p2).approvers, ['raj']);
    });

    test('a registry change without its quorum is refused (exit 3); with the quorum it takes effect and the new member can act', async () => {
      const file = await editedRegistry('with-sam.yaml', (y) => `${y}${entry('sam', 'reviewer', sam.publicKey)}`);
      const proposed = as(inc.reviewer1, ['identities', 'change', file, '--json']);
      assert.equal(proposed.code, 0, proposed.stderr);
      const change = JSON.parse(proposed.stdout) as { change_id: string; in_force: boolean; signed_by: string[]; required: number };
      assert.deepEqual([change.in_force, change.signed_by, change.required], [false, ['rita'], 2]);
      const p3 = await propose();
      // one signature of two: sam is no member yet
      refused(as(sam.file, ['approve', p3]), 3, /belongs to no member/);
      refused(as(sam.file, ['identities', 'approve', change.change_id]), 3, /belongs to no member/);
      refused(as(inc.operator, ['identities', 'approve', change.change_id]), 3, /^dotctl: olga is not an enabled reviewer; only reviewers sign registry changes/);
      refused(as(inc.reviewer1, ['identities', 'approve', change.change_id]), 3, /rita has signed registry change .* already/);
      // the proposer cannot propose its way around the quorum either
      refused(as(inc.operator, ['identities', 'change', file]), 3, /olga is not an enabled reviewer/);
      // the second reviewer's signature reaches the quorum
      const done = as(inc.reviewer2, ['identities', 'approve', change.change_id]);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /in force from seq \d+: signed by rita, raj \(quorum 2\)/);
      assert.equal(as(sam.file, ['approve', p3]).code, 0);
      assert.deepEqual(gate(p3).approvers, ['sam']);
      assert.match(runCli([...flags, 'identities', 'export'], { cwd: inc.dir }).stdout, /- name: sam\n {4}roles: \[reviewer\]/);
    });

    test('a change proposed against an older registry is refused as stale (exit 3)', async () => {
      const a = await editedRegistry('quorum3.yaml', (y) => y.replace('quorum: 2', 'quorum: 3'));
      const b = await editedRegistry('ada-groups.yaml', (y) => y.replace(/(- name: ada\n {4}roles: \[auditor\]\n {4}public_key: \S+\n)/, '$1    groups: [audit]\n'));
      const ca = JSON.parse(as(inc.reviewer1, ['identities', 'change', a, '--json']).stdout) as { change_id: string };
      const cb = JSON.parse(as(inc.reviewer1, ['identities', 'change', b, '--json']).stdout) as { change_id: string };
      assert.equal(as(inc.reviewer2, ['identities', 'approve', ca.change_id]).code, 0);
      refused(as(inc.reviewer2, ['identities', 'approve', cb.change_id]), 3, /is stale; propose it again/);
      const pending = runCli([...flags, 'identities', 'pending'], { cwd: inc.dir });
      assert.match(pending.stdout, new RegExp(`${cb.change_id} .*STALE`));
    });

    test("a rotated key's later signatures are void; its earlier approval still counts; the new key acts", async () => {
      const raj2 = await generateKeyFile('raj2', join(inc.dir, 'new-keys'));
      const current = runCli([...flags, 'identities', 'export'], { cwd: inc.dir }).stdout;
      const oldRaj = /- name: raj\n {4}roles: \[reviewer\]\n {4}public_key: (\S+)/.exec(current)![1]!;
      const file = join(inc.dir, 'rotate-raj.yaml');
      await writeFile(file, current.replace(oldRaj, raj2.publicKey));
      // quorum 3 now: rita, raj and sam sign
      const c = JSON.parse(as(inc.reviewer1, ['identities', 'change', file, '--json']).stdout) as { change_id: string };
      assert.equal(as(inc.reviewer2, ['identities', 'approve', c.change_id]).code, 0);
      const last = as(sam.file, ['identities', 'approve', c.change_id]);
      assert.equal(last.code, 0, last.stderr);
      assert.match(last.stdout, /in force/);
      const p4 = await propose();
      refused(as(inc.reviewer2, ['approve', p4]), 3, /belongs to no member of the ledger's identity registry/);
      assert.equal(as(raj2.file, ['approve', p4]).code, 0);
      assert.deepEqual(gate(p4).approvers, ['raj']);
      // raj approved p2 with the key he held then: it still counts, and p2 applies
      assert.deepEqual(gate(p2).approvers, ['raj']);
      const applied = as(inc.operator2, ['apply', p2]);
      assert.equal(applied.code, 0, `${applied.stdout}\n${applied.stderr}`);
      const v = runCli([...flags, 'log', 'verify', '--json'], { cwd: inc.dir });
      assert.equal(v.code, 0, v.stderr);
      const verdict = JSON.parse(v.stdout) as { rows: number; signed_through: number; unsigned_tail: number; registry: boolean };
      assert.deepEqual([verdict.registry, verdict.unsigned_tail, verdict.signed_through], [true, 0, verdict.rows - 1]);
    });

    test('a registry change forged into the log (one signature) breaks the ledger: log verify and apply exit 7', async () => {
      const copy = await cloneLedger(ledger());
      clones.push(copy.drop);
      const f = [...flags];
      f[f.indexOf('--ledger') + 1] = copy.spec;
      const rows = await readRows(copy.spec);
      const mallory = await generateKeyFile('mallory2', join(inc.dir, `insider-keys-${kind}`));
      const base = [...rows].reverse().find((r) => r.event === 'registry_changed' || r.event === 'registry_genesis')!;
      const reg = (base.detail as { registry: { quorum: number; members: unknown[] } }).registry;
      const forged = await appendForged(copy.spec, {
        at: rows.at(-1)!.at,
        actor: 'olga',
        event: 'registry_changed',
        proposalId: null,
        dotId: null,
        actionCode: null,
        proposalHash: null,
        outcome: 'ok',
        detail: {
          change_id: 'R-20990101-forged',
          base_hash: base.hash,
          base_seq: base.seq,
          registry: { ...reg, members: [...reg.members, { name: 'mallory', roles: ['reviewer'], public_key: mallory.publicKey, disabled: false }] },
          signatures: [{ name: 'olga', public_key: 'ed25519:x', at: rows.at(-1)!.at, signature: 'AAAA' }],
        },
      });
      const v = runCli([...f, 'log', 'verify'], { cwd: inc.dir });
      refused(v, 7, new RegExp(`broken at seq ${forged.seq}: the identity registry of the ledger is broken at seq ${forged.seq}: registry change R-20990101-forged is not proven`));
      const p = runCli([...f, '--key', inc.operator2.key, 'apply', p1], { cwd: inc.dir });
      refused(p, 7, new RegExp(`does not verify at seq ${forged.seq}`));
      // the team's ledger itself is untouched
      assert.equal(runCli([...flags, 'log', 'verify'], { cwd: inc.dir }).code, 0);
    });
  });
}
