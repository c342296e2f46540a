/**
 * Idempotence of SQL that may run twice: the rollback of a non-transactional change runs after a
 * step that may have half-happened, or not at all, so each of its statements must be safe to
 * repeat. Pure, on the real PostgreSQL parse tree.
 */
import { parseSync } from 'libpg-query';
import { analyzeSql, neutralizeParams, type Node } from './sql-analysis.js';

/** A statement that fails or changes something else when run twice. */
export interface NotIdempotent {
  /** character offset of the statement */
  readonly start: number;
  readonly label: string;
  /** how to make it safe to run again */
  readonly fix: string;
}

const IF_NOT_EXISTS: Readonly<Record<string, string>> = {
  IndexStmt: 'CREATE INDEX',
  CreateStmt: 'CREATE TABLE',
  CreateSchemaStmt: 'CREATE SCHEMA',
  CreateSeqStmt: 'CREATE SEQUENCE',
  CreateExtensionStmt: 'CREATE EXTENSION',
};

/**
 * Statements of `sql` that are not safe to run again after a partial first run: a DROP without
 * IF EXISTS, a CREATE that has an IF NOT EXISTS form but does not use it. A rollback that may run
 * after a non-transactional step half-happened (or did not happen at all) must be of this kind.
 * Unparsable SQL yields nothing (validate reports it elsewhere).
 */
export function notIdempotent(sql: string): NotIdempotent[] {
  const a = analyzeSql(sql);
  if (a.kind !== 'ok') return [];
  const text = neutralizeParams(sql);
  const parsed = parseSync(text) as { stmts?: { stmt?: Node }[] };
  return (parsed.stmts ?? []).flatMap((raw, i): NotIdempotent[] => {
    const [type, node] = Object.entries(raw.stmt ?? {})[0] ?? ['Unknown', {}];
    const n = node as Node;
    const s = a.statements[i];
    if (!s) return [];
    if (type === 'DropStmt' && n.missing_ok !== true) return [{ start: s.start, label: s.label, fix: 'write DROP … IF EXISTS' }];
    const create = IF_NOT_EXISTS[type];
    if (create && n.if_not_exists !== true) return [{ start: s.start, label: s.label, fix: `write ${create} IF NOT EXISTS` }];
    if (type === 'CreatedbStmt') return [{ start: s.start, label: s.label, fix: 'CREATE DATABASE has no IF NOT EXISTS form; check for the database in a pre-check instead' }];
    return [];
  });
}
