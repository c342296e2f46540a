/**
 * Validation of the DOT catalogue and the law registry: pure, from file texts to either a
 * catalogue of validated DOTs or every problem found, each with its file, line and column
 * (from yaml's node ranges). One pass reports everything: the shape of each file, and the
 * deeper checks (parameters, laws, SQL, companions) on whatever parts of it are well-formed.
 */
import type { Problem } from '../model/errors.js';
import { checkDotSql } from './validate-sql.js';
import { dotContent, type DotContent } from './content.js';
import { findTodos, isWithin } from './validate-todo.js';
import { describePath, problemAt, readSpecFile, type LocatedDoc, type Path, type SourceFile } from './validate-yaml.js';
import { readDotParts, shapeProblems, wholeParts } from './validate-shape.js';
import { checkDot, checkLaws } from './validate-refs.js';
import { didYouMean } from './did-you-mean.js';
import { DotSchema, LawRegistrySchema, type Dot, type Law } from './schema.js';

export type { SourceFile } from './validate-yaml.js';

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
export type ValidationResult = { readonly kind: 'valid'; readonly catalogue: Catalogue } | { readonly kind: 'invalid'; readonly problems: readonly Problem[] };

/** Validates the law registry; returns the laws by id. */
function validateLaws(file: SourceFile | null, problems: Problem[]): Map<string, Law> {
  const laws = new Map<string, Law>();
  if (!file) {
    problems.push({ file: 'laws.yaml', line: 1, col: 1, message: 'the law registry laws.yaml is missing from the DOT directory; create it' });
    return laws;
  }
  const read = readSpecFile(file, problems);
  if (!read) return laws;
  const { src, value } = read;
  const parsed = LawRegistrySchema.safeParse(value);
  if (!parsed.success) {
    problems.push(...shapeProblems(src, LawRegistrySchema, value, parsed.error.issues));
    return laws;
  }
  parsed.data.laws.forEach((law, i) => {
    if (laws.has(law.id)) problems.push(problemAt(src, ['laws', i, 'id'], `duplicate law id ${law.id}`));
    else laws.set(law.id, law);
  });
  return laws;
}

/** A DOT file read as far as its shape allows. */
interface ReadDot {
  readonly src: LocatedDoc;
  readonly text: string;
  /** the DOT (patch diffs resolved); whole only when `valid` */
  readonly dot: Dot;
  readonly valid: boolean;
  readonly companionAt: (i: number) => number;
}

/** Validates one DOT file: its shape, and every deeper check its well-formed parts allow. */
function validateDotFile(file: SourceFile, source: CatalogueSource, laws: ReadonlyMap<string, Law>, problems: Problem[]): ReadDot | null {
  const read = readSpecFile(file, problems);
  if (!read) return null;
  const { src, value } = read;
  const shape = DotSchema.safeParse(value);
  // values still to fill in (`dotctl new`): one clear problem each; shape problems of other fields too, nothing deeper yet
  const todos = findTodos(value);
  if (todos.length > 0) {
    for (const t of todos) problems.push(problemAt(src, t.path, `fill this in: ${describePath(t.path)} still says TODO${t.hint ? ` (${t.hint})` : ''}`));
    if (!shape.success)
      problems.push(
        ...shapeProblems(
          src,
          DotSchema,
          value,
          shape.error.issues.filter((i) => !todos.some((t) => isWithin(t.path, i.path as Path))),
        ),
      );
    return null;
  }
  if (!shape.success) problems.push(...shapeProblems(src, DotSchema, value, shape.error.issues));
  const parts = shape.success ? wholeParts(shape.data) : readDotParts(value);
  if (!parts) return null;
  const dot = checkDot(src, parts, source, problems);
  const base = file.file.split('/').pop() ?? file.file;
  if (!parts.broken.has('id') && base !== `${dot.id}.yaml`) {
    problems.push(problemAt(src, ['id'], `DOT ${dot.id} must live in a file named ${dot.id}.yaml`));
  }
  checkLaws(src, parts, laws, problems);
  problems.push(...checkDotSql(src, dot, laws, parts));
  return { src, text: file.text, dot, valid: shape.success, companionAt: (i) => parts.origin('companions', i) };
}

/**
 * Validates a whole catalogue: every DOT file, the law registry and the links between them.
 * Reports every problem at once.
 */
export function validateCatalogue(source: CatalogueSource): ValidationResult {
  const problems: Problem[] = [];
  const laws = validateLaws(source.laws, problems);
  const located = new Map<string, ReadDot>();
  const unnamed: ReadDot[] = [];

  for (const file of source.dots) {
    const read = validateDotFile(file, source, laws, problems);
    if (!read) continue;
    if (read.dot.id === '') {
      unnamed.push(read);
      continue;
    }
    const first = located.get(read.dot.id);
    if (first) {
      problems.push(problemAt(read.src, ['id'], `duplicate DOT id ${read.dot.id} (also in ${first.src.file})`));
      continue;
    }
    located.set(read.dot.id, read);
  }

  const dots = new Map<string, ValidDot>();
  for (const { src, dot, text, valid, companionAt } of [...located.values(), ...unnamed]) {
    dot.companions.forEach((c, i) => {
      const at = ['companions', companionAt(i)];
      if (c === dot.id) problems.push(problemAt(src, at, `${dot.id} cannot be its own companion`));
      else if (!located.has(c) && source.partial !== true) problems.push(problemAt(src, at, `unknown companion ${c}; no DOT with that id in the catalogue${didYouMean(c, located.keys(), false)}`));
    });
    (dot.invariants ?? []).forEach((step, i) => {
      if (step.kind !== 'sql' || !step.remedy) return;
      const at = ['invariants', i, 'remedy'];
      const named = step.remedy.dot;
      if (named !== undefined && source.partial === true) return; // a frozen bundle: a remedy naming another DOT was checked when it was admitted
      const target = named === undefined ? dot : located.get(named)?.dot;
      if (!target) problems.push(problemAt(src, [...at, 'dot'], `unknown remedy DOT ${named}; no DOT with that id in the catalogue${didYouMean(named ?? '', located.keys(), false)}`));
      else
        for (const p of Object.keys(step.remedy.params_from_columns))
          if (!(p in target.params)) problems.push(problemAt(src, [...at, 'params_from_columns', p], `${target.id} declares no parameter ${p}${didYouMean(p, Object.keys(target.params), false)}`));
    });
    if (valid) dots.set(dot.id, { spec: dot, file: src.file, content: dotContent(source, dot, text) });
  }

  if (problems.length > 0) {
    const sorted = [...problems].sort((a, b) => (a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1));
    return { kind: 'invalid', problems: sorted };
  }
  const ordered = new Map([...dots.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  return { kind: 'valid', catalogue: { dots: ordered, laws } };
}
