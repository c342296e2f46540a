import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSql, neutralizeParams, type StatementInfo } from '../../src/catalogue/sql-analysis.js';

/** The statements of `sql`, or a failed assertion naming the syntax error. */
function stmts(sql: string): readonly StatementInfo[] {
  const a = analyzeSql(sql);
  assert.equal(a.kind, 'ok', a.kind === 'syntax_error' ? a.message : '');
  return a.kind === 'ok' ? a.statements : [];
}
const one = (sql: string): StatementInfo => {
  const s = stmts(sql);
  assert.equal(s.length, 1, `${sql}: ${s.map((x) => x.label).join(', ')}`);
  return s[0]!;
};

test('read-only statements: SELECT, SHOW, EXPLAIN, VALUES, TABLE', () => {
  for (const sql of [
    'SELECT 1',
    "SELECT nspname FROM pg_namespace WHERE nspname = :'schema'",
    'SELECT count(*) FROM (SELECT * FROM t) s JOIN u USING (id)',
    'WITH x AS (SELECT 1 AS a) SELECT a FROM x',
    'SHOW statement_timeout',
    'EXPLAIN SELECT * FROM t',
    'EXPLAIN DELETE FROM t', // EXPLAIN without ANALYZE runs nothing
    'EXPLAIN ANALYZE SELECT 1',
    'VALUES (1, 2), (3, 4)',
    'TABLE pg_namespace',
    "SELECT 'COMMIT; DROP SCHEMA x CASCADE' AS harmless",
    'SELECT $$; DROP TABLE t; $$',
    '/* DROP TABLE t; */ SELECT 1 -- ; COMMIT',
  ]) {
    const s = one(sql);
    assert.equal(s.readOnly, true, `${sql} should be read-only (${s.label})`);
    assert.equal(s.transactionControl || s.noTransactionBlock || s.destructive !== null, false, sql);
  }
});

test('a query that writes, locks or acts outside its rows is not read-only', () => {
  const cases: [string, RegExp][] = [
    ['WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', /data-modifying DELETE/],
    ['WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x', /data-modifying INSERT/],
    ['SELECT * FROM (SELECT * FROM t FOR UPDATE) s', /locking clause/],
    ['SELECT * INTO new_table FROM t', /INTO creates a table/],
    ['SELECT 1 FROM t FOR UPDATE', /locking clause/],
    ['SELECT 1 FROM t FOR SHARE SKIP LOCKED', /locking clause/],
    ['SELECT pg_terminate_backend(42)', /pg_terminate_backend\(\) has side effects/],
    ["SELECT pg_catalog.set_config('transaction_read_only', 'off', false)", /set_config\(\) has side effects/],
    ["SELECT dblink_exec('dbname=x', 'DROP TABLE t')", /dblink_exec/],
    ["SELECT nextval('s')", /nextval/],
  ];
  for (const [sql, why] of cases) {
    const s = one(sql);
    assert.equal(s.readOnly, false, sql);
    assert.match(s.label, why, sql);
  }
  const explain = one('EXPLAIN ANALYZE DELETE FROM t');
  assert.equal(explain.readOnly, false);
  assert.equal(explain.label, 'EXPLAIN ANALYZE DELETE');
  assert.match(explain.destructive ?? '', /DELETE without WHERE/);
  assert.equal(one('EXPLAIN (ANALYZE false) DELETE FROM t').readOnly, true);
  for (const sql of ['INSERT INTO t VALUES (1)', "COPY t TO PROGRAM 'cat > /tmp/x'", 'CALL p()', 'DO $$ BEGIN END $$', 'CREATE TABLE t (a int)', 'GRANT SELECT ON t TO r', 'LOCK TABLE t']) {
    assert.equal(one(sql).readOnly, false, sql);
  }
});

test('several statements are seen as several, whatever hides them', () => {
  assert.deepEqual(
    stmts('SELECT 1; COMMIT; DROP SCHEMA x CASCADE').map((s) => s.label),
    ['SELECT', 'COMMIT', 'DROP SCHEMA … CASCADE'],
  );
  const hidden = stmts('SELECT 1 /* ; */ ;\n-- COMMIT here is a comment\n  ROLLBACK ; drop table t');
  assert.deepEqual(
    hidden.map((s) => s.label),
    ['SELECT', 'ROLLBACK', 'DROP TABLE'],
  );
  // offsets point at the statement itself, past whitespace and comments
  assert.equal(hidden[1]!.start, 'SELECT 1 /* ; */ ;\n-- COMMIT here is a comment\n  '.length);
  assert.equal(stmts('  -- only a comment\n').length, 0);
  assert.equal(stmts('').length, 0);
});

test('transaction control, in every spelling', () => {
  for (const sql of [
    'BEGIN',
    'START TRANSACTION READ WRITE',
    'COMMIT',
    'END',
    'ROLLBACK',
    'ABORT',
    'SAVEPOINT a',
    'RELEASE SAVEPOINT a',
    'ROLLBACK TO SAVEPOINT a',
    "PREPARE TRANSACTION 'x'",
    "COMMIT PREPARED 'x'",
    "ROLLBACK PREPARED 'x'",
    'SET TRANSACTION READ WRITE',
    'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
    'SET transaction_read_only = off',
    'SET default_transaction_read_only = off',
  ]) {
    const s = one(sql);
    assert.equal(s.transactionControl, true, sql);
    assert.equal(s.readOnly, false, sql);
  }
  assert.equal(one('SET lock_timeout = 1000').transactionControl, false);
});

test('statements that cannot run in a transaction block', () => {
  for (const sql of [
    'CREATE INDEX CONCURRENTLY i ON t (a)',
    'DROP INDEX CONCURRENTLY i',
    'REINDEX TABLE CONCURRENTLY t',
    'REINDEX DATABASE d',
    'VACUUM t',
    'VACUUM (ANALYZE) t',
    'CREATE DATABASE d',
    'DROP DATABASE d',
    "ALTER SYSTEM SET work_mem = '1MB'",
    "CREATE TABLESPACE ts LOCATION '/x'",
    'DROP TABLESPACE ts',
    'CLUSTER',
    'DISCARD ALL',
  ]) {
    assert.equal(one(sql).noTransactionBlock, true, sql);
  }
  for (const sql of ['CREATE INDEX i ON t (a)', 'DROP INDEX i', 'REINDEX TABLE t', 'ANALYZE t', 'CLUSTER t USING i']) {
    assert.equal(one(sql).noTransactionBlock, false, sql);
  }
});

test('destructive statements name why', () => {
  const cases: [string, RegExp][] = [
    ['DROP TABLE t', /DROP TABLE destroys what the table holds/],
    ['DROP SCHEMA s', /DROP SCHEMA/],
    ['DROP SCHEMA s CASCADE', /CASCADE also drops every object/],
    ['DROP VIEW v CASCADE', /CASCADE/],
    ['DROP SEQUENCE s', /SEQUENCE/],
    ['DROP MATERIALIZED VIEW m', /MATERIALIZED VIEW/],
    ['DROP TYPE e', /TYPE/],
    ['DROP EXTENSION x', /EXTENSION/],
    ['DROP ROLE r', /identity/],
    ['DROP USER r', /identity/],
    ['DROP DATABASE d', /database/],
    ['DROP OWNED BY r', /every object a role owns/],
    ['REASSIGN OWNED BY a TO b', /cannot be undone/],
    ['TRUNCATE t', /every row/],
    ['DELETE FROM t', /without WHERE/],
    ['UPDATE t SET a = 1', /without WHERE/],
    ['ALTER TABLE t DROP COLUMN a', /DROP COLUMN/],
    ['ALTER TABLE t ALTER COLUMN a TYPE text', /TYPE rewrites/],
    ['DO $$ BEGIN EXECUTE $q$DROP TABLE t$q$; END $$', /cannot be classified/],
    ['CALL cleanup()', /cannot be classified/],
    ["COPY t TO PROGRAM 'rm -rf /'", /shell command/],
    ["COPY t TO '/etc/passwd'", /overwrites/],
    ['WITH x AS (DELETE FROM t RETURNING 1) SELECT 1', /without WHERE/],
    ['SELECT lo_unlink(16400)', /lo_unlink/],
  ];
  for (const [sql, why] of cases) assert.match(one(sql).destructive ?? '(not destructive)', why, sql);
  for (const sql of [
    'GRANT USAGE ON SCHEMA s TO r',
    'REVOKE USAGE ON SCHEMA s FROM r',
    'CREATE ROLE r LOGIN',
    'DROP INDEX i',
    'DROP VIEW v',
    'DROP FUNCTION f()',
    'DELETE FROM t WHERE id = 1',
    'UPDATE t SET a = 1 WHERE id = 2',
    'ALTER TABLE t ADD COLUMN b int',
    'ALTER TABLE t RENAME TO u',
    "COMMENT ON SCHEMA s IS 'x'",
    'ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO r',
    'EXPLAIN DELETE FROM t',
    'COPY t FROM STDIN',
  ]) {
    assert.equal(one(sql).destructive, null, sql);
  }
});

test('parameters: same-length placeholders, so positions still point at what was written', () => {
  const sql = `GRANT USAGE ON SCHEMA :"schema" TO :"role" -- :'x'`;
  const n = neutralizeParams(sql);
  assert.equal(n.length, sql.length);
  assert.equal(n, `GRANT USAGE ON SCHEMA "xxxxxxx" TO "xxxxx" -- :'x'`);
  assert.equal(neutralizeParams("SELECT :'schema'::text"), "SELECT 'xxxxxxx'::text");
  const bad = analyzeSql("SELECT :'schema' FROM pg_namespace WHERE");
  assert.equal(bad.kind, 'syntax_error');
  if (bad.kind === 'syntax_error') {
    assert.match(bad.message, /syntax error at end of input/);
    assert.equal(bad.position, "SELECT :'schema' FROM pg_namespace WHERE".length);
  }
  // character, not byte, offsets
  const utf = analyzeSql("SELECT 'Đ32' FROM WHERE");
  assert.equal(utf.kind === 'syntax_error' ? utf.position : -1, "SELECT 'Đ32' FROM ".length);
});

test('statement offsets are characters even after multi-byte text', () => {
  const s = stmts("SELECT 'Đ32 — é'; DROP TABLE t");
  assert.equal(s[1]!.start, "SELECT 'Đ32 — é'; ".length);
});
