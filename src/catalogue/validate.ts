/**
 * Validation of the DOT catalogue and the law registry: pure, from file texts to either a
 * catalogue of validated DOTs or every problem found, each with its file, line and column
 * (from yaml's node ranges).
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { parsePatch } from 'diff';
import type { z } from 'zod';
import type { Problem } from '../model/errors.js';
import { checkParamValue } from './params.js';
import { gateRequirements } from './laws.js';
import { scanSqlRefs, placeholderNames } from './sql-template.js';
import { checkDotSql } from './validate-sql.js';
import { dotContent, type DotContent } from './content.js';
import {
  DotSchema,
  LawRegistrySchema,
  SECTIONS,
  SECTION_KINDS,
  type Dot,
  type Law,
  type Section,
  type Step,
} from './schema.js';

/** A file's name and text. */
export interface SourceFile {
  readonly file: string;
  readonly text: string;
}

/** Everything validation reads: DOT files, the law registry, side files (diffs) by base name. */
export interface CatalogueSource {
  readonly dots: readonly SourceFile[];
  readonly laws: SourceFile | null;
  readonly sideFiles: ReadonlyMap<string, string>;
  /** how side files are named in messages (e.g. `dots/`) */
  readonly dir: string;
  /** a frozen bundle: companions outside it are not checked here (the gate checks them) */
  readonly partial?: boolean;
}

/** A validated DOT: its spec (patch diffs resolved inline), the file it came from, its content. */
export interface ValidDot {
  readonly spec: Dot;
  readonly file: string;
  /** the texts it runs (YAML, side files, laws) and their hash, which reviewers admit */
  readonly content: DotContent;
}

/** The validated catalogue. */
export interface Catalogue {
  readonly dots: ReadonlyMap<string, ValidDot>;
  readonly laws: ReadonlyMap<string, Law>;
}

/** Outcome of validation: a catalogue only when there is no problem. */
export type ValidationResult =
  | { readonly kind: 'valid'; readonly catalogue: Catalogue }
  | { readonly kind: 'invalid'; readonly problems: readonly Problem[] };

type Path = readonly (string | number)[];

interface Located {
  readonly file: string;
  readonly text: string;
  readonly doc: Document;
  readonly lines: LineCounter;
}

/** Maps a path in the document to a 1-based line/column (nearest existing node). */
function position(src: Located, path: Path, key?: string): { line: number; col: number } {
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

function problemAt(src: Located, path: Path, message: string, key?: string): Problem {
  const { line, col } = position(src, path, key);
  return { file: src.file, line, col, message };
}

function describePath(path: Path): string {
  return path.length === 0 ? 'document' : path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[');
}

function zodProblems(src: Located, issues: readonly z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path as Path;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push(problemAt(src, path, `unknown key "${key}" in ${describePath(path)}`, key));
      }
      continue;
    }
    if (issue.code === 'invalid_union' && path.at(-1) !== undefined) {
      // a discriminated union without a matching `kind`
      out.push(problemAt(src, path, `${describePath(path)}: ${issue.message}`));
      continue;
    }
    out.push(problemAt(src, path, `${describePath(path)}: ${issue.message}`));
  }
  return out;
}

function parseYaml(file: SourceFile, problems: Problem[]): Located | null {
  const lines = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      problems.push({ file: file.file, line: pos.line, col: pos.col, message: `malformed YAML: ${e.message.split('\n')[0]}` });
    }
    return null;
  }
  return { file: file.file, text: file.text, doc, lines };
}

/** C0 control characters (but tab and newline) and DEL: never meaningful in a spec, and able to spoof a terminal. */
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Reports every scalar holding a control character, at its position. */
function controlCharacters(src: Located, problems: Problem[]): boolean {
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

function toJs(src: Located, problems: Problem[]): unknown {
  try {
    return src.doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    problems.push({ file: src.file, line: 1, col: 1, message: `YAML cannot be read: ${(err as Error).message}` });
    return undefined;
  }
}

/** Validates the law registry; returns the laws by id. */
function validateLaws(file: SourceFile | null, problems: Problem[]): Map<string, Law> {
  const laws = new Map<string, Law>();
  if (!file) {
    problems.push({ file: 'laws.yaml', line: 1, col: 1, message: 'the law registry laws.yaml is missing from the DOT directory; create it' });
    return laws;
  }
  const src = parseYaml(file, problems);
  if (!src) return laws;
  if (controlCharacters(src, problems)) return laws;
  const value = toJs(src, problems);
  const parsed = LawRegistrySchema.safeParse(value);
  if (!parsed.success) {
    problems.push(...zodProblems(src, parsed.error.issues));
    return laws;
  }
  parsed.data.laws.forEach((law, i) => {
    if (laws.has(law.id)) problems.push(problemAt(src, ['laws', i, 'id'], `duplicate law id ${law.id}`));
    else laws.set(law.id, law);
  });
  return laws;
}

/** Strings of a step that may hold `{{name}}` placeholders, with their paths. */
function templatedFields(step: Step): [Path, string][] {
  switch (step.kind) {
    case 'sql': {
      const out: [Path, string][] = [];
      if (step.expect && 'equals' in step.expect && typeof step.expect.equals === 'string') out.push([['expect', 'equals'], step.expect.equals]);
      return out;
    }
    case 'patch':
      return [[['file'], step.file]];
    case 'command':
      return [
        ...step.argv.map((a, i): [Path, string] => [['argv', i], a]),
        ...Object.entries(step.env ?? {}).map(([k, v]): [Path, string] => [['env', k], v]),
        ...(['stdout_pattern', 'stdout_not_pattern', 'stderr_pattern'] as const)
          .filter((k) => step.expect?.[k] !== undefined)
          .map((k): [Path, string] => [['expect', k], step.expect?.[k] ?? '']),
      ];
    case 'archive':
      return [
        [['schema'], step.schema],
        [['to'], step.to],
      ];
    case 'restore':
      return [[['from'], step.from]];
    case 'file':
      return [[['path'], step.path], ...(step.owner !== undefined ? [[['owner'], step.owner] as [Path, string]] : [])];
    case 'host':
      return [[['equals'], step.equals]];
    default: {
      const never: never = step;
      return never;
    }
  }
}

function checkRegex(pattern: string | undefined): string | null {
  if (pattern === undefined) return null;
  try {
    new RegExp(pattern);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const CHECK_SECTIONS: readonly Section[] = ['hard_stops', 'pre_check', 'post_verify'];

/** Checks one parsed DOT against itself (params, steps, sections, patches). */
function checkDot(src: Located, dot: Dot, side: CatalogueSource, problems: Problem[]): Dot {
  const params = dot.params;
  const used = new Set<string>();
  const resolved: Record<Section, Step[]> = { hard_stops: [], pre_check: [], diff: [], rollback: [], post_verify: [] };

  for (const [name, p] of Object.entries(params)) {
    if (p.type === 'secret') {
      if (p.default !== undefined) problems.push(problemAt(src, ['params', name, 'default'], `parameter ${name} is a secret and cannot have a default; it comes from the environment`));
    } else {
      if (p.env !== undefined) problems.push(problemAt(src, ['params', name, 'env'], `parameter ${name}: env is only for secret parameters`));
      if (p.default !== undefined) {
        const why = checkParamValue(p.type, String(p.default));
        if (why) problems.push(problemAt(src, ['params', name, 'default'], `default of parameter ${name} (${p.type}) ${why}`));
      }
    }
  }

  const usePlaceholder = (path: Path, text: string, allowSecret: boolean): void => {
    for (const n of placeholderNames(text)) {
      used.add(n);
      const p = params[n];
      if (!p) problems.push(problemAt(src, path, `{{${n}}} is used but no parameter ${n} is declared under params`));
      else if (p.type === 'secret' && !allowSecret) {
        problems.push(problemAt(src, path, `secret parameter ${n} may only appear in SQL literals or a command's env, never in argv, paths or names`));
      }
    }
  };

  for (const section of SECTIONS) {
    dot[section].forEach((step, i) => {
      const at: Path = [section, i];
      if (!SECTION_KINDS[section].includes(step.kind)) {
        problems.push(problemAt(src, [...at, 'kind'], `a ${step.kind} step is not allowed in ${section}; allowed: ${SECTION_KINDS[section].join(', ')}`));
      }
      for (const [p, text] of templatedFields(step)) {
        usePlaceholder([...at, ...p], text, step.kind === 'command' && p[0] === 'env');
      }
      let out: Step = step;
      switch (step.kind) {
        case 'sql': {
          for (const ref of scanSqlRefs(step.sql)) {
            const p = params[ref.name];
            if (ref.kind === 'bare') {
              if (p) problems.push(problemAt(src, [...at, 'sql'], `:${ref.name} would be pasted raw; write :'${ref.name}' for a literal or :"${ref.name}" for an identifier`));
              continue;
            }
            used.add(ref.name);
            if (!p) problems.push(problemAt(src, [...at, 'sql'], `:${ref.kind === 'literal' ? `'${ref.name}'` : `"${ref.name}"`} is used but no parameter ${ref.name} is declared under params`));
            else if (ref.kind === 'identifier' && p.type !== 'identifier') {
              problems.push(problemAt(src, [...at, 'sql'], `:"${ref.name}" is used as an identifier but parameter ${ref.name} is declared ${p.type}; declare it identifier`));
            }
          }
          if (CHECK_SECTIONS.includes(section) && !step.expect) {
            problems.push(problemAt(src, at, `the check "${step.name}" in ${section} needs an expect (rows, value, empty, non_empty or every_row)`));
          }
          if (step.expect?.kind === 'every_row') {
            const bad = checkRegex(step.expect.pattern);
            if (bad) problems.push(problemAt(src, [...at, 'expect', 'pattern'], `invalid regular expression: ${bad}`));
            if (step.expect.equals === undefined && step.expect.pattern === undefined) {
              problems.push(problemAt(src, [...at, 'expect'], 'every_row needs equals or pattern'));
            }
          }
          break;
        }
        case 'command': {
          if (step.optional_tool && !CHECK_SECTIONS.includes(section)) {
            problems.push(problemAt(src, [...at, 'optional_tool'], `optional_tool is for checks only (hard_stops, pre_check, post_verify): a ${section} step must run; remove it`));
          }
          for (const key of ['stdout_pattern', 'stdout_not_pattern', 'stderr_pattern'] as const) {
            const bad = checkRegex(step.expect?.[key]);
            if (bad) problems.push(problemAt(src, [...at, 'expect', key], `invalid regular expression: ${bad}`));
          }
          break;
        }
        case 'patch': {
          if ((step.diff === undefined) === (step.diff_file === undefined)) {
            problems.push(problemAt(src, at, `patch "${step.name}" needs exactly one of diff (inline) or diff_file`));
            break;
          }
          let text = step.diff;
          if (step.diff_file !== undefined) {
            if (step.diff_file.includes('/') || step.diff_file.startsWith('.')) {
              problems.push(problemAt(src, [...at, 'diff_file'], `diff_file must name a file beside the DOT spec, without a directory`));
              break;
            }
            text = side.sideFiles.get(step.diff_file);
            if (text === undefined) {
              problems.push(problemAt(src, [...at, 'diff_file'], `diff file ${side.dir}${step.diff_file} does not exist; create it beside the spec`));
              break;
            }
          }
          try {
            const patches = parsePatch(text ?? '');
            if (patches.length !== 1 || (patches[0]?.hunks.length ?? 0) === 0) {
              problems.push(problemAt(src, [...at, step.diff_file ? 'diff_file' : 'diff'], 'the unified diff must describe exactly one file with at least one hunk'));
            }
          } catch (err) {
            problems.push(problemAt(src, [...at, step.diff_file ? 'diff_file' : 'diff'], `the unified diff cannot be parsed: ${(err as Error).message}`));
          }
          out = { ...step, diff: text };
          break;
        }
        default:
          break;
      }
      resolved[section].push(out);
    });
  }

  if (dot.registry) usePlaceholder(['registry', 'name'], dot.registry.name, false);

  // A patch in the diff needs its reverse in the rollback, or the change cannot be undone.
  dot.diff.forEach((step, i) => {
    if (step.kind !== 'patch') return;
    const undone = dot.rollback.some((r) => r.kind === 'patch' && r.reverse === true && r.file === step.file && (r.diff_file ?? r.diff) === (step.diff_file ?? step.diff));
    if (!undone && dot.risk === 'reversible') {
      problems.push(problemAt(src, ['diff', i], `patch "${step.name}" has no reverse patch (same file and diff, reverse: true) in rollback`));
    }
  });

  for (const name of Object.keys(params)) {
    if (!used.has(name)) problems.push(problemAt(src, ['params', name], `parameter ${name} is declared but never used; remove it or use it`));
  }
  return { ...dot, ...resolved };
}

/** Checks that a DOT can satisfy the laws it cites (and its risk class). */
function checkLaws(src: Located, dot: Dot, laws: ReadonlyMap<string, Law>, problems: Problem[]): void {
  dot.laws.forEach((id, i) => {
    if (!laws.has(id)) problems.push(problemAt(src, ['laws', i], `unknown law ${id}; known laws: ${[...laws.keys()].join(', ')}`));
  });
  const req = gateRequirements([dot], laws);
  const why = (name: string): string => (req.sources[name] ?? []).join(', ');
  if (req.archiveBeforeDiff) {
    const firstArchive = dot.diff.findIndex((s) => s.kind === 'archive');
    const firstChange = dot.diff.findIndex((s) => s.kind !== 'archive');
    if (firstArchive === -1 || (firstChange !== -1 && firstChange < firstArchive)) {
      problems.push(problemAt(src, ['diff'], `${why('archive_before_diff')} require an archive step before the first change in diff`));
    }
  }
  if (req.rollbackRequired && dot.rollback.length === 0) {
    problems.push(problemAt(src, ['risk'], `${why('rollback_required')} require a rollback section`));
  }
  if (req.rollbackRequired && dot.risk === 'irreversible') {
    const archives = dot.diff.filter((s) => s.kind === 'archive');
    const restores = dot.rollback.filter((s) => s.kind === 'restore');
    if (archives.length > 0 && !restores.some((r) => archives.some((a) => a.kind === 'archive' && a.to === r.from))) {
      problems.push(problemAt(src, ['rollback'], 'an irreversible DOT must roll back by restoring from the archive its diff writes (restore.from = archive.to)'));
    }
  }
  if (req.postVerifyRequired && dot.post_verify.length === 0) {
    problems.push(problemAt(src, ['risk'], `${why('post_verify_required')} require a post_verify section`));
  }
  if (req.preCheckRequired && dot.pre_check.length === 0) {
    problems.push(problemAt(src, ['risk'], `${why('pre_check_required')} require a pre_check section`));
  }
  if (req.registryEntry && !dot.registry) {
    problems.push(problemAt(src, ['laws'], `${why('registry_entry')} require a registry entry (registry: artefact, name, purpose)`));
  }
}

/**
 * Validates a whole catalogue: every DOT file, the law registry and the links between them.
 * Reports every problem at once.
 */
export function validateCatalogue(source: CatalogueSource): ValidationResult {
  const problems: Problem[] = [];
  const laws = validateLaws(source.laws, problems);
  const dots = new Map<string, ValidDot>();
  const located = new Map<string, { src: Located; dot: Dot; text: string }>();

  for (const file of source.dots) {
    const src = parseYaml(file, problems);
    if (!src) continue;
    if (controlCharacters(src, problems)) continue;
    const value = toJs(src, problems);
    if (value === undefined) continue;
    const parsed = DotSchema.safeParse(value);
    if (!parsed.success) {
      problems.push(...zodProblems(src, parsed.error.issues));
      continue;
    }
    const dot = checkDot(src, parsed.data, source, problems);
    const base = file.file.split('/').pop() ?? file.file;
    if (base !== `${dot.id}.yaml`) {
      problems.push(problemAt(src, ['id'], `DOT ${dot.id} must live in a file named ${dot.id}.yaml`));
    }
    checkLaws(src, dot, laws, problems);
    problems.push(...checkDotSql(src, dot, laws));
    if (located.has(dot.id)) {
      problems.push(problemAt(src, ['id'], `duplicate DOT id ${dot.id} (also in ${located.get(dot.id)?.src.file})`));
      continue;
    }
    located.set(dot.id, { src, dot, text: file.text });
  }

  for (const { src, dot, text } of located.values()) {
    dot.companions.forEach((c, i) => {
      if (c === dot.id) problems.push(problemAt(src, ['companions', i], `${dot.id} cannot be its own companion`));
      else if (!located.has(c) && source.partial !== true) problems.push(problemAt(src, ['companions', i], `unknown companion ${c}; no DOT with that id in the catalogue`));
    });
    dots.set(dot.id, { spec: dot, file: src.file, content: dotContent(source, dot, text) });
  }

  if (problems.length > 0) {
    const sorted = [...problems].sort((a, b) => (a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1));
    return { kind: 'invalid', problems: sorted };
  }
  const ordered = new Map([...dots.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  return { kind: 'valid', catalogue: { dots: ordered, laws } };
}
