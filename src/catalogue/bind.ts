/**
 * Execution-time binding: secrets resolved from the environment, check queries with bind
 * parameters ($1…), statements with literals quoted by literal rules. Pure apart from `env`.
 */
import { ParamError } from '../model/errors.js';
import type { BoundParams, BoundValue } from './params.js';
import { quoteIdent, substituteSql } from './sql-template.js';
import { bindStep, type BoundStep, type ValueText } from './steps.js';
import type { Step } from './schema.js';

/** Secret values by parameter name, read from the environment at apply time. */
export type SecretValues = ReadonlyMap<string, string>;

/** Reads every secret a bundle needs from `env`; a missing one is a ParamError naming its variable. */
export function resolveSecrets(params: BoundParams, env: NodeJS.ProcessEnv): SecretValues {
  const out = new Map<string, string>();
  for (const [name, v] of Object.entries(params)) {
    if (v.kind !== 'secret') continue;
    const value = env[v.env];
    if (value === undefined || value === '') {
      throw new ParamError(name, `secret parameter ${name} needs the environment variable ${v.env}; set it and run again`);
    }
    if (value.includes('\0')) throw new ParamError(name, `secret parameter ${name} (from ${v.env}) contains a NUL byte`);
    out.set(name, value);
  }
  return out;
}

/** Value text with secrets resolved. */
export function executionText(secrets: SecretValues): ValueText {
  return (name: string, v: BoundValue) => {
    if (v.kind !== 'secret') return String(v.value);
    const s = secrets.get(name);
    if (s === undefined) throw new ParamError(name, `secret parameter ${name} was not resolved; set ${v.env}`);
    return s;
  };
}

/** A check query: identifiers quoted, literals sent as bind parameters. */
export function bindQuery(sql: string, params: BoundParams, secrets: SecretValues): { text: string; values: string[] } {
  const values: string[] = [];
  const text = executionText(secrets);
  const out = substituteSql(sql, (ref) => {
    const v = params[ref.name];
    if (!v) throw new ParamError(ref.name, `parameter ${ref.name} is not bound`);
    if (ref.kind === 'identifier') return quoteIdent(text(ref.name, v));
    values.push(text(ref.name, v));
    return `$${values.length}`;
  });
  return { text: out, values };
}

/** A step bound for execution (secrets resolved). */
export function bindForExecution(step: Step, params: BoundParams, secrets: SecretValues): BoundStep {
  return bindStep(step, params, executionText(secrets));
}
