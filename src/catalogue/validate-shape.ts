/**
 * The shape of a spec, against its zod schema: every issue as a located problem in plain words
 * (with "did you mean" for mistyped keys, step kinds and enum values), and the well-formed
 * parts of a malformed DOT, so that the deeper checks can run on them in the same pass. Pure.
 */
import type { z } from 'zod';
import type { Problem } from '../model/errors.js';
import { closestName, didYouMean } from './did-you-mean.js';
import { describePath, problemAt, type LocatedDoc, type Path } from './validate-yaml.js';
import { DotSchema, Param, PARAM_NAME, SECTION_KINDS, SPEC_SECTIONS, Step, type Dot, type SpecSection } from './schema.js';

/** zod's definition of a schema node (the parts read here). */
interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly element?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly values?: readonly unknown[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The schema without optional/default/pipe wrappers; a discriminated union resolved by the value's tag. */
function unwrap(schema: z.ZodType, value: unknown): z.ZodType | null {
  let s: z.ZodType = schema;
  for (;;) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else if (d.type === 'union' && d.discriminator && d.options) {
      const key = d.discriminator;
      const tag = isRecord(value) ? value[key] : undefined;
      const hit = d.options.find((o) => defOf(o).shape?.[key] && (defOf(defOf(o).shape?.[key] as z.ZodType).values ?? []).includes(tag));
      if (!hit) return null;
      s = hit;
    } else return s;
  }
}

/** The schema that describes the value at `path` of `root`, where the path is well defined. */
function schemaAt(root: z.ZodType, value: unknown, path: Path): z.ZodType | null {
  let s = unwrap(root, value);
  let v = value;
  for (const seg of path) {
    if (!s) return null;
    const d = defOf(s);
    const child = d.type === 'object' ? d.shape?.[String(seg)] : d.type === 'array' ? d.element : d.type === 'record' ? d.valueType : undefined;
    if (!child) return null;
    v = Array.isArray(v) ? v[Number(seg)] : isRecord(v) ? v[String(seg)] : undefined;
    s = unwrap(child, v);
  }
  return s;
}

/** The value at `path`, or undefined. */
function valueAt(value: unknown, path: Path): unknown {
  let v = value;
  for (const seg of path) v = Array.isArray(v) ? v[Number(seg)] : isRecord(v) ? v[String(seg)] : undefined;
  return v;
}

/**
 * Parses like `schema`, but a value whose only faults are unknown keys is read without them:
 * a mistyped key is reported once (by the shape) and does not hide the rest of its step.
 */
function parseLenient(schema: z.ZodType, value: unknown): { success: true; data: unknown } | { success: false } {
  const r = schema.safeParse(value);
  if (r.success) return r;
  if (!r.error.issues.every((i) => i.code === 'unrecognized_keys')) return { success: false };
  const copy = structuredClone(value);
  for (const issue of r.error.issues) {
    const at = valueAt(copy, issue.path as Path);
    if (issue.code === 'unrecognized_keys' && isRecord(at)) for (const k of issue.keys) delete at[k];
  }
  return schema.safeParse(copy);
}

/** Every zod issue as a located problem, in words an author acts on. */
export function shapeProblems(src: LocatedDoc, root: z.ZodType, value: unknown, issues: readonly z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  // a missing key that an unknown key beside it is a typo of: the "did you mean" says it once
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const path = issue.path as Path;
    const present = Object.keys(isRecord(valueAt(value, path)) ? (valueAt(value, path) as object) : {});
    const s = schemaAt(root, value, path);
    const known = Object.keys((s && defOf(s).shape) ?? {}).filter((k) => !present.includes(k));
    for (const key of issue.keys) {
      const close = closestName(key, known);
      if (close !== null) suggested.add(describePath([...path, close]));
      out.push(problemAt(src, path, `unknown key "${key}" in ${describePath(path)}${close === null ? '' : `; did you mean "${close}"?`}`, key));
    }
  }
  for (const issue of issues) {
    const path = issue.path as Path;
    const where = describePath(path);
    const raw = valueAt(value, path);
    const last = path.at(-1);
    if (issue.code === 'unrecognized_keys') continue;
    // a step's kind: the kinds its section allows come first
    const section = path.length === 3 && last === 'kind' && (SPEC_SECTIONS as readonly unknown[]).includes(path[0]) ? (path[0] as SpecSection) : null;
    const options = issue.code === 'invalid_union' ? ((issue as { options?: readonly unknown[] }).options?.map(String) ?? []) : [];
    if (raw === undefined && typeof last === 'string' && isRecord(valueAt(value, path.slice(0, -1)))) {
      if (suggested.has(where)) continue;
      const expected = issue.code === 'invalid_type' ? ` (${issue.expected})` : options.length > 0 ? ` (one of ${(section ? SECTION_KINDS[section] : options).join(', ')})` : '';
      out.push(problemAt(src, path, `${where}: missing; add ${last}${expected}`));
      continue;
    }
    if (issue.code === 'invalid_union' && options.length > 0 && typeof raw === 'string') {
      const hint = (section && didYouMean(raw, SECTION_KINDS[section])) || didYouMean(raw, options);
      out.push(problemAt(src, path, `${where}: ${issue.message}${hint}`));
      continue;
    }
    if (issue.code === 'invalid_value' && typeof raw === 'string') {
      out.push(problemAt(src, path, `${where}: ${issue.message}${didYouMean(raw, issue.values.map(String))}`));
      continue;
    }
    if (issue.code === 'invalid_key') {
      out.push(problemAt(src, path, `${where}: ${issue.issues[0]?.message ?? issue.message}`));
      continue;
    }
    out.push(problemAt(src, path, `${where}: ${issue.message}`));
  }
  return out;
}

/** Lists of a DOT whose malformed entries are left out of its well-formed parts. */
export type ListField = SpecSection | 'laws' | 'companions';

const LISTS: ReadonlySet<string> = new Set<ListField>([...SPEC_SECTIONS, 'laws', 'companions']);

/** The well-formed parts of a DOT, for checks beyond its shape. */
export interface DotParts {
  /** the DOT with every malformed part left out (list entries dropped, fields at a neutral value) */
  readonly dot: Dot;
  /** top-level fields that are not wholly well-formed: checks that need them whole wait */
  readonly broken: ReadonlySet<string>;
  /** the index in the file of `dot[list][i]` */
  readonly origin: (list: ListField, i: number) => number;
  /** every name declared under params, well-formed or not (null: params is not a mapping) */
  readonly declared: ReadonlySet<string> | null;
}

/** The parts of a DOT whose shape is valid: all of it. */
export function wholeParts(dot: Dot): DotParts {
  return { dot, broken: new Set(), origin: (_l, i) => i, declared: new Set(Object.keys(dot.params)) };
}

/**
 * The well-formed parts of a DOT that fails its schema: each field, list entry and parameter
 * checked on its own. Null when the document is not a mapping at all.
 */
export function readDotParts(value: unknown): DotParts | null {
  if (!isRecord(value)) return null;
  const shape = defOf(DotSchema).shape ?? {};
  const broken = new Set<string>();
  const indices = new Map<string, number[]>();
  const field = <T>(key: string, fallback: T): T => {
    const schema = shape[key] as z.ZodType;
    const r = schema.safeParse(value[key]);
    if (r.success) return r.data as T;
    broken.add(key);
    if (LISTS.has(key)) return fallback; // read entry by entry by the caller
    const lenient = parseLenient(schema, value[key]);
    return lenient.success ? (lenient.data as T) : fallback;
  };
  const list = <T>(key: ListField, element: z.ZodType): T[] => {
    const all = field<T[] | null>(key, null);
    if (all) return all;
    const raw = value[key];
    if (!Array.isArray(raw)) return [];
    const kept: T[] = [];
    const at: number[] = [];
    raw.forEach((x, i) => {
      const r = parseLenient(element, x);
      if (!r.success) return;
      kept.push(r.data as T);
      at.push(i);
    });
    indices.set(key, at);
    return kept;
  };
  const params: Dot['params'] = {};
  let declared: Set<string> | null = null;
  const rawParams = value.params ?? {};
  if (isRecord(rawParams)) {
    declared = new Set(Object.keys(rawParams));
    for (const [name, p] of Object.entries(rawParams)) {
      const r = parseLenient(Param, p);
      if (r.success && PARAM_NAME.test(name)) params[name] = r.data as Dot['params'][string];
      else broken.add('params');
    }
  } else broken.add('params');
  const element = (key: string): z.ZodType => defOf(unwrap(shape[key] as z.ZodType, []) as z.ZodType).element as z.ZodType;
  const dot: Dot = {
    id: field('id', ''),
    version: field('version', 1),
    option: field('option', undefined),
    title: field('title', ''),
    summary: field('summary', ''),
    applies_when: field('applies_when', ''),
    risk: field('risk', 'reversible'),
    action_code: field('action_code', ''),
    laws: list('laws', element('laws')),
    companions: list('companions', element('companions')),
    params,
    registry: field('registry', undefined),
    timeouts: field('timeouts', undefined),
    hard_stops: list('hard_stops', Step),
    pre_check: list('pre_check', Step),
    diff: list('diff', Step),
    rollback: list('rollback', Step),
    post_verify: list('post_verify', Step),
    ...(value.invariants !== undefined ? { invariants: list<Dot['pre_check'][number]>('invariants', Step) } : {}),
  };
  return { dot, broken, origin: (l, i) => indices.get(l)?.[i] ?? i, declared };
}
