/**
 * What a DOT's SQL is, read with the real PostgreSQL parser (libpg_query, compiled to WASM):
 * how many statements, whether each is read-only, transaction control, unable to run in a
 * transaction block, or destructive (and why). Pure and synchronous; the parser is loaded
 * once when this module is imported.
 *
 * Syntax is the first wall only. A function can have side effects no parser sees (a SELECT
 * calling a user function that writes); checks therefore also run as one statement over the
 * extended query protocol inside a READ ONLY transaction (`exec/checks.ts`), which the server
 * enforces whatever the text says.
 */
import { loadModule, parseSync } from 'libpg-query';
import { substituteSql } from './sql-template.js';
import { installSqlAnalyser } from './sql-memo.js';

await loadModule();

/** One statement of a SQL text and what it is. */
export interface StatementInfo {
  /** parser node type, e.g. `SelectStmt`, `DropStmt` */
  readonly type: string;
  /** how a reader names it, e.g. `SELECT`, `DROP SCHEMA`, `COMMIT` */
  readonly label: string;
  /** character offset of the statement in the analysed text */
  readonly start: number;
  /** only reads: SELECT without INTO/locking/data-modifying CTEs, SHOW, EXPLAIN (ANALYZE only of a read-only query), VALUES, TABLE */
  readonly readOnly: boolean;
  /** BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION, SET TRANSACTION, SET SESSION CHARACTERISTICS, … */
  readonly transactionControl: boolean;
  /** refuses to run inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, CREATE DATABASE, …) */
  readonly noTransactionBlock: boolean;
  /** why the statement destroys data or identity (or cannot be classified), else null */
  readonly destructive: string | null;
}

/** The outcome of analysing a SQL text. */
export type SqlAnalysis = { readonly kind: 'ok'; readonly statements: readonly StatementInfo[] } | { readonly kind: 'syntax_error'; readonly message: string; readonly position: number };

/** A node of the parse tree. */
export type Node = Record<string, unknown>;

/**
 * Replaces psql-style `:'name'` / `:"name"` references by a literal / identifier of the same
 * length, so the parser accepts the text and every offset still points into what was written.
 */
export function neutralizeParams(sql: string): string {
  return substituteSql(sql, (ref) => {
    const q = ref.kind === 'identifier' ? '"' : "'";
    return q + 'x'.repeat(ref.end - ref.start - 2) + q;
  });
}

/** Converts a UTF-8 byte offset (what libpg_query reports) to a character offset of `text`. */
function charOffset(text: string, byteOffset: number): number {
  const buf = Buffer.from(text, 'utf8');
  return buf.subarray(0, Math.max(0, Math.min(byteOffset, buf.length))).toString('utf8').length;
}

/** Parses and classifies every statement of `sql` (parameters written the psql way are allowed). */
export function analyzeSql(sql: string): SqlAnalysis {
  const text = neutralizeParams(sql);
  if (text.trim() === '') return { kind: 'ok', statements: [] };
  let parsed: { stmts?: { stmt?: Node; stmt_location?: number }[] };
  try {
    parsed = parseSync(text) as typeof parsed;
  } catch (err) {
    const e = err as { message?: string; sqlDetails?: { cursorPosition?: number } };
    const at = e.sqlDetails?.cursorPosition;
    // the error cursor is already in characters (PostgreSQL converts it); node locations are bytes
    return { kind: 'syntax_error', message: e.message ?? String(err), position: typeof at === 'number' && at >= 0 ? Math.min(at, text.length) : 0 };
  }
  const statements = (parsed.stmts ?? []).map((raw) => {
    const [type, node] = Object.entries(raw.stmt ?? {})[0] ?? ['Unknown', {}];
    const info = classify(type, node as Node, charOffset(text, raw.stmt_location ?? 0), text);
    // EXPLAIN without ANALYZE runs nothing; everything else runs what it contains
    return info.destructive === null && type !== 'ExplainStmt' ? { ...info, destructive: nestedDestruction(node as Node) } : info;
  });
  // the parser reports a statement's start before its leading whitespace/comments
  return { kind: 'ok', statements: statements.map((s) => ({ ...s, start: skipBlank(text, s.start) })) };
}

function skipBlank(text: string, from: number): number {
  let i = from;
  for (;;) {
    while (i < text.length && /\s/.test(text[i] ?? '')) i += 1;
    if (text.startsWith('--', i)) {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl + 1;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else return i;
  }
}

/** Functions whose effect reaches outside the statement's own rows (sessions, files, other connections, the server). */
export const SIDE_EFFECT_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_promote',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_backup_start',
  'pg_backup_stop',
  'set_config',
  'dblink',
  'dblink_exec',
  'dblink_connect',
  'dblink_connect_u',
  'dblink_send_query',
  'dblink_open',
  'pg_file_write',
  'pg_file_unlink',
  'pg_file_rename',
  'pg_file_sync',
  'lo_import',
  'lo_export',
  'lo_unlink',
  'lo_create',
  'lo_creat',
  'lo_from_bytea',
  'lo_put',
  'pg_notify',
  'pg_drop_replication_slot',
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_replication_origin_drop',
  'pg_stat_reset',
  'pg_stat_reset_shared',
  'pg_stat_reset_single_table_counters',
  'pg_advisory_lock',
  'pg_advisory_xact_lock',
  'pg_try_advisory_lock',
  'pg_try_advisory_xact_lock',
  'pg_advisory_unlock_all',
  'nextval',
  'setval', // pg_sleep is allowed: a slow check changes nothing and statement_timeout bounds it
]);

/** Of those, the ones whose effect a rollback cannot undo (or that run SQL nobody can classify). */
const DESTRUCTIVE_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_terminate_backend',
  'dblink',
  'dblink_exec',
  'dblink_send_query',
  'pg_file_write',
  'pg_file_unlink',
  'pg_file_rename',
  'lo_unlink',
  'lo_put',
  'pg_drop_replication_slot',
  'pg_replication_origin_drop',
]);

/** Every node of a tree: `visit(type, node)` for each `{ Type: {...} }` object. */
function walk(value: unknown, visit: (type: string, node: Node) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, visit);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value as Node)) {
    if (/^[A-Z]/.test(k) && v !== null && typeof v === 'object' && !Array.isArray(v)) visit(k, v as Node);
    walk(v, visit);
  }
}

function funcName(call: Node): string {
  const parts = (call.funcname as { String?: { sval?: string } }[] | undefined) ?? [];
  return (parts.at(-1)?.String?.sval ?? '').toLowerCase();
}

/** Why a query tree is not purely reading, or null. */
function writesIn(root: Node): string | null {
  let why: string | null = null;
  const note = (w: string): void => {
    why ??= w;
  };
  const visit = (type: string, node: Node): void => {
    if (type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt' || type === 'MergeStmt') {
      note(`a data-modifying ${type.replace('Stmt', '').toUpperCase()} inside the query`);
    }
    if (node.intoClause) note('SELECT … INTO creates a table');
    if (Array.isArray(node.lockingClause) && node.lockingClause.length > 0) note('a locking clause (FOR UPDATE/SHARE) takes row locks');
    if (type === 'FuncCall' && SIDE_EFFECT_FUNCTIONS.has(funcName(node))) note(`${funcName(node)}() has side effects`);
  };
  visit('SelectStmt', root);
  walk(root, visit);
  return why;
}

/** Why a query destroys something through a nested statement (a data-modifying CTE) or a function call, or null. */
function nestedDestruction(root: Node): string | null {
  let why: string | null = null;
  walk(root, (type, node) => {
    if (why) return;
    if (type === 'DeleteStmt' || type === 'UpdateStmt') why = classify(type, node, 0, '').destructive;
    else if (type === 'FuncCall' && DESTRUCTIVE_FUNCTIONS.has(funcName(node))) why = `${funcName(node)}() acts outside the transaction and cannot be undone`;
  });
  return why;
}

const words = (type: string): string =>
  type
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();

const objectName = (objtype: unknown): string =>
  String(objtype ?? 'OBJECT_UNKNOWN')
    .replace(/^OBJECT_/, '')
    .replace('MATVIEW', 'MATERIALIZED VIEW')
    .replace('FOREIGN_TABLE', 'FOREIGN TABLE')
    .replace(/_/g, ' ');

const TRANSACTION_LABELS: Readonly<Record<string, string>> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE SAVEPOINT',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/** DROP of these loses data or identity that a rollback cannot recreate from the DOT's text. */
const DATA_HOLDING_OBJECTS: ReadonlySet<string> = new Set([
  'OBJECT_TABLE',
  'OBJECT_SCHEMA',
  'OBJECT_SEQUENCE',
  'OBJECT_MATVIEW',
  'OBJECT_TYPE',
  'OBJECT_DOMAIN',
  'OBJECT_EXTENSION',
  'OBJECT_PUBLICATION',
  'OBJECT_SUBSCRIPTION',
  'OBJECT_LARGEOBJECT',
  'OBJECT_DATABASE',
  'OBJECT_ROLE',
]);

const hasOption = (list: unknown, name: string): boolean =>
  Array.isArray(list) &&
  list.some((o: { DefElem?: { defname?: string; arg?: { String?: { sval?: string }; Boolean?: { boolval?: boolean } } } }) => {
    const d = o.DefElem;
    if (d?.defname !== name) return false;
    const s = d.arg?.String?.sval?.toLowerCase();
    return !(s === 'false' || s === 'off' || s === '0' || d.arg?.Boolean?.boolval === false);
  });

function classify(type: string, node: Node, start: number, text: string): StatementInfo {
  const base = { type, start, readOnly: false, transactionControl: false, noTransactionBlock: false, destructive: null as string | null };
  switch (type) {
    case 'SelectStmt': {
      const why = writesIn(node);
      const label = node.valuesLists ? 'VALUES' : /^\s*table\b/i.test(text.slice(skipBlank(text, start))) ? 'TABLE' : 'SELECT';
      return { ...base, label: why ? `${label} (${why})` : label, readOnly: why === null };
    }
    case 'VariableShowStmt':
      return { ...base, label: 'SHOW', readOnly: true };
    case 'ExplainStmt': {
      const analyze = hasOption(node.options, 'analyze');
      const inner = Object.entries((node.query as Node | undefined) ?? {})[0];
      const innerInfo = inner ? classify(inner[0], inner[1] as Node, start, '') : null;
      const readOnly = !analyze || innerInfo?.readOnly === true;
      return { ...base, label: analyze ? `EXPLAIN ANALYZE ${innerInfo?.label ?? ''}`.trim() : 'EXPLAIN', readOnly, destructive: analyze ? (innerInfo?.destructive ?? null) : null };
    }
    case 'TransactionStmt': {
      const kind = String(node.kind);
      return { ...base, label: TRANSACTION_LABELS[kind] ?? 'transaction control', transactionControl: true };
    }
    case 'VariableSetStmt': {
      const name = String(node.name ?? '').toLowerCase();
      const control = name === 'transaction' || name === 'session characteristics' || /^(default_)?transaction_(read_only|isolation|deferrable)$/.test(name);
      const label = node.kind === 'VAR_SET_MULTI' ? `SET ${name.toUpperCase()}` : node.kind === 'VAR_RESET_ALL' ? 'RESET ALL' : `SET ${name}`;
      return { ...base, label, transactionControl: control };
    }
    case 'DropStmt': {
      const what = objectName(node.removeType);
      const cascade = node.behavior === 'DROP_CASCADE';
      const label = `DROP ${what}${node.concurrent ? ' CONCURRENTLY' : ''}${cascade ? ' … CASCADE' : ''}`;
      const destructive = cascade
        ? `DROP … CASCADE also drops every object that depends on what it drops`
        : DATA_HOLDING_OBJECTS.has(String(node.removeType))
          ? `DROP ${what} destroys what the ${what.toLowerCase()} holds`
          : null;
      return { ...base, label, destructive, noTransactionBlock: node.concurrent === true };
    }
    case 'DropRoleStmt':
      return { ...base, label: 'DROP ROLE', destructive: 'DROP ROLE destroys an identity (its password, memberships and grants)' };
    case 'DropdbStmt':
      return { ...base, label: 'DROP DATABASE', destructive: 'DROP DATABASE destroys a database', noTransactionBlock: true };
    case 'DropOwnedStmt':
      return { ...base, label: 'DROP OWNED', destructive: 'DROP OWNED drops every object a role owns' };
    case 'ReassignOwnedStmt':
      return { ...base, label: 'REASSIGN OWNED', destructive: 'REASSIGN OWNED forgets who owned each object, so it cannot be undone' };
    case 'TruncateStmt':
      return { ...base, label: 'TRUNCATE', destructive: 'TRUNCATE deletes every row' };
    case 'DeleteStmt':
      return { ...base, label: 'DELETE', destructive: node.whereClause ? null : 'DELETE without WHERE deletes every row' };
    case 'UpdateStmt':
      return { ...base, label: 'UPDATE', destructive: node.whereClause ? null : 'UPDATE without WHERE overwrites every row' };
    case 'AlterTableStmt': {
      const cmds = ((node.cmds as { AlterTableCmd?: Node }[] | undefined) ?? []).map((c) => c.AlterTableCmd ?? {});
      const drops = cmds.some((c) => c.subtype === 'AT_DropColumn');
      const retypes = cmds.some((c) => c.subtype === 'AT_AlterColumnType');
      const cascade = cmds.some((c) => c.behavior === 'DROP_CASCADE');
      const destructive = drops
        ? 'ALTER TABLE … DROP COLUMN destroys the column’s data'
        : retypes
          ? 'ALTER TABLE … ALTER COLUMN … TYPE rewrites the column’s data and may lose precision'
          : cascade
            ? 'CASCADE also drops every object that depends on what it drops'
            : null;
      return { ...base, label: `ALTER ${objectName(node.objtype)}`, destructive };
    }
    case 'DoStmt':
      return { ...base, label: 'DO', destructive: 'a DO block runs procedural code that cannot be classified' };
    case 'CallStmt':
      return { ...base, label: 'CALL', destructive: 'CALL runs a procedure whose effect cannot be classified' };
    case 'ExecuteStmt':
      return { ...base, label: 'EXECUTE', destructive: 'EXECUTE runs a prepared statement that cannot be classified' };
    case 'CopyStmt': {
      const label = `COPY ${node.is_from ? 'FROM' : 'TO'}${node.is_program ? ' PROGRAM' : node.filename ? ' a server file' : ''}`;
      const destructive = node.is_program ? 'COPY … PROGRAM runs a shell command on the database server' : !node.is_from && node.filename ? 'COPY … TO a server file overwrites that file' : null;
      return { ...base, label, destructive };
    }
    case 'IndexStmt':
      return { ...base, label: `CREATE INDEX${node.concurrent ? ' CONCURRENTLY' : ''}`, noTransactionBlock: node.concurrent === true };
    case 'ReindexStmt': {
      const concurrent = hasOption(node.params, 'concurrently');
      const wide = node.kind === 'REINDEX_OBJECT_DATABASE' || node.kind === 'REINDEX_OBJECT_SYSTEM';
      return { ...base, label: `REINDEX${concurrent ? ' CONCURRENTLY' : ''}`, noTransactionBlock: concurrent || wide };
    }
    case 'VacuumStmt':
      return { ...base, label: node.is_vacuumcmd ? 'VACUUM' : 'ANALYZE', noTransactionBlock: node.is_vacuumcmd === true };
    case 'ClusterStmt':
      return { ...base, label: 'CLUSTER', noTransactionBlock: !node.relation };
    case 'DiscardStmt':
      return { ...base, label: 'DISCARD', noTransactionBlock: node.target === 'DISCARD_ALL' };
    case 'CreatedbStmt':
    case 'AlterSystemStmt':
    case 'CreateTableSpaceStmt':
    case 'DropTableSpaceStmt':
    case 'CreateSubscriptionStmt':
      return { ...base, label: words(type), noTransactionBlock: true };
    case 'DropSubscriptionStmt':
      return { ...base, label: 'DROP SUBSCRIPTION', noTransactionBlock: true, destructive: 'DROP SUBSCRIPTION drops its replication slot and progress' };
    case 'CreateTableAsStmt':
      return { ...base, label: String(node.objtype) === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS' };
    case 'RenameStmt':
      // renaming back undoes it; what breaks meanwhile is for post-verify to show
      return { ...base, label: `ALTER ${objectName(node.renameType)} … RENAME` };
    default:
      return { ...base, label: words(type) };
  }
}

/** A short list of statement labels: `SELECT, COMMIT, DROP SCHEMA … CASCADE`. */
export function describeStatements(statements: readonly StatementInfo[]): string {
  return statements.map((s) => s.label).join(', ');
}

installSqlAnalyser(analyzeSql);
