/**
 * Hostile input through the built CLI against a real PostgreSQL (threat model points 4 and 9):
 * option injection through a parameter, Markdown structure injected through a parameter, and a
 * target URL whose query parameters send the change to another server than the one approved.
 * Each attack sits beside the legitimate path it must not break.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { createIncident, paramsFor, type Incident } from '../helpers/incident.js';
import { createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { sectionHeadings, structuralProblems } from '../render/markdown-structure.js';
import { admitAll } from '../helpers/admission.js';

describe('hostile input through the CLI', () => {
  let inc: Incident;
  let cwd: string;
  let other: ScratchDb;
  const as = (key: string, args: string[], flags: readonly string[] = inc.flags) => runCli([...flags, '--key', key, ...args], { cwd });
  const withTarget = (url: string): string[] => {
    const f = [...inc.flags];
    f[f.indexOf('--target') + 1] = url;
    return f;
  };

  before(async () => {
    inc = await createIncident('hostile');
    other = await createScratchDb('hostile_other');
    cwd = await mkdtemp(join(tmpdir(), 'dotctl-hostile-cwd-'));
    // the catalogue is admitted, so what is refused below is refused for the hostile value alone
    admitAll(inc.flags, [inc.reviewer1, inc.reviewer2], cwd);
  });
  after(async () => {
    await inc?.cleanup();
    await other?.drop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('-p backup_dir=-delete is refused (exit 2) and the working directory is untouched', async () => {
    // the adversary makes `-delete` pass the "backup directory exists" hard stop
    await mkdir(join(cwd, '-delete'));
    await writeFile(join(cwd, 'canary.txt'), 'still here\n');
    const r = as(inc.operator.key, ['propose', 'A', 'D', ...(await paramsFor(inc, ['A', 'D'], { backup_dir: '-delete' }))]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /backup_dir/);
    assert.match(r.stderr, /\.\/-delete/, 'the refusal names the way out');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!hasStackTrace(r.stderr));
    assert.deepEqual((await readdir(cwd)).sort(), ['-delete', 'canary.txt']);
    assert.equal(await readFile(join(cwd, 'canary.txt'), 'utf8'), 'still here\n');
  });

  test('the same directory written ./-delete is accepted and nothing in the working directory is deleted', async () => {
    const r = as(inc.operator.key, ['propose', 'A', 'D', ...(await paramsFor(inc, ['A', 'D'], { backup_dir: './-delete' })), '--json', '--out', join(inc.dir, 'dash.md')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(cwd)).sort(), ['-delete', 'canary.txt']);
  });

  test('the legitimate propose of A + D still works on the incident', async () => {
    const r = as(inc.operator.key, ['propose', 'A', 'D', ...(await paramsFor(inc, ['A', 'D'])), '--json', '--out', join(inc.dir, 'ok.md')]);
    assert.equal(r.code, 0, r.stderr);
  });

  for (const [label, suffix] of [
    ['?host=', '?host=127.0.0.1'],
    ['?port=', '?port=5432'],
    ['?dbname=', '?dbname=postgres'],
    ['?options=', '?options=-c%20search_path%3Devil'],
    ['?user=', '?user=postgres'],
  ] as const) {
    test(`a target URL with ${label} is refused (exit 2, one sentence)`, async () => {
      const url = `${inc.db.url}${suffix}`;
      const r = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D']))], withTarget(url));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(label.slice(1, -1)));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }

  test('a URL whose authority names another host than ?host= reaches is refused, not recorded as the other host', async () => {
    const url = `postgres://postgres@10.255.255.1:5432/${inc.db.name}?host=127.0.0.1`;
    const r = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D']))], withTarget(url));
    assert.equal(r.code, 2, r.stderr);
  });

  test('a URL with several hosts is refused', async () => {
    const r = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D']))], withTarget(`postgres://postgres@127.0.0.1,localhost/${inc.db.name}`));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /one host/);
  });

  test('the proposal binds the server, not the URL spelling: localhost and 127.0.0.1 give the same target', async () => {
    const a = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D'])), '--json', '--out', join(inc.dir, 'l1.md')], withTarget(`postgres://postgres@localhost:5432/${inc.db.name}`));
    const b = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D'])), '--json', '--out', join(inc.dir, 'l2.md')], withTarget(`postgresql://postgres@127.0.0.1/${inc.db.name}`));
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ta = (JSON.parse(a.stdout) as { target: string; hash: string }).target;
    const tb = (JSON.parse(b.stdout) as { target: string; hash: string }).target;
    assert.equal(ta, tb);
    assert.match(ta, /^pg:\d+\/\d+\//);
    const c = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D'])), '--json', '--out', join(inc.dir, 'l3.md')], withTarget(other.url));
    assert.equal(c.code, 0, c.stderr);
    assert.notEqual((JSON.parse(c.stdout) as { target: string }).target, ta, 'another database on the same server is another target');
  });

  test('a hostile text parameter cannot hide any section of the proposal a reviewer reads', async () => {
    const hostile = 'http://x/`` ```\n<!--\n# Forged heading\n| a | b |\n[click](javascript:alert(1)) <script>alert(1)</script>';
    const normal = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D'])), '--out', join(inc.dir, 'normal.md')]);
    assert.equal(normal.code, 0, normal.stderr);
    const r = as(inc.operator.key, ['propose', 'D', ...(await paramsFor(inc, ['D'], { verify_push_url: hostile })), '--out', join(inc.dir, 'hostile.md')]);
    assert.equal(r.code, 0, r.stderr);
    // the first line is the proposal's own header comment (its id and time differ)
    const body = async (f: string) => (await readFile(join(inc.dir, f), 'utf8')).split('\n').slice(1).join('\n');
    const md = await body('hostile.md');
    const want = sectionHeadings(await body('normal.md'));
    assert.ok(want.length > 10);
    assert.deepEqual(sectionHeadings(md), want, 'every section of the normal proposal, and no forged one');
    assert.deepEqual(structuralProblems(md), structuralProblems(await body('normal.md')));
    assert.ok(md.includes('"http://x/`` ```\\n<!--\\n# Forged heading'), 'the value is shown, escaped');
  });
});
