/** A PostgreSQL error as one sentence, wherever SQL runs: its code, the line and column in the step, and which timeout to raise. Pure. */

/** Session timeouts in force. */
export interface Timeouts {
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
}

/** Line and column of a 1-based character position in SQL (PostgreSQL error `position`). */
export function sqlPosition(sql: string, position: number): { line: number; col: number } {
  const before = sql.slice(0, Math.max(0, position - 1)).split('\n');
  return { line: before.length, col: (before.at(-1)?.length ?? 0) + 1 };
}

/** A PostgreSQL error as one sentence: code, line/column in `sql`, message, and which timeout to raise. */
export function sqlErrorText(err: unknown, sql: string, t?: Timeouts): string {
  const e = err as { message?: string; code?: string; position?: string };
  const pos = e.position ? sqlPosition(sql, Number(e.position)) : null;
  let hint = '';
  if (t && e.code === '55P03')
    hint = ` (lock_timeout is ${t.lockTimeoutMs} ms: another session holds a lock this step needs; find it in pg_stat_activity, or raise the DOT's timeouts.lock_timeout_ms)`;
  if (t && e.code === '57014' && /statement timeout/.test(e.message ?? ''))
    hint = ` (statement_timeout is ${t.statementTimeoutMs} ms; raise the DOT's timeouts.statement_timeout_ms if the step needs longer)`;
  return `SQL error${e.code ? ` ${e.code}` : ''}${pos ? ` at line ${pos.line} column ${pos.col}` : ''}: ${e.message ?? String(err)}${hint}`;
}
