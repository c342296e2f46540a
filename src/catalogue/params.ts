/**
 * Parameter binding: raw `-p name=value` strings and spec defaults become typed values,
 * each validated by its type. Secrets never take a value here: they are bound to the
 * environment variable they will be read from at apply time. Pure.
 */
import { ParamError } from '../model/errors.js';
import type { Dot, Param, ParamType } from './schema.js';

/** A bound parameter value, tagged by type. */
export type BoundValue =
  | { readonly kind: 'identifier'; readonly value: string }
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'integer'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'path'; readonly value: string }
  | { readonly kind: 'secret'; readonly env: string };

/** Parameters of one DOT (or a bundle), by name. */
export type BoundParams = Readonly<Record<string, BoundValue>>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*$/;
// C0 controls but tab and line feed, DEL and the C1 controls; text may span lines
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
// every character a viewer or a shell may take as a line break
const LINE_BREAK = /[\n\r\u0085\u2028\u2029]/;
export const MAX_TEXT = 4096;

/** Environment variable a secret parameter is read from. */
export function secretEnvName(name: string, param: Param): string {
  return param.env ?? `DOTCTL_SECRET_${name.toUpperCase()}`;
}

/** Why a raw value is not acceptable for a type, or null when it is. */
export function checkParamValue(type: Exclude<ParamType, 'secret'>, raw: string): string | null {
  if (raw.includes('\0')) return 'contains a NUL byte';
  switch (type) {
    case 'identifier':
      if (!IDENT.test(raw)) {
        return 'is not a valid identifier (letters, digits, _ and $, starting with a letter or _; no quotes, spaces or semicolons)';
      }
      if (Buffer.byteLength(raw, 'utf8') > 63) return 'is longer than 63 bytes, the PostgreSQL identifier limit';
      return null;
    case 'text':
      if (raw.length > MAX_TEXT) return `is longer than ${MAX_TEXT} characters`;
      if (CONTROL.test(raw)) return 'contains a control character';
      return null;
    case 'integer':
      return /^-?\d{1,15}$/.test(raw) ? null : 'is not an integer';
    case 'boolean':
      return raw === 'true' || raw === 'false' ? null : 'is not true or false';
    case 'path':
      if (raw.length === 0) return 'is empty';
      if (raw.length > MAX_TEXT) return `is longer than ${MAX_TEXT} characters`;
      if (LINE_BREAK.test(raw)) return 'contains a line break';
      if (CONTROL.test(raw) || raw.includes('\t')) return 'contains a control character';
      if (raw.split('/').includes('..')) return 'contains a ".." segment';
      // a command would read it as an option (find -delete); ./-name means the same file
      if (raw.startsWith('-')) return `starts with "-", which a command would read as an option; write it as ./${clip(raw)}`;
      return null;
    default: {
      const never: never = type;
      return never;
    }
  }
}

function toBound(type: Exclude<ParamType, 'secret'>, raw: string): BoundValue {
  switch (type) {
    case 'integer':
      return { kind: 'integer', value: Number(raw) };
    case 'boolean':
      return { kind: 'boolean', value: raw === 'true' };
    default:
      return { kind: type, value: raw };
  }
}

function clip(raw: string): string {
  return raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
}

/** Shows a value in an error without flooding the terminal or echoing control bytes. */
export function showValue(raw: string): string {
  return JSON.stringify(clip(raw));
}

/**
 * Binds raw values to the parameters of a bundle of DOTs. A name applies to every DOT of
 * the bundle that declares it; a name no DOT declares, a bad value or a missing required
 * value throws a ParamError naming the parameter.
 */
export function bindParams(dots: readonly Dot[], raw: Readonly<Record<string, string>>): BoundParams {
  const declared = new Map<string, { param: Param; dot: string }>();
  for (const dot of dots) {
    for (const [name, param] of Object.entries(dot.params)) {
      const seen = declared.get(name);
      if (seen && seen.param.type !== param.type) {
        throw new ParamError(name, `parameter ${name} is declared as ${seen.param.type} by ${seen.dot} but as ${param.type} by ${dot.id}; these DOTs cannot be bundled until they agree`);
      }
      if (!seen) declared.set(name, { param, dot: dot.id });
    }
  }
  const ids = dots.map((d) => d.id).join(' + ');
  for (const name of Object.keys(raw)) {
    if (!declared.has(name)) {
      const known = [...declared.keys()].sort().join(', ') || 'none';
      throw new ParamError(name, `parameter ${name} is not declared by ${ids}; declared parameters: ${known}`);
    }
  }
  const bound: Record<string, BoundValue> = {};
  for (const [name, { param, dot }] of [...declared.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (param.type === 'secret') {
      if (raw[name] !== undefined) {
        throw new ParamError(name, `parameter ${name} is a secret: never pass it with -p; set the environment variable ${secretEnvName(name, param)} when you apply`);
      }
      bound[name] = { kind: 'secret', env: secretEnvName(name, param) };
      continue;
    }
    const given = raw[name];
    const value = given ?? (param.default === undefined ? undefined : String(param.default));
    if (value === undefined) {
      throw new ParamError(name, `parameter ${name} of ${dot} is required (${param.description}); pass it with -p ${name}=VALUE`);
    }
    const why = checkParamValue(param.type, value);
    if (why) {
      throw new ParamError(name, `parameter ${name} (${param.type}) value ${showValue(value)} ${why}; pass a valid value with -p ${name}=VALUE`);
    }
    bound[name] = toBound(param.type, value);
  }
  return bound;
}

/** Parses `name=value` pairs from the command line (the first `=` splits). */
export function parseParamPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ParamError(pair, `parameter ${showValue(pair)} is not of the form name=value; write -p name=value`);
    const name = pair.slice(0, eq);
    if (Object.hasOwn(out, name)) {
      throw new ParamError(name, `parameter ${name} is given twice; pass it once`);
    }
    out[name] = pair.slice(eq + 1);
  }
  return out;
}

/** Text shown for a bound value in proposals (secrets as a placeholder). */
export function displayValue(v: BoundValue): string {
  return v.kind === 'secret' ? `<secret from $${v.env}>` : String(v.value);
}

/** A JSON-safe view of bound params for hashing and storage (never a secret value). */
export function paramsForRecord(params: BoundParams): Record<string, string | number | boolean | { secret_env: string }> {
  const out: Record<string, string | number | boolean | { secret_env: string }> = {};
  for (const [k, v] of Object.entries(params)) out[k] = v.kind === 'secret' ? { secret_env: v.env } : v.value;
  return out;
}

/** Parameter values a workspace environment knows, and where they come from (for messages). */
export interface ParamDefaults {
  /** e.g. `environment prod of /srv/ops/dotctl.yaml` */
  readonly source: string;
  readonly values: Readonly<Record<string, string>>;
}

/**
 * Lays an environment's parameter values under the ones given with `-p` (which win): only
 * those a DOT of the bundle declares are taken (an environment knows the parameters of many
 * DOTs). A value for a secret parameter is refused: secrets never live in a config file. Pure.
 */
export function withParamDefaults(dots: readonly Dot[], defaults: ParamDefaults | undefined, given: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  if (defaults) {
    for (const [name, value] of Object.entries(defaults.values)) {
      const param = dots.map((d) => d.params[name]).find((p) => p !== undefined);
      if (!param) continue;
      if (param.type === 'secret') {
        throw new ParamError(name, `${defaults.source} sets ${name}, a secret parameter; remove it from the config and set the environment variable ${secretEnvName(name, param)} when you apply`);
      }
      out[name] = value;
    }
  }
  return { ...out, ...given };
}
