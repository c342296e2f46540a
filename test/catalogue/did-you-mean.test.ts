import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestName, didYouMean } from '../../src/catalogue/did-you-mean.js';

test('a typo of a known name is answered with that name', () => {
  assert.equal(closestName('equal', ['kind', 'equals']), 'equals');
  assert.equal(closestName('transactionl', ['kind', 'name', 'sql', 'expect', 'transactional']), 'transactional');
  assert.equal(closestName('sqll', ['sql', 'patch', 'command']), 'sql');
  assert.equal(closestName('SQL', ['sql', 'patch']), 'sql', 'case does not count as a typo');
  assert.equal(closestName('comand', ['command', 'archive']), 'command');
  assert.equal(closestName('schem', ['schema', 'role']), 'schema');
});

test('a name far from every known one gets no suggestion', () => {
  assert.equal(closestName('shell', ['sql', 'patch', 'command', 'host']), null);
  assert.equal(closestName('L99', ['L1', 'L-IRR']), null);
  assert.equal(closestName('x', []), null);
});

test('the closest of several close names wins, ties in sorted order', () => {
  assert.equal(closestName('rowss', ['row', 'rows']), 'rows');
  assert.equal(closestName('ab', ['ac', 'aa']), 'aa');
});

test('didYouMean phrases the suggestion or says nothing', () => {
  assert.equal(didYouMean('equal', ['equals']), '; did you mean "equals"?');
  assert.equal(didYouMean('nope', ['note'], false), '; did you mean note?');
  assert.equal(didYouMean('zzz', ['equals']), '');
});
