import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadCatalogue } from '../../src/catalogue/load.js';
import { bindParams } from '../../src/catalogue/params.js';
import { renderProposal, findSecretLeak } from '../../src/render/proposal.js';
import { orderBundle } from '../../src/catalogue/bundle.js';
import { CheckError } from '../../src/model/errors.js';
import type { Catalogue } from '../../src/catalogue/validate.js';

const cat: Catalogue = await loadCatalogue('test/fixtures/mini');

function render(ids: string[], raw: Record<string, string> = {}, target: string | null = null) {
  const dots = orderBundle(ids.map((id) => cat.dots.get(id)!));
  return renderProposal({
    dots,
    laws: cat.laws,
    params: bindParams(
      dots.map((d) => d.spec),
      raw,
    ),
    target,
  });
}

test('same input renders byte-identical Markdown and canonical JSON', () => {
  const a = render(['DOT-T-GRANT', 'DOT-T-HARDEN']);
  const b = render(['DOT-T-GRANT', 'DOT-T-HARDEN']);
  assert.equal(a.markdown, b.markdown);
  assert.equal(a.canonical, b.canonical);
});

test('the hash is the SHA-256 of the canonical JSON shown in the Markdown', () => {
  const r = render(['DOT-T-GRANT']);
  assert.equal(r.hash, createHash('sha256').update(r.canonical).digest('hex'));
  assert.ok(r.markdown.includes(`| Hash (SHA-256) | \`${r.hash}\` |`));
  assert.ok(r.markdown.includes(r.canonical));
});

test('a parameter change or a target change gives another hash', () => {
  const base = render(['DOT-T-GRANT']).hash;
  assert.notEqual(render(['DOT-T-GRANT'], { role: 'backup' }).hash, base);
  assert.notEqual(render(['DOT-T-GRANT'], {}, 'pg:abc').hash, base);
});

test('companions in a bundle come first, whatever order they were named in', () => {
  const r = render(['DOT-T-GRANT', 'DOT-T-HARDEN']);
  assert.match(r.markdown, /\| DOTs \(apply order\) \| DOT-T-HARDEN → DOT-T-GRANT \|/);
});

test('SQL is rendered with quoted identifiers and literals, hostile text stays inside its quotes', () => {
  const r = render(['DOT-T-GRANT'], { note: "x'; DROP TABLE t; --" });
  assert.ok(r.markdown.includes(`COMMENT ON SCHEMA "sandbox_tac" IS 'x''; DROP TABLE t; --'`));
  assert.ok(r.markdown.includes('GRANT USAGE ON SCHEMA "sandbox_tac" TO "directus"'));
});

test('the irreversible DOT renders dual control, archive mandate and the shorter TTL of its law', () => {
  const r = render(['DOT-T-DROP']);
  assert.equal(r.requirements.minApprovals, 2);
  assert.equal(r.requirements.dualControl, true);
  assert.equal(r.requirements.approvalTtlHours, 4);
  assert.match(r.markdown, /Dual control: 2 distinct reviewers must approve \(L-IRR, risk:irreversible\)/);
  assert.match(r.markdown, /Archive before the diff: mandatory/);
});

test('the secret-hygiene hard stop catches what looks like a leaked secret', () => {
  assert.equal(findSecretLeak(`CREATE ROLE "r" LOGIN PASSWORD '<secret from $PW>'`), null);
  assert.equal(findSecretLeak(`CREATE ROLE "r" LOGIN PASSWORD 'hunter2'`), 'a password literal');
  assert.equal(findSecretLeak('curl postgres://u:pw@h/db'), 'a connection URL with a password');
  assert.equal(findSecretLeak('http://localhost:3001/api/push/pg-backup-local'), null);
  assert.throws(
    () => render(['DOT-T-GRANT'], { note: 'see token=abcdef0123456789' }),
    (e: unknown) => e instanceof CheckError && e.exitCode === 4 && !/abcdef0123456789/.test(e.message),
  );
});
