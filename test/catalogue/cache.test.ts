/**
 * The validated-catalogue cache, through the built CLI: a command whose catalogue texts this
 * build already validated takes the cached result; an entry altered by anyone without the 0600
 * secret is a miss (the catalogue is validated again and the output is what the texts say); a
 * changed file is validated again, so a catalogue made invalid is reported at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../helpers/cli.js';

function workspace(): { dots: string; cache: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'dotctl-cache-'));
  const dots = join(root, 'dots');
  cpSync(resolve('dots'), dots, { recursive: true });
  return { dots, cache: join(root, 'cache'), done: () => rmSync(root, { recursive: true, force: true }) };
}

const list = (dots: string, cache: string) => runCli(['--dots', dots, 'list', '--json'], { env: { DOTCTL_CACHE: cache } });

function entryOf(cache: string): string {
  const names = readdirSync(cache).filter((n) => n.startsWith('catalogue-'));
  assert.equal(names.length, 1, `one cache entry in ${names.join(', ')}`);
  return join(cache, names[0] as string);
}

/** Rewrites an entry's payload, signing it with `secret` (the owner) or keeping the old MAC (an intruder). */
function rewrite(file: string, edit: (payload: string) => string, secret: Buffer | null): void {
  const text = readFileSync(file, 'utf8');
  const nl = text.indexOf('\n');
  const payload = edit(text.slice(nl + 1));
  const key = /catalogue-([0-9a-f]{64})\.json$/.exec(file)?.[1] ?? '';
  const mac = secret ? createHmac('sha256', secret).update(`dotctl-catalogue-cache/1\0${key}\0`).update(payload).digest('hex') : text.slice(0, nl);
  writeFileSync(file, `${mac}\n${payload}`, { mode: 0o600 });
}

const retitle = (p: string): string => p.replaceAll('Grant the backup dump role read access to a schema', 'Forged title');

test('a tampered cache entry is a miss: the output is what the catalogue texts say', () => {
  const w = workspace();
  try {
    const first = list(w.dots, w.cache);
    assert.equal(first.code, 0, first.stderr);
    const entry = entryOf(w.cache);
    assert.equal(statSync(entry).mode & 0o777, 0o600);
    assert.equal(statSync(join(w.cache, 'secret')).mode & 0o777, 0o600);
    assert.equal(statSync(w.cache).mode & 0o777, 0o700);

    // the attack: change what the cache says DOT A is, without the secret
    rewrite(entry, retitle, null);
    const after = list(w.dots, w.cache);
    assert.equal(after.code, 0, after.stderr);
    assert.deepEqual(JSON.parse(after.stdout), JSON.parse(first.stdout));
    assert.doesNotMatch(after.stdout, /Forged title/);
  } finally {
    w.done();
  }
});

test('an entry signed with the secret is used (the cache is live), but not once the secret is readable by others', () => {
  const w = workspace();
  try {
    assert.equal(list(w.dots, w.cache).code, 0);
    const secret = readFileSync(join(w.cache, 'secret'));
    rewrite(entryOf(w.cache), retitle, secret);
    assert.match(list(w.dots, w.cache).stdout, /Forged title/);
    chmodSync(join(w.cache, 'secret'), 0o644);
    const r = list(w.dots, w.cache);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /Forged title/);
  } finally {
    w.done();
  }
});

test('a catalogue changed after it was cached is validated again: a new problem is reported (exit 2)', () => {
  const w = workspace();
  try {
    assert.equal(list(w.dots, w.cache).code, 0);
    const file = join(w.dots, 'DOT-PG-GRANT-SCHEMA.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^risk: reversible$/m, 'risk: sometimes'));
    const r = list(w.dots, w.cache);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /DOT-PG-GRANT-SCHEMA\.yaml:\d+:\d+: .*risk/);
  } finally {
    w.done();
  }
});

test('DOTCTL_CACHE=off writes no cache', () => {
  const w = workspace();
  try {
    const r = runCli(['--dots', w.dots, '--ledger', join(w.cache, '..', 'ledger.db'), 'list'], { env: { DOTCTL_CACHE: 'off' } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(join(w.cache, '..')).sort(), ['dots']);
  } finally {
    w.done();
  }
});
