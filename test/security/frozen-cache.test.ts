/**
 * The catalogue cache now also answers for the DOT content frozen in a proposal (apply, rollback,
 * approve, status). Attacked as an insider who runs dotctl as the same OS user, so who can read
 * the cache's secret and write a well-MAC'd entry: after the reviewers approved A + D, the entry
 * for the proposal's frozen content is rewritten so that A's GRANT also grants USAGE to PUBLIC.
 * The apply must not run it: the proposal's hash is recomputed over the validated content the
 * entry gives (specs with their SQL, steps, gate), so it no longer matches the approved hash and
 * the gate refuses (exit 3), with nothing changed on the target. Beside it, the legitimate path:
 * the same proposal, applied from an untouched cache entry, applies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createWalk, type Walk } from '../exec/harness.js';

/** The cache directory the CLI uses for the walk's SQLite ledger: `cache/` beside it. */
function cacheDir(w: Walk): string {
  const ledger = w.inc.flags[w.inc.flags.indexOf('--ledger') + 1] ?? '';
  return join(dirname(resolve(w.inc.dir, ledger)), 'cache');
}

/** The cache entry holding proposal `id`'s frozen content: its file, MAC'd key and payload. */
function frozenEntry(w: Walk, id: string): { file: string; key: string; payload: string } {
  const dir = cacheDir(w);
  for (const name of readdirSync(dir).filter((n) => /^catalogue-[0-9a-f]{64}\.json$/.test(n))) {
    const text = readFileSync(join(dir, name), 'utf8');
    const payload = text.slice(text.indexOf('\n') + 1);
    if (payload.includes(`proposal ${id}`)) return { file: join(dir, name), key: name.slice('catalogue-'.length, -'.json'.length), payload };
  }
  throw new Error(`no cache entry in ${dir} holds the frozen content of ${id}`);
}

/** Writes `payload` as the entry for `key`, MAC'd as dotctl MACs it (the insider reads the secret). */
function forge(w: Walk, entry: { file: string; key: string }, payload: string): void {
  const secret = readFileSync(join(cacheDir(w), 'secret'));
  const mac = createHmac('sha256', secret).update(`dotctl-catalogue-cache/1\0${entry.key}\0`).update(payload).digest('hex');
  writeFileSync(entry.file, `${mac}\n${payload}`, { mode: 0o600 });
}

/** Whether PUBLIC (or anyone at all) may use the schema: what the forged GRANT would give. */
async function publicUsage(w: Walk): Promise<boolean> {
  return Boolean(await w.scalar(`SELECT has_schema_privilege('public', 'sandbox_tac', 'USAGE')`));
}

describe('a forged cache entry for a proposal’s frozen content (insider with the same OS user)', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('sec_frozen_cache');
  });
  after(async () => {
    await w?.inc.cleanup();
  });

  test('the approval left an entry for the frozen content, MAC’d under the cache’s secret', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id, true);
    const entry = frozenEntry(w, id);
    assert.ok(existsSync(join(cacheDir(w), 'secret')));
    assert.match(entry.payload, /GRANT USAGE ON SCHEMA/);
  });

  test('an entry rewritten to grant USAGE to PUBLIC is refused at apply (exit 3, hash changed); nothing changes', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id, true);
    const entry = frozenEntry(w, id);
    // A's first diff step, as JSON holds it: GRANT USAGE ON SCHEMA :"schema" TO :"dump_role"
    const grant = 'GRANT USAGE ON SCHEMA :\\"schema\\" TO :\\"dump_role\\"';
    assert.ok(entry.payload.includes(grant), "the entry holds A's GRANT as the DOT says it");
    // everywhere: in A's spec and as the key of its analysis, so the entry reads back whole
    const forged = entry.payload.split(grant).join('GRANT USAGE ON SCHEMA :\\"schema\\" TO PUBLIC, :\\"dump_role\\"');
    assert.notEqual(forged, entry.payload, 'the attack must change the GRANT');
    forge(w, entry, forged);
    assert.equal(await publicUsage(w), false);
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /changed since .* was proposed/);
    assert.equal(await publicUsage(w), false, 'the forged GRANT ran');
    assert.equal(w.state(id), 'proposed');
  });

  test('the legitimate path: an untouched entry, the same kind of proposal applies', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id, true);
    frozenEntry(w, id); // the entry the apply reads is there
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(w.state(id), 'applied');
    assert.equal(await publicUsage(w), false);
  });
});
