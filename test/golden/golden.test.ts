import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { generateArtifacts } from './artifacts.js';

test('schemas/ and proposals/ are up to date (run npm run proposals after changing dots/ or the spec language)', async () => {
  const files = await generateArtifacts();
  for (const [path, text] of files) {
    const onDisk = await readFile(path, 'utf8').catch(() => null);
    assert.ok(onDisk !== null, `${path} is missing; run npm run proposals`);
    assert.equal(onDisk, text, `${path} is out of date; run npm run proposals and review the diff`);
  }
  // proposals made by `dotctl propose` (P-…) are the user's own, not golden files
  const stale = (await readdir('proposals')).filter((n) => n.startsWith('DOT-') && !files.has(`proposals/${n}`) && /\.(md|json)$/.test(n));
  assert.deepEqual(stale, [], 'proposals/ holds files no generator writes; run npm run proposals');
});

test('every DOT file points editors at the generated JSON Schema', async () => {
  for (const name of (await readdir('dots')).filter((n) => n.endsWith('.yaml'))) {
    const first = (await readFile(`dots/${name}`, 'utf8')).split('\n')[0];
    const schema = name === 'laws.yaml' ? 'laws.schema.json' : 'dot.schema.json';
    assert.equal(first, `# yaml-language-server: $schema=../schemas/${schema}`, `dots/${name} line 1`);
  }
});
