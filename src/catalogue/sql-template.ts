/**
 * psql-style parameter references in SQL: `:'name'` (literal) and `:"name"` (identifier).
 * A small lexer skips string literals, quoted identifiers, dollar quotes, comments and `::`
 * casts, so a colon inside them is never taken for a parameter. Pure.
 */

/** One parameter reference found in SQL text. */
export interface SqlRef {
  readonly kind: 'literal' | 'identifier' | 'bare';
  readonly name: string;
  readonly start: number; // offset of the ':'
  readonly end: number; // offset after the reference
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Finds every parameter reference in `sql`, in order. */
export function scanSqlRefs(sql: string): SqlRef[] {
  const refs: SqlRef[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
    } else if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1] ?? '') && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? '');
      i = skipQuoted(sql, i, "'", escapes);
    } else if (c === '"') {
      i = skipQuoted(sql, i, '"', false);
    } else if (c === '$') {
      const m = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y;
      m.lastIndex = i;
      const hit = m.exec(sql);
      const prev = sql[i - 1] ?? '';
      if (hit && !/[A-Za-z0-9_]/.test(prev)) {
        const close = sql.indexOf(hit[0], i + hit[0].length);
        i = close === -1 ? n : close + hit[0].length;
      } else i += 1;
    } else if (c === ':') {
      if (next === ':') {
        i += 2;
      } else if (next === "'" || next === '"') {
        NAME.lastIndex = i + 2;
        const hit = NAME.exec(sql);
        if (hit && sql[i + 2 + hit[0].length] === next) {
          const end = i + 3 + hit[0].length;
          refs.push({ kind: next === "'" ? 'literal' : 'identifier', name: hit[0], start: i, end });
          i = end;
        } else i += 1;
      } else {
        NAME.lastIndex = i + 1;
        const hit = NAME.exec(sql);
        if (hit) {
          refs.push({ kind: 'bare', name: hit[0], start: i, end: i + 1 + hit[0].length });
          i += 1 + hit[0].length;
        } else i += 1;
      }
    } else i += 1;
  }
  return refs;
}

function skipQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
    } else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

/** Replaces every literal/identifier reference using `replace`; bare refs are left as written. */
export function substituteSql(sql: string, replace: (ref: SqlRef) => string): string {
  let out = '';
  let last = 0;
  for (const ref of scanSqlRefs(sql)) {
    if (ref.kind === 'bare') continue;
    out += sql.slice(last, ref.start) + replace(ref);
    last = ref.end;
  }
  return out + sql.slice(last);
}

/** `{{name}}` placeholders in argv, paths and other text fields. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Names referenced as `{{name}}` in a string. */
export function placeholderNames(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

/** Replaces `{{name}}` placeholders. */
export function substitutePlaceholders(text: string, value: (name: string) => string): string {
  return text.replace(PLACEHOLDER, (_m, n: string) => value(n));
}

/** Quotes an identifier the PostgreSQL way (always double-quoted). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a literal with standard_conforming_strings rules; backslashes force E'' form. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new TypeError('a literal cannot contain NUL');
  const doubled = value.replace(/'/g, "''");
  if (value.includes('\\')) return ` E'${doubled.replace(/\\/g, '\\\\')}'`.trimStart();
  return `'${doubled}'`;
}
