import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, cpSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { runCli, hasStackTrace } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dotctl-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const MINI = 'test/fixtures/mini';

test('validate accepts a valid catalogue with exit 0', () => {
  const r = runCli(['--dots', MINI, 'validate']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 DOT\(s\) and 2 law\(s\) are valid/);
});

test('validate rejects a broken catalogue with every problem as file:line:col and exit 2', () => {
  const dir = join(tmp, 'broken');
  cpSync(MINI, dir, { recursive: true });
  const f = join(dir, 'DOT-T-GRANT.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace('risk: reversible', 'risk: maybe').replace('laws: [L1]', 'laws: [L1]\nlawz: [L2]'));
  const r = runCli(['--dots', dir, 'validate']);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0] ?? '', new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7:7: risk: `));
  assert.match(lines[1] ?? '', /DOT-T-GRANT\.yaml:10:1: unknown key "lawz" in document$/);
  assert.match(lines[2] ?? '', /2 problem\(s\)/);
  assert.equal(r.stdout, '');
  assert.ok(!hasStackTrace(r.stderr));
  const j = runCli(['--dots', dir, 'validate', '--json']);
  assert.equal(j.code, 2);
  assert.equal(JSON.parse(j.stdout).problems.length, 2);
});

test('validate lists a shape error, an unknown law, an undeclared parameter and a multi-statement pre-check in one run', () => {
  const dir = join(tmp, 'one-pass');
  cpSync(MINI, dir, { recursive: true });
  const f = join(dir, 'DOT-T-GRANT.yaml');
  const text = readFileSync(f, 'utf8')
    .replace('version: 1', 'version: one')
    .replace('laws: [L1]', 'laws: [L1, L2]')
    .replace("nspname = :'schema'", "nspname = :'schema' AND :'rle' <> ''")
    .replace('diff:\n', 'pre_check:\n  - kind: sql\n    name: nothing granted yet\n    sql: SELECT 1; SELECT 2\n    expect: { kind: rows, count: 1 }\ndiff:\n');
  writeFileSync(f, text);
  const r = runCli(['--dots', dir, 'validate']);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  const at = (re: RegExp): void =>
    assert.ok(
      lines.some((l) => l.startsWith(`${f}:`) && re.test(l)),
      `${re} not in\n${r.stderr}`,
    );
  at(/:2:10: version: Invalid input: expected number, received string$/);
  at(/:9:\d+: unknown law L2; known laws: L1, L-IRR; did you mean L1\?$/);
  at(/:23:20: pre_check\[0\] "nothing granted yet": a check must be exactly one read-only statement .*found 2 statements/);
  at(/:18:10: :'rle' is used but no parameter rle is declared under params; did you mean role\?$/);
  assert.match(lines.at(-1) ?? '', /4 problem\(s\)/);
  assert.equal(lines.length, 5, r.stderr);
  assert.ok(!hasStackTrace(r.stderr));
});

test('DOTCTL_DOTS is honoured and a missing directory is one clear sentence, exit 2', () => {
  assert.equal(runCli(['validate'], { env: { DOTCTL_DOTS: MINI } }).code, 0);
  const r = runCli(['--dots', join(tmp, 'nope'), 'validate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^dotctl: cannot read the DOT directory .*nope \(ENOENT\); point --dots or DOTCTL_DOTS at the catalogue \(dotctl ships one in (\/.+\/dots\/)\)\n$/);
  // The named catalogue is real: the way out works.
  const shipped = /ships one in (\/.+\/dots\/)\)/.exec(r.stderr)?.[1] ?? '';
  assert.equal(runCli(['--dots', shipped, 'validate']).code, 0);
});

test('list and show print the catalogue, --json for tools', () => {
  const l = runCli(['--dots', MINI, 'list']);
  assert.equal(l.code, 0);
  assert.match(l.stdout, /^OPTION\s+DOT\s+RISK\s+APPROVALS\s+LAWS\s+TITLE\n/);
  assert.match(l.stdout, /C2\s+DOT-T-DROP\s+irreversible\s+2 \(dual\)\s+L1 L-IRR\s+Drop schema/);
  const j = JSON.parse(runCli(['--dots', MINI, 'list', '--json']).stdout) as { id: string; approvals_required: number }[];
  assert.deepEqual(
    j.map((d) => [d.id, d.approvals_required]),
    [
      ['DOT-T-GRANT', 1],
      ['DOT-T-DROP', 2],
      ['DOT-T-HARDEN', 1],
    ],
  );
  const s = runCli(['--dots', MINI, 'show', 'c2']);
  assert.equal(s.code, 0);
  assert.match(s.stdout, /DOT-T-DROP \(option C2, v1\): Drop schema/);
  assert.match(s.stdout, /Dual control: 2 distinct reviewers/);
  const u = runCli(['--dots', MINI, 'show', 'DOT-NOPE']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /no DOT "DOT-NOPE" in the catalogue; known DOTs: DOT-T-DROP, DOT-T-GRANT, DOT-T-HARDEN/);
});

test('render is pure and deterministic; --out writes Markdown and canonical JSON whose sha256 is the hash', () => {
  const a = runCli(['--dots', MINI, 'render', 'A', 'D', '-p', 'role=backup_role']);
  const b = runCli(['--dots', MINI, 'render', 'A', 'D', '-p', 'role=backup_role']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.match(a.stdout, /GRANT USAGE ON SCHEMA "sandbox_tac" TO "backup_role"/);
  const out = join(tmp, 'p.md');
  const w = runCli(['--dots', MINI, 'render', 'A', 'D', '-p', 'role=backup_role', '--out', out]);
  assert.equal(w.code, 0, w.stderr);
  const hash = /: ([0-9a-f]{64})/.exec(w.stdout)?.[1];
  assert.equal(
    createHash('sha256')
      .update(readFileSync(join(tmp, 'p.json')))
      .digest('hex'),
    hash,
  );
  assert.equal(readFileSync(out, 'utf8'), a.stdout);
  assert.ok(!existsSync('.dotctl'), 'render must not create a ledger');
});

for (const [param, value, why] of [
  ['schema', 'a;b', /parameter schema \(identifier\) value "a;b" is not a valid identifier/],
  ['role', 'x y', /parameter role \(identifier\) value "x y" is not a valid identifier/],
  ['role', 'r"; DROP ROLE postgres; --', /parameter role \(identifier\)/],
  ['script', '/opt/../etc/passwd', /parameter script \(path\) value "\/opt\/..\/etc\/passwd" contains a ".." segment/],
  ['nope', '1', /parameter nope is not declared by DOT-T-HARDEN \+ DOT-T-GRANT/],
] as const) {
  test(`render refuses ${param}=${JSON.stringify(value)} with exit 2 naming the parameter`, () => {
    const r = runCli(['--dots', MINI, 'render', 'A', 'D', '-p', `${param}=${value}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(r.stdout, '');
  });
}

test('usage errors exit 2; --help exits 0; internal details only with DOTCTL_DEBUG=1', () => {
  assert.equal(runCli(['render']).code, 2);
  assert.equal(runCli(['frobnicate']).code, 2);
  const h = runCli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: dotctl/);
  // the fast --help (pre-rendered by the build) says exactly what commander says
  assert.equal(h.stdout, runCli(['help']).stdout);
  assert.match(h.stdout, /audit-backups/);
});
