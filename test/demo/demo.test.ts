/**
 * `dotctl demo` through the built binary, as a newcomer runs it: every stage heading, exit 0,
 * and nothing left behind — no database or role with its prefix, no work directory. A stage
 * whose claim does not hold stops the demo with a clear message, a non-zero exit, and the same
 * clean-up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.js';
import { ADMIN_URL, adminClient } from '../helpers/pg.js';

const HEADINGS = [
  /── 1\/8 · The incident: schema sandbox_tac/,
  /── 2\/8 · The nightly backup before the fix/,
  /── 3\/8 · Identities/,
  /── 4\/8 · Fix now .*A GRANT \+ D harden/,
  /── 5\/8 · The watch: the next schema without grants is caught at once/,
  /── 6\/8 · A restore drill: the newest good backup restored and compared/,
  /── 7\/8 · The root cause removed: C2/,
  /── 8\/8 · The auditor reads dot_action_log/,
];

/** Databases and roles whose names start with `prefix`. */
async function leftovers(prefix: string): Promise<string[]> {
  const c = await adminClient();
  try {
    const r = await c.query(
      `SELECT 'database ' || datname AS what FROM pg_database WHERE starts_with(datname, $1)
       UNION ALL SELECT 'role ' || rolname FROM pg_roles WHERE starts_with(rolname, $1)`,
      [prefix],
    );
    return r.rows.map((x) => String(x.what));
  } finally {
    await c.end();
  }
}

function scratchOf(stdout: string): { prefix: string; workDir: string } {
  const prefix = /databases and roles named (dotctl_demo_[0-9a-f]{6})\*/.exec(stdout)?.[1];
  const workDir = /work dir +(\S+)/.exec(stdout)?.[1];
  assert.ok(prefix && workDir, `the demo names its scratch prefix and work dir:\n${stdout.slice(0, 800)}`);
  return { prefix, workDir };
}

const env = { DOTCTL_TARGET: ADMIN_URL };

test('dotctl demo runs the incident end to end, exits 0 and leaves nothing behind', async () => {
  const r = runCli(['demo'], { env });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  for (const h of HEADINGS) assert.match(r.stdout, h);
  assert.equal(r.stdout.match(/✓ stage \d did what it claims/g)?.length, 8);
  // the key evidence of each stage is printed
  assert.match(r.stdout, /= 243 live rows/);
  assert.match(r.stdout, /left behind: directus_\S+\.sql\.gz, 20 bytes/);
  assert.match(r.stdout, /gzip -t directus_\S+: exit 0 — gzip calls it valid/);
  assert.match(r.stdout, /backup audit: payload 0 bytes → BROKEN/);
  assert.match(r.stdout, /heartbeat: up \(msg=OK\) to \/api\/push\/pg-backup-local/);
  assert.match(r.stdout, /restore: .* sandbox_tac rows 76\/76\/76\/11\/3\/1\/0\/0 = 243/);
  assert.match(r.stdout, /heartbeat: down \(msg=backup_failed_rc1\) to \/api\/push\/pg-backup-local/);
  assert.match(r.stdout, /restored directus_\S+\.sql\.gz .* into dotctl_drill_[0-9a-f]{12} in \d+\.\d s: \d+ tables, 243 rows/);
  assert.match(r.stdout, /recovery time \d+ ms for directus_\S+\.sql\.gz .*; dotctl_drill_[0-9a-f]{12} dropped: yes/);
  assert.match(r.stdout, /refused, exit 3 \(GateError\)/);
  assert.match(r.stdout, /pg_restore --list: exit 0, \d+ entries, 8 TABLE DATA/);
  assert.match(r.stdout, /log verify: dot_action_log intact — \d+ rows/);
  assert.match(r.stdout, /every stage did what it claims — total \d+\.\d s/);

  const { prefix, workDir } = scratchOf(r.stdout);
  assert.deepEqual(await leftovers(prefix), []);
  assert.equal(existsSync(workDir), false, `${workDir} is removed`);
});

test('dotctl demo --json reports every stage with its key facts', async () => {
  const r = runCli(['demo', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    ok: boolean;
    prefix: string;
    stages: { n: number; ok: boolean; facts: Record<string, unknown> }[];
    leftovers: string[];
  };
  assert.equal(j.ok, true);
  assert.deepEqual(
    j.stages.map((s) => [s.n, s.ok]),
    [
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, true],
      [6, true],
      [7, true],
      [8, true],
    ],
  );
  const [s1, s2, , s4, w, drill, s5, s6] = j.stages;
  assert.match(String(w?.facts.drafted), /^P-/);
  assert.deepEqual(w?.facts.pushed, ['down', 'up']);
  assert.equal(s1?.facts.total_rows, 243);
  assert.deepEqual([s2?.facts.bytes, s2?.facts.gzip_test, s2?.facts.payload_bytes, s2?.facts.verdict, s2?.facts.pushes], [20, 0, 0, 'broken', 0]);
  assert.ok(s4?.facts.good_backup.bytes > 1024);
  assert.equal(s4?.facts.good_backup.push, 'up');
  assert.deepEqual(s4?.facts.forced_failure, { exit_code: 1, artefacts: 0, push: 'down' });
  assert.equal(drill?.facts.rows, 243);
  assert.equal(drill?.facts.scratch_dropped, true);
  assert.equal(typeof drill?.facts.restore_ms, 'number');
  assert.equal(s5?.facts.refused_exit_code, 3);
  assert.equal(s5?.facts.archive.table_data, 8);
  assert.equal(s5?.facts.archive.restored_rows, 243);
  assert.match(String(s6?.facts.head_hash), /^[0-9a-f]{64}$/);
  assert.deepEqual(j.leftovers, []);
  assert.deepEqual(await leftovers(j.prefix), []);
});

let shim = '';
before(async () => {
  // A gzip whose -t rejects everything: the claim "gzip -t calls the 20-byte file valid" no longer holds.
  shim = await mkdtemp(join(tmpdir(), 'dotctl-demo-shim-'));
  await writeFile(join(shim, 'gzip'), `#!/bin/sh\nif [ "$1" = "-t" ]; then echo "shim: gzip -t refused" >&2; exit 1; fi\nexec ${await realGzip()} "$@"\n`);
  await chmod(join(shim, 'gzip'), 0o755);
});
after(async () => {
  if (shim) await rm(shim, { recursive: true, force: true });
});

async function realGzip(): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('sh', ['-c', 'command -v gzip'], { encoding: 'utf8' }).trim();
}

test('a stage whose claim does not hold stops the demo: clear message, exit 1, everything dropped', async () => {
  const r = runCli(['demo'], { env: { ...env, PATH: `${shim}:${process.env.PATH ?? ''}` } });
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /✓ stage 1 did what it claims/);
  assert.match(r.stdout, /✗ stage 2 \(The nightly backup before the fix\) did not do what it claims: gzip -t must call the 20-byte artefact valid/);
  assert.doesNotMatch(r.stdout, /── 3\/8/, 'the demo stops at the first failed claim');
  assert.match(r.stdout, /the demo stopped: stage 2/);
  assert.ok(!hasStackTrace(r.stdout + r.stderr));
  const { prefix, workDir } = scratchOf(r.stdout);
  assert.match(r.stdout, /cleaned up: 1 database\(s\), 2 role\(s\) and the work dir removed/);
  assert.deepEqual(await leftovers(prefix), []);
  assert.equal(existsSync(workDir), false);
});

test('an unreachable server is one clear line (exit 8) and creates nothing', () => {
  const r = runCli(['demo'], { env: { DOTCTL_TARGET: 'postgres://postgres@127.0.0.1:1/postgres' } });
  assert.equal(r.code, 8, r.stdout + r.stderr);
  assert.match(r.stderr, /^dotctl: cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1 .*DOTCTL_TARGET/m);
  assert.ok(!hasStackTrace(r.stderr));
});
