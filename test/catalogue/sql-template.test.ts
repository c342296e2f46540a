import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanSqlRefs, substituteSql, quoteIdent, quoteLiteral } from '../../src/catalogue/sql-template.js';

test('finds literal and identifier references in order', () => {
  const refs = scanSqlRefs(`GRANT USAGE ON SCHEMA :"schema" TO :"role"; SELECT :'schema'`);
  assert.deepEqual(
    refs.map((r) => [r.kind, r.name]),
    [
      ['identifier', 'schema'],
      ['identifier', 'role'],
      ['literal', 'schema'],
    ],
  );
});

test('ignores colons in casts, strings, quoted identifiers, comments and dollar quotes', () => {
  const sql = [
    "SELECT x::text, ':'||'a', ':''notref', E'\\':not'",
    `FROM "weird:'name'" -- :'comment'`,
    '/* :\'block\' /* nested :"x" */ */',
    "WHERE y = $$ :'dollar' $$ AND z = $tag$ :\"t\" $tag$ AND w = :'real'",
  ].join('\n');
  const refs = scanSqlRefs(sql);
  assert.deepEqual(
    refs.map((r) => `${r.kind}:${r.name}`),
    ['literal:real'],
  );
});

test('reports bare :name references so validation can refuse raw pasting', () => {
  const refs = scanSqlRefs('SELECT :schema, arr[1:2]');
  assert.deepEqual(
    refs.map((r) => `${r.kind}:${r.name}`),
    ['bare:schema'],
  );
});

test('substitution quotes hostile values so they stay one token', () => {
  const out = substituteSql(`GRANT USAGE ON SCHEMA :"s" TO x; COMMENT ON SCHEMA x IS :'c'`, (ref) =>
    ref.kind === 'identifier' ? quoteIdent('a"; DROP TABLE t; --') : quoteLiteral("it's'; DROP TABLE t; --"),
  );
  assert.equal(out, `GRANT USAGE ON SCHEMA "a""; DROP TABLE t; --" TO x; COMMENT ON SCHEMA x IS 'it''s''; DROP TABLE t; --'`);
});

test('literals with backslashes use the E-string form and NUL is refused', () => {
  assert.equal(quoteLiteral('a\\b'), "E'a\\\\b'");
  assert.throws(() => quoteLiteral('a\0b'));
});
