/**
 * Binding of a step's text to parameter values, for display and hashing (secrets shown as
 * placeholders) and for execution (secrets resolved). Pure.
 */
import { ParamError } from '../model/errors.js';
import type { Step } from './schema.js';
import { displayValue, showValue, type BoundParams, type BoundValue } from './params.js';
import { PLACEHOLDER, quoteIdent, quoteLiteral, substitutePlaceholders, substituteSql } from './sql-template.js';

/** Resolves a bound value to its text; for secrets, `secret` decides what is shown. */
export type ValueText = (name: string, v: BoundValue) => string;

/** Display form: secrets become a placeholder naming their environment variable. */
export const displayText: ValueText = (_name, v) => displayValue(v);

function lookup(params: BoundParams, name: string): BoundValue {
  const v = params[name];
  if (!v) throw new TypeError(`parameter ${name} is not bound`); // validate() guarantees this
  return v;
}

/** SQL with `:'x'` quoted as a literal and `:"x"` as an identifier. */
export function bindSqlText(sql: string, params: BoundParams, text: ValueText = displayText): string {
  return substituteSql(sql, (ref) => {
    const v = lookup(params, ref.name);
    return ref.kind === 'identifier' ? quoteIdent(text(ref.name, v)) : quoteLiteral(text(ref.name, v));
  });
}

/** A string with `{{x}}` replaced. */
export function bindTemplate(template: string, params: BoundParams, text: ValueText = displayText): string {
  return substitutePlaceholders(template, (n) => text(n, lookup(params, n)));
}

/**
 * One argv element: a parameter value may not turn an operand into an option. When the
 * template does not start with `-` but the bound element does, the value at its start was
 * chosen to be read as an option (`find -delete`), so it is refused naming the parameter.
 */
export function bindArgvElement(template: string, params: BoundParams, text: ValueText = displayText): string {
  const bound = bindTemplate(template, params, text);
  if (!template.startsWith('-') && bound.startsWith('-')) {
    // the first placeholder with a non-empty value is the one the element now starts with
    const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
    const name = names.find((n) => text(n, lookup(params, n)) !== '') ?? names[0] ?? template;
    const v = params[name];
    const shown = v && v.kind !== 'secret' ? ` value ${showValue(String(v.value))}` : '';
    throw new ParamError(
      name,
      `parameter ${name}${shown} would start a command argument with "-", which the command would read as an option; pass a value that does not start with "-" (for a path, ./-name)`,
    );
  }
  return bound;
}

/** A step with every parameter reference resolved, tagged by kind. */
export type BoundStep =
  | { readonly kind: 'sql'; readonly name: string; readonly sql: string; readonly transactional: boolean; readonly expect: Extract<Step, { kind: 'sql' }>['expect'] }
  | {
      readonly kind: 'patch';
      readonly name: string;
      readonly file: string;
      readonly diff: string;
      readonly reverse: boolean;
      readonly sha256: string | undefined;
      readonly diffFile: string | undefined;
    }
  | {
      readonly kind: 'command';
      readonly name: string;
      readonly argv: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      readonly timeoutMs: number;
      readonly expect: Extract<Step, { kind: 'command' }>['expect'];
      readonly rehearse: boolean;
      readonly optionalTool?: true;
    }
  | { readonly kind: 'archive'; readonly name: string; readonly schema: string; readonly to: string }
  | { readonly kind: 'restore'; readonly name: string; readonly from: string }
  | {
      readonly kind: 'restore_drill';
      readonly name: string;
      readonly dir: string;
      readonly tolerancePct: number;
      readonly minPayloadBytes: number;
      readonly excludeSchemas: readonly string[];
    }
  | { readonly kind: 'file'; readonly name: string; readonly path: string; readonly checks: Omit<Extract<Step, { kind: 'file' }>, 'kind' | 'name' | 'path'> }
  | { readonly kind: 'host'; readonly name: string; readonly equals: string };

/** A dump smaller than this (decompressed) is never restored by a drill unless the DOT says otherwise. */
export const DEFAULT_DRILL_MIN_PAYLOAD_BYTES = 1;

/** A drill's number field: a number, or `{{param}}` of an integer parameter (validate checks which). */
function drillNumber(step: string, field: string, v: number | string, t: (s: string) => string): number {
  const n = typeof v === 'number' ? v : Number(t(v));
  if (!Number.isFinite(n) || n < 0) throw new ParamError(field, `${field} of the restore drill "${step}" is ${JSON.stringify(typeof v === 'number' ? v : t(v))}; it must be a number ≥ 0`);
  return n;
}

/** Default timeout of a command step. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/** Binds a step's parameters. */
export function bindStep(step: Step, params: BoundParams, text: ValueText = displayText): BoundStep {
  const t = (s: string): string => bindTemplate(s, params, text);
  switch (step.kind) {
    case 'sql': {
      let expect = step.expect;
      if (expect && 'equals' in expect && typeof expect.equals === 'string') expect = { ...expect, equals: t(expect.equals) };
      return { kind: 'sql', name: step.name, sql: bindSqlText(step.sql, params, text), transactional: step.transactional ?? true, expect };
    }
    case 'patch':
      return { kind: 'patch', name: step.name, file: t(step.file), diff: step.diff ?? '', reverse: step.reverse ?? false, sha256: step.sha256, diffFile: step.diff_file };
    case 'command':
      return {
        kind: 'command',
        name: step.name,
        argv: step.argv.map((a) => bindArgvElement(a, params, text)),
        env: Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, t(v)])),
        timeoutMs: step.timeout_ms ?? DEFAULT_COMMAND_TIMEOUT_MS,
        expect: step.expect && {
          ...step.expect,
          ...(step.expect.stdout_pattern !== undefined ? { stdout_pattern: t(step.expect.stdout_pattern) } : {}),
          ...(step.expect.stdout_not_pattern !== undefined ? { stdout_not_pattern: t(step.expect.stdout_not_pattern) } : {}),
          ...(step.expect.stderr_pattern !== undefined ? { stderr_pattern: t(step.expect.stderr_pattern) } : {}),
        },
        rehearse: step.rehearse ?? false,
        // only when set, so proposals made before the flag existed keep their hash
        ...(step.optional_tool ? { optionalTool: true as const } : {}),
      };
    case 'archive':
      return { kind: 'archive', name: step.name, schema: t(step.schema), to: t(step.to) };
    case 'restore':
      return { kind: 'restore', name: step.name, from: t(step.from) };
    case 'restore_drill':
      return {
        kind: 'restore_drill',
        name: step.name,
        dir: t(step.dir),
        tolerancePct: drillNumber(step.name, 'tolerance_pct', step.tolerance_pct, t),
        minPayloadBytes: drillNumber(step.name, 'min_payload_bytes', step.min_payload_bytes ?? DEFAULT_DRILL_MIN_PAYLOAD_BYTES, t),
        excludeSchemas: (step.exclude_schemas ?? []).map(t),
      };
    case 'file': {
      const { kind: _k, name, path, ...checks } = step;
      return { kind: 'file', name, path: t(path), checks: checks.owner !== undefined ? { ...checks, owner: t(checks.owner) } : checks };
    }
    case 'host':
      return { kind: 'host', name: step.name, equals: t(step.equals) };
    default: {
      const never: never = step;
      return never;
    }
  }
}
