/**
 * Reading a spec file for validation: YAML with node ranges, refused control characters, and
 * the mapping from a path in the document to a file line and column. Pure.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { Problem } from '../model/errors.js';

/** A file's name and text. */
export interface SourceFile {
  readonly file: string;
  readonly text: string;
}

/** A path inside a document: keys and sequence indices. */
export type Path = readonly (string | number)[];

/** A parsed spec file: what validation locates problems in. */
export interface LocatedDoc {
  readonly file: string;
  readonly text: string;
  readonly doc: Document;
  readonly lines: LineCounter;
}

/** Maps a path in the document to a 1-based line/column (nearest existing node). */
export function position(src: LocatedDoc, path: Path, key?: string): { line: number; col: number } {
  let node: unknown = src.doc.contents;
  let offset = 0;
  const take = (n: unknown): void => {
    const range = (n as Node | null)?.range;
    if (range) offset = range[0];
  };
  take(node);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === seg);
      if (!pair) break;
      take(pair.key);
      node = pair.value;
      if (node) take(node);
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (!node) break;
      take(node);
    } else break;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (pair) take(pair.key);
  }
  const pos = src.lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

/** A problem at a path of the document (at `key` of the mapping there, when given). */
export function problemAt(src: LocatedDoc, path: Path, message: string, key?: string): Problem {
  const { line, col } = position(src, path, key);
  return { file: src.file, line, col, message };
}

/** `diff[0].expect`, or `document` for the root. */
export function describePath(path: Path): string {
  return path.length === 0
    ? 'document'
    : path
        .map((p) => (typeof p === 'number' ? `[${p}]` : p))
        .join('.')
        .replace(/\.\[/g, '[');
}

/** C0 control characters (but tab and newline) and DEL: never meaningful in a spec, and able to spoof a terminal. */
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Reports every scalar holding a control character, at its position. */
function controlCharacters(src: LocatedDoc, problems: Problem[]): boolean {
  let found = false;
  visit(src.doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && CONTROL_CHARS.test(node.value)) {
        const code = node.value.match(CONTROL_CHARS)?.[0]?.charCodeAt(0) ?? 0;
        const pos = src.lines.linePos(node.range?.[0] ?? 0);
        problems.push({ file: src.file, line: pos.line, col: pos.col, message: `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')}) is not allowed in a spec; remove it` });
        found = true;
      }
    },
  });
  return found;
}

/**
 * Parses a spec file into its located document and plain value, or reports why it cannot be
 * read (malformed YAML, control characters, an alias bomb) and returns null.
 */
export function readSpecFile(file: SourceFile, problems: Problem[]): { src: LocatedDoc; value: unknown } | null {
  const lines = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      problems.push({ file: file.file, line: pos.line, col: pos.col, message: `malformed YAML: ${e.message.split('\n')[0]}` });
    }
    return null;
  }
  const src: LocatedDoc = { file: file.file, text: file.text, doc, lines };
  if (controlCharacters(src, problems)) return null;
  try {
    return { src, value: doc.toJS({ maxAliasCount: 50 }) };
  } catch (err) {
    problems.push({ file: file.file, line: 1, col: 1, message: `YAML cannot be read: ${(err as Error).message}` });
    return null;
  }
}
