/**
 * The SQL rules of validation, read with the real PostgreSQL parser: checks are exactly one
 * read-only statement, no step controls the transaction, a statement that cannot run in a
 * transaction block is marked `transactional: false`, and a DOT labelled reversible has no
 * diff step that makes it irreversible. Pure; problems point at the line and column inside
 * the SQL where the YAML form allows it.
 */
import { isScalar, type Scalar } from 'yaml';
import type { Problem } from '../model/errors.js';
import { describeStatements } from './sql-analysis.js';
import { notIdempotent } from './sql-idempotence.js';
import { analysisOf } from './sql-memo.js';
import { riskFindings } from './risk.js';
import type { LocatedDoc } from './validate-yaml.js';
import type { DotParts } from './validate-shape.js';
import { SPEC_SECTIONS, stepsIn, type Dot, type Law, type SpecSection } from './schema.js';

export type { LocatedDoc } from './validate-yaml.js';

/** Sections whose SQL runs before approval or as proof: read-only, one statement. */
const CHECK_SECTIONS: ReadonlySet<SpecSection> = new Set(['hard_stops', 'pre_check', 'post_verify', 'invariants']);

const READ_ONLY_KINDS = 'SELECT, SHOW, EXPLAIN without ANALYZE, VALUES or TABLE';

/**
 * Maps a character offset inside a scalar's value to the file's line/column: exact for block
 * literals (`|`) and one-line plain or quoted scalars, else the scalar's start with the
 * position inside the SQL spelled out in the message.
 */
export function scalarOffsetPosition(src: LocatedDoc, path: readonly (string | number)[], offset: number): { line: number; col: number; inside: string } {
  const node = src.doc.getIn(path, true) as Scalar | undefined;
  if (!isScalar(node) || !node.range) return { line: 1, col: 1, inside: '' };
  const value = String(node.value);
  const before = value.slice(0, offset);
  const sqlLine = before.split('\n').length - 1;
  const sqlCol = before.length - (before.lastIndexOf('\n') + 1);
  const start = src.lines.linePos(node.range[0]);
  if (node.type === 'BLOCK_LITERAL') {
    // content starts on the line after the header; its indentation is that of the first non-blank line
    const lineStarts = src.lines.lineStarts;
    const firstContent = lineStarts[start.line] ?? 0;
    const body = src.text.slice(firstContent, node.range[1]);
    const indent = /^(?:[ ]*\n)*([ ]*)/.exec(body)?.[1]?.length ?? 0;
    return { line: start.line + 1 + sqlLine, col: indent + sqlCol + 1, inside: '' };
  }
  const raw = src.text.slice(node.range[0], node.range[1]);
  const oneLine = !raw.includes('\n') && !raw.includes('\\');
  if (oneLine && (node.type === 'PLAIN' || node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE')) {
    const quote = node.type === 'PLAIN' ? 0 : 1;
    const shift = node.type === 'QUOTE_SINGLE' ? (before.match(/'/g)?.length ?? 0) : 0; // '' in a single-quoted scalar
    return { line: start.line, col: start.col + quote + offset + shift, inside: '' };
  }
  return { line: start.line, col: start.col, inside: ` (line ${sqlLine + 1}, column ${sqlCol + 1} of the SQL)` };
}

/**
 * Every SQL problem of one DOT: of each well-formed SQL step, and the risk label once the
 * risk, laws and diff are whole (`parts` of a DOT that fails its shape; all of it by default).
 */
export function checkDotSql(src: LocatedDoc, dot: Dot, laws: ReadonlyMap<string, Law>, parts?: Pick<DotParts, 'broken' | 'origin'>): Problem[] {
  const problems: Problem[] = [];
  const at = (section: SpecSection, index: number, offset: number, message: string): void => {
    const p = scalarOffsetPosition(src, [section, index, 'sql'], offset);
    problems.push({ file: src.file, line: p.line, col: p.col, message: `${message}${p.inside}` });
  };
  const unparsable = new Set<number>();

  for (const section of SPEC_SECTIONS) {
    stepsIn(dot, section).forEach((step, i) => {
      if (step.kind !== 'sql') return;
      const index = parts ? parts.origin(section, i) : i;
      const where = `${section}[${index}] "${step.name}"`;
      const a = analysisOf(step.sql);
      if (a.kind === 'syntax_error') {
        if (section === 'diff') unparsable.add(index);
        at(section, index, a.position, `${where}: the SQL does not parse: ${a.message}; fix the statement`);
        return;
      }
      const stmts = a.statements;
      if (stmts.length === 0) {
        at(section, index, 0, `${where} holds no SQL statement, only comments; write the statement or remove the step`);
        return;
      }
      for (const s of stmts.filter((x) => x.transactionControl)) {
        at(section, index, s.start, `${where}: ${s.label} is transaction control, which no DOT step may contain; the engine opens, commits and rolls back the transaction itself`);
      }
      if (CHECK_SECTIONS.has(section)) {
        const second = stmts[1];
        if (second) {
          at(section, index, second.start, `${where}: a check must be exactly one read-only statement (${READ_ONLY_KINDS}); found ${stmts.length} statements: ${describeStatements(stmts)}`);
        } else if (stmts[0] && !stmts[0].readOnly && !stmts[0].transactionControl) {
          at(section, index, stmts[0].start, `${where}: a check must be one read-only statement (${READ_ONLY_KINDS}); found ${stmts[0].label}`);
        }
        return;
      }
      const second = stmts[1];
      if (step.expect && second) {
        at(section, index, second.start, `${where}: a query with expect must be exactly one statement; found ${stmts.length}: ${describeStatements(stmts)}`);
      }
      if (step.transactional !== false) {
        for (const s of stmts.filter((x) => x.noTransactionBlock)) {
          at(section, index, s.start, `${where}: ${s.label} cannot run inside a transaction block; mark the step transactional: false`);
        }
      }
    });
  }

  rollbackIdempotence(dot, at);

  // findings name diff steps by their index in the well-formed diff: only when it is the file's
  const labelReadable = !parts || !['risk', 'laws', 'diff'].some((k) => parts.broken.has(k));
  if (labelReadable && dot.risk === 'reversible') {
    for (const f of riskFindings(dot, laws)) {
      if (unparsable.has(f.index)) continue; // already reported as a syntax error
      const fix = `; label the DOT risk: irreversible (dual control, an archive before the diff, a rollback that restores it)`;
      const step = dot.diff[f.index];
      if (step?.kind === 'command') {
        const pos = src.doc.getIn(['diff', f.index, 'argv', 0], true) as Scalar | undefined;
        const lp = pos?.range ? src.lines.linePos(pos.range[0]) : { line: 1, col: 1 };
        problems.push({ file: src.file, line: lp.line, col: lp.col, message: `labelled risk: reversible, but ${f.reason}${fix}, or cite a law that lists it in reversible_commands` });
      } else {
        at('diff', f.index, f.offset ?? 0, `labelled risk: reversible, but ${f.reason}${fix}`);
      }
    }
  }
  return problems;
}

/**
 * A DOT whose diff holds SQL outside a transaction may be rolled back after that SQL half-ran (a
 * CREATE INDEX CONCURRENTLY that failed leaves an invalid index) or never ran, and after its
 * transactional SQL was rolled back by PostgreSQL: every SQL statement of its rollback must be
 * safe to run in either case.
 */
function rollbackIdempotence(dot: Dot, at: (section: SpecSection, index: number, offset: number, message: string) => void): void {
  if (!dot.diff.some((s) => s.kind === 'sql' && s.transactional === false)) return;
  dot.rollback.forEach((step, index) => {
    if (step.kind !== 'sql' || step.expect) return;
    for (const n of notIdempotent(step.sql)) {
      at(
        'rollback',
        index,
        n.start,
        `rollback[${index}] "${step.name}": ${n.label} must be idempotent, because the rollback of a non-transactional diff also runs when that diff failed half-way or never ran; ${n.fix}`,
      );
    }
  });
}
