/**
 * Backup sets and alert endpoints through the built CLI, without a database: the seed's series of
 * nightly dumps (eight good nights, then the 20-byte gzip of nothing) fails `watch` at its first
 * broken file; a set whose newest good dump is too old fails; a directory that vanishes is one
 * sentence; a webhook that hangs is given up on after its timeout and the watch still ends, and
 * `--every` stops cleanly on SIGTERM. No proposal is applied, so no target is contacted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BIN, hasStackTrace, runCliAsync } from '../helpers/cli.js';
import { addAutomationIdentity, startListener, type Listener } from './listener.js';

const TRAILER = '\n--\n-- PostgreSQL database dump complete\n--\n\n';

let dir = '';
let backups = '';
let listener: Listener;
let key = '';

const DAY = 86_400_000;
const stamp = (t: Date): string => t.toISOString().slice(0, 10);

async function dump(name: string, payload: string, at: Date): Promise<void> {
  const path = join(backups, name);
  await writeFile(path, gzipSync(Buffer.from(payload), { level: 9 }));
  await utimes(path, at, at);
}

function workspace(extra: string[] = []): Promise<void> {
  return writeFile(
    join(dir, 'dotctl.yaml'),
    [
      'version: 1',
      'ledger: ledger.db',
      'identities: identities.yaml',
      'watch:',
      '  backup_sets:',
      '    - { name: pg-local, dir: backups, pattern: "directus_*.sql.gz", max_age_hours: 26, min_payload_bytes: 64 }',
      '  alerts:',
      `    - { kind: kuma_push, url: "${listener.url}/api/push/pg-backup-local", timeout_ms: 1000 }`,
      ...extra,
      '',
    ].join('\n'),
  );
}

async function watch(args: readonly string[] = ['--once', '--json']) {
  const r = await runCliAsync(['--key', key, 'watch', ...args], { cwd: dir });
  return {
    ...r,
    report: r.stdout.trim().startsWith('{') ? (JSON.parse(r.stdout) as { checks: { id: string; status: string; observed: string }[]; alerts: { ok: boolean; error: string | null }[] }) : null,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dotctl-watch-sets-'));
  backups = join(dir, 'backups');
  await mkdir(backups);
  listener = await startListener();
  await writeFile(join(dir, 'identities.yaml'), 'identities:\n');
  key = (await addAutomationIdentity(join(dir, 'identities.yaml'))).key;
  const reviewer = await addAutomationIdentity(join(dir, 'identities.yaml'), 'rhea', ['reviewer']);
  await workspace();
  // the ledger's genesis registry: the watch's automation identity and one reviewer, both signing
  const init = await runCliAsync(['--key', key, '--key', reviewer.key, 'ledger', 'init', '--quorum', '1'], { cwd: dir });
  assert.equal(init.code, 0, init.stderr);
  // eight good nights, the last one an hour ago (seed §2.1, moved to now)
  const now = Date.now();
  for (let i = 8; i >= 1; i -= 1) {
    const at = new Date(now - (i - 1) * DAY - 3_600_000);
    await dump(`directus_${stamp(at)}_0000.sql.gz`, `--\n-- PostgreSQL database dump\n--\n${'COPY x FROM stdin;\n1\tok\n\\.\n'.repeat(50 * i)}${TRAILER}`, at);
  }
});

after(async () => {
  await listener?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('eight good nights: the set holds, nothing is pushed', async () => {
  const r = await watch();
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(r.report!.checks[0]!.status, 'holding');
  assert.match(r.report!.checks[0]!.observed, /^newest dump directus_.*_0000\.sql\.gz is good/);
  assert.equal(listener.received.length, 0);
});

test("the seed's first 20-byte file fails the watch at once and pushes DOWN", async () => {
  const at = new Date(Date.now() + 60_000);
  await dump(`directus_${stamp(at)}_2359.sql.gz`, '', at); // gzip of nothing: 20 bytes, gzip -t calls it valid
  const r = await watch();
  assert.equal(r.code, 4);
  const c = r.report!.checks[0]!;
  assert.equal(c.status, 'failing');
  assert.match(c.observed, /newest dump directus_.*_2359\.sql\.gz \(20 B, .*\) is broken: the decompressed payload is 0 bytes/);
  assert.match(c.observed, /last good: directus_/);
  assert.equal(listener.received.at(-1)!.query.status, 'down');
});

test('a newest good dump that is too old fails: the backup stopped running', async () => {
  await rm(backups, { recursive: true });
  await mkdir(backups);
  const old = new Date(Date.now() - 30 * 3_600_000);
  await dump('directus_old_0000.sql.gz', `-- PostgreSQL database dump\n${'x'.repeat(200)}${TRAILER}`, old);
  const r = await watch();
  assert.equal(r.code, 4);
  assert.match(r.report!.checks[0]!.observed, /is good but 3\d(\.\d)? h old, more than the 26 h allowed/);
});

test('a backup directory that vanishes and a webhook that hangs: failing in one sentence, the watch ends, no stack trace', async () => {
  await workspace([`    - { kind: webhook, url: "${listener.url}/hang", timeout_ms: 300, retries: 1 }`]);
  await rm(backups, { recursive: true });
  // recover first (so the next failure is a change and alerts are sent)
  await mkdir(backups);
  await dump('directus_now_0000.sql.gz', `-- PostgreSQL database dump\n${'x'.repeat(200)}${TRAILER}`, new Date());
  const ok = await watch();
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  await rm(backups, { recursive: true });
  const r = await watch();
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.equal(hasStackTrace(r.stderr + r.stdout), false);
  assert.match(r.report!.checks[0]!.observed, /^cannot read the backup directory .*backups \(ENOENT\): it is gone or not readable/);
  const failed = r.report!.alerts.filter((a) => !a.ok);
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.error ?? '', /webhook http:\/\/127\.0\.0\.1:\d+\/…: no answer within 300 ms \(2 attempt\(s\)\)/);
  assert.ok(
    r.report!.alerts.some((a) => a.ok),
    'the other endpoint still got the alert',
  );
  // two attempts for the recovery (UP), two for this failure (DOWN)
  assert.equal(listener.received.filter((x) => x.path === '/hang').length, 4);
});

test('--every runs until SIGTERM and stops cleanly', async () => {
  const child = spawn(process.execPath, [BIN, '--key', key, 'watch', '--every', '200ms'], { cwd: dir, env: { ...process.env, DOTCTL_DEBUG: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise((r) => setTimeout(r, 1500));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  assert.equal(code, 0, stderr);
  assert.match(stdout, /backup set pg-local/);
  assert.match(stderr, /watch stopped/);
  assert.equal(hasStackTrace(stderr), false);
});

test('--every and --once together, or a bad interval, are bad input', async () => {
  const both = await runCliAsync(['--key', key, 'watch', '--once', '--every', '5m'], { cwd: dir });
  assert.equal(both.code, 2);
  const bad = await runCliAsync(['--key', key, 'watch', '--every', 'often'], { cwd: dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not an interval; write e\.g\. 30s, 5m or 1h/);
});
