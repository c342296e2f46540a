/**
 * The checks of one DOT beyond its shape, run on its well-formed parts: parameters declared,
 * used and typed where they are used; steps allowed in their sections; patches with their
 * diff and reverse; laws known and satisfiable. Pure.
 */
import { parsePatch } from 'diff';
import type { Problem } from '../model/errors.js';
import { checkParamValue } from './params.js';
import { gateRequirements } from './laws.js';
import { scanSqlRefs, placeholderNames } from './sql-template.js';
import { didYouMean } from './did-you-mean.js';
import { problemAt, type LocatedDoc, type Path } from './validate-yaml.js';
import type { DotParts } from './validate-shape.js';
import { SECTION_KINDS, SPEC_SECTIONS, stepsIn, type Dot, type Law, type SpecSection, type Step } from './schema.js';

/** Side files a patch's `diff_file` names, and how their directory is shown in messages. */
export interface SideFiles {
  readonly sideFiles: ReadonlyMap<string, string>;
  readonly dir: string;
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
        ...(['stdout_pattern', 'stdout_not_pattern', 'stderr_pattern'] as const).filter((k) => step.expect?.[k] !== undefined).map((k): [Path, string] => [['expect', k], step.expect?.[k] ?? '']),
      ];
    case 'archive':
      return [
        [['schema'], step.schema],
        [['to'], step.to],
      ];
    case 'restore':
      return [[['from'], step.from]];
    case 'restore_drill':
      return [
        [['dir'], step.dir],
        ...(typeof step.tolerance_pct === 'string' ? [[['tolerance_pct'], step.tolerance_pct] as [Path, string]] : []),
        ...(typeof step.min_payload_bytes === 'string' ? [[['min_payload_bytes'], step.min_payload_bytes] as [Path, string]] : []),
        ...(step.exclude_schemas ?? []).map((x, i): [Path, string] => [['exclude_schemas', i], x]),
      ];
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

const CHECK_SECTIONS: readonly SpecSection[] = ['hard_stops', 'pre_check', 'post_verify', 'invariants'];

/** Sections whose commands may be marked read_only (run unattended or before approval). */
const READ_ONLY_SECTIONS: readonly SpecSection[] = ['hard_stops', 'pre_check', 'invariants'];

/** The rules of `standing`, `read_only` and `remedy` that depend on the section: each problem in words. */
function standingProblems(section: SpecSection, step: Step): [Path, string][] {
  const out: [Path, string][] = [];
  const standing = 'standing' in step && step.standing === true;
  if (standing && section !== 'post_verify') out.push([['standing'], `standing is for post_verify checks (every check in invariants already stands); remove it from this ${section} step`]);
  if (step.kind === 'command') {
    const readOnlyAllowed = READ_ONLY_SECTIONS.includes(section) || (section === 'post_verify' && standing);
    if (step.read_only && !readOnlyAllowed) {
      out.push([['read_only'], `read_only is for the checks that run before approval or unattended (hard_stops, pre_check, invariants, a standing post_verify); remove it from this ${section} step`]);
    }
    if (!step.read_only && (section === 'invariants' || (section === 'post_verify' && standing))) {
      out.push([
        [],
        `the command "${step.name}" runs unattended under dotctl watch, so it must only read: mark it read_only: true (reviewers admit that), or make it a post_verify check that is not standing`,
      ]);
    }
  }
  if (step.kind === 'sql' && step.remedy && section !== 'invariants' && !(section === 'post_verify' && step.standing)) {
    out.push([['remedy'], `remedy is for standing checks (invariants, or a post_verify marked standing: true); remove it from this ${section} step`]);
  }
  return out;
}

/**
 * Checks one DOT against itself (params, steps, sections, patches) and returns it with patch
 * diffs resolved inline.
 */
export function checkDot(src: LocatedDoc, parts: DotParts, side: SideFiles, problems: Problem[]): Dot {
  const { dot, broken, origin, declared } = parts;
  const params = dot.params;
  const used = new Set<string>();
  const resolved: Record<SpecSection, Step[]> = { hard_stops: [], pre_check: [], diff: [], rollback: [], post_verify: [], invariants: [] };

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

  // a name declared under params whose declaration is malformed is reported by the shape, not as undeclared
  const undeclared = (n: string): boolean => params[n] === undefined && declared !== null && !declared.has(n);
  const hint = (n: string): string => didYouMean(n, declared ?? [], false);

  const usePlaceholder = (path: Path, text: string, allowSecret: boolean): void => {
    for (const n of placeholderNames(text)) {
      used.add(n);
      const p = params[n];
      if (undeclared(n)) problems.push(problemAt(src, path, `{{${n}}} is used but no parameter ${n} is declared under params${hint(n)}`));
      else if (p?.type === 'secret' && !allowSecret) {
        problems.push(problemAt(src, path, `secret parameter ${n} may only appear in SQL literals or a command's env, never in argv, paths or names`));
      }
    }
  };

  for (const section of SPEC_SECTIONS) {
    stepsIn(dot, section).forEach((step, i) => {
      const at: Path = [section, origin(section, i)];
      if (!SECTION_KINDS[section].includes(step.kind)) {
        problems.push(problemAt(src, [...at, 'kind'], `a ${step.kind} step is not allowed in ${section}; allowed: ${SECTION_KINDS[section].join(', ')}`));
      }
      for (const [p, message] of standingProblems(section, step)) problems.push(problemAt(src, [...at, ...p], message));
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
            if (undeclared(ref.name))
              problems.push(
                problemAt(src, [...at, 'sql'], `:${ref.kind === 'literal' ? `'${ref.name}'` : `"${ref.name}"`} is used but no parameter ${ref.name} is declared under params${hint(ref.name)}`),
              );
            else if (p && ref.kind === 'identifier' && p.type !== 'identifier') {
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
            problems.push(problemAt(src, [...at, 'optional_tool'], `optional_tool is for checks only (hard_stops, pre_check, post_verify, invariants): a ${section} step must run; remove it`));
          }
          for (const key of ['stdout_pattern', 'stdout_not_pattern', 'stderr_pattern'] as const) {
            const bad = checkRegex(step.expect?.[key]);
            if (bad) problems.push(problemAt(src, [...at, 'expect', key], `invalid regular expression: ${bad}`));
          }
          break;
        }
        case 'restore_drill': {
          // a number field is a number, or exactly one placeholder of an integer parameter
          for (const key of ['tolerance_pct', 'min_payload_bytes'] as const) {
            const v = step[key];
            if (typeof v !== 'string') continue;
            const m = /^\{\{([a-z_][a-z0-9_]*)\}\}$/.exec(v);
            const p = m ? params[m[1]!] : undefined;
            if (!m || (p && p.type !== 'integer')) {
              problems.push(problemAt(src, [...at, key], `${key} must be a number or {{name}} of an integer parameter${m ? `; parameter ${m[1]} is declared ${p?.type}` : ''}`));
            }
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
  if (!broken.has('risk') && !broken.has('rollback')) {
    dot.diff.forEach((step, i) => {
      if (step.kind !== 'patch') return;
      const undone = dot.rollback.some((r) => r.kind === 'patch' && r.reverse === true && r.file === step.file && (r.diff_file ?? r.diff) === (step.diff_file ?? step.diff));
      if (!undone && dot.risk === 'reversible') {
        problems.push(problemAt(src, ['diff', origin('diff', i)], `patch "${step.name}" has no reverse patch (same file and diff, reverse: true) in rollback`));
      }
    });
  }

  // a malformed step or registry may be where a parameter is used
  if (![...SPEC_SECTIONS, 'registry'].some((k) => broken.has(k))) {
    for (const name of Object.keys(params)) {
      if (!used.has(name)) problems.push(problemAt(src, ['params', name], `parameter ${name} is declared but never used; remove it or use it`));
    }
  }
  const { invariants, ...run } = resolved;
  return { ...dot, ...run, ...(dot.invariants !== undefined ? { invariants } : {}) };
}

/** Checks that a DOT cites known laws and can satisfy them (and its risk class). */
export function checkLaws(src: LocatedDoc, parts: DotParts, laws: ReadonlyMap<string, Law>, problems: Problem[]): void {
  const { dot, broken, origin } = parts;
  dot.laws.forEach((id, i) => {
    if (!laws.has(id)) problems.push(problemAt(src, ['laws', origin('laws', i)], `unknown law ${id}; known laws: ${[...laws.keys()].join(', ')}${didYouMean(id, laws.keys(), false)}`));
  });
  // the risk label adds requirements of its own; each rule below waits for the sections it reads
  if (broken.has('risk')) return;
  const whole = (...keys: string[]): boolean => keys.every((k) => !broken.has(k));
  const req = gateRequirements([dot], laws);
  const why = (name: string): string => (req.sources[name] ?? []).join(', ');
  if (req.archiveBeforeDiff && whole('diff')) {
    const firstArchive = dot.diff.findIndex((s) => s.kind === 'archive');
    const firstChange = dot.diff.findIndex((s) => s.kind !== 'archive');
    if (firstArchive === -1 || (firstChange !== -1 && firstChange < firstArchive)) {
      problems.push(problemAt(src, ['diff'], `${why('archive_before_diff')} require an archive step before the first change in diff`));
    }
  }
  if (req.rollbackRequired && dot.rollback.length === 0 && whole('rollback')) {
    problems.push(problemAt(src, ['risk'], `${why('rollback_required')} require a rollback section`));
  }
  if (req.rollbackRequired && dot.risk === 'irreversible' && whole('diff', 'rollback')) {
    const archives = dot.diff.filter((s) => s.kind === 'archive');
    const restores = dot.rollback.filter((s) => s.kind === 'restore');
    if (archives.length > 0 && !restores.some((r) => archives.some((a) => a.kind === 'archive' && a.to === r.from))) {
      problems.push(problemAt(src, ['rollback'], 'an irreversible DOT must roll back by restoring from the archive its diff writes (restore.from = archive.to)'));
    }
  }
  if (req.postVerifyRequired && dot.post_verify.length === 0 && whole('post_verify')) {
    problems.push(problemAt(src, ['risk'], `${why('post_verify_required')} require a post_verify section`));
  }
  if (req.preCheckRequired && dot.pre_check.length === 0 && whole('pre_check')) {
    problems.push(problemAt(src, ['risk'], `${why('pre_check_required')} require a pre_check section`));
  }
  if (req.registryEntry && !dot.registry && whole('registry')) {
    problems.push(problemAt(src, ['laws'], `${why('registry_entry')} require a registry entry (registry: artefact, name, purpose)`));
  }
}
