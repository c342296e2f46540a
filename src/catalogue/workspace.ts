/**
 * The workspace: `dotctl.yaml` at the root of a directory a team commits. It names the catalogue,
 * the ledger, the identities file and the environments (`staging`, `prod`, …), each with its
 * target and parameter defaults — as `sqitch.conf` targets and `atlas.hcl` env blocks do. zod is
 * the one definition of its shape; parsing and resolving are pure (the CLI reads the file).
 * Secrets never live here: a target URL with a password, or a PGPASSWORD, is refused; the config
 * names the environment variable that holds such a URL instead.
 */
import * as z from 'zod';
import { isAbsolute, join } from 'node:path';
import { readPositionedYaml } from './yaml-doc.js';
import type { Problem } from '../model/errors.js';
import { PARAM_NAME } from './schema.js';
import { resolveWatch, WatchSchema, watchProblems, type WatchSettings } from './watch-config.js';

export type { WatchSettings, BackupSetConfig, AlertConfig } from './watch-config.js';

export { WORKSPACE_FILE } from './workspace-file.js';

/** Names of environments. */
export const ENV_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** libpq variables an environment may set (never PGPASSWORD: secrets stay out of the config). */
export const LIBPQ_KEYS = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGAPPNAME', 'PGCONNECT_TIMEOUT', 'PGPASSFILE'] as const;

const ENV_VAR = /^[A-Z_][A-Z0-9_]*$/;

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** One environment: where its target is and the parameter values it knows. */
export const WorkspaceEnvironment = z.strictObject({
  description: z.string().optional(),
  target: z.string().min(1).optional().describe('postgres://user@host:port/database of this environment (no password: use target_env, PGPASSWORD or ~/.pgpass).'),
  target_env: z.string().regex(ENV_VAR, 'an environment variable name, e.g. PROD_DATABASE_URL').optional().describe('Environment variable holding the target URL (for a URL that carries a password).'),
  libpq: z
    .partialRecord(z.enum(LIBPQ_KEYS), z.union([z.string(), z.number()]))
    .optional()
    .describe('libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE, …) used when no target URL is given; never PGPASSWORD.'),
  params: z
    .record(z.string().regex(PARAM_NAME, 'parameter names are lower_snake_case'), scalar)
    .optional()
    .describe('Parameter defaults for DOTs proposed in this environment (e.g. expected_host); -p wins. Never a secret.'),
});
export type WorkspaceEnvironment = z.infer<typeof WorkspaceEnvironment>;

/** `dotctl.yaml`. */
export const WorkspaceSchema = z.strictObject({
  version: z.literal(1).describe('Format version of this file.'),
  catalogue: z.string().min(1).default('dots').describe('The DOT catalogue directory (DOT specs, diffs, laws.yaml), relative to this file.'),
  ledger: z.string().min(1).default('.dotctl/ledger.db').describe('SQLite file (relative to this file) or postgres:// URL without a password.'),
  identities: z.string().min(1).default('identities.yaml').describe('The identities file: who may act, their roles, keys and control groups.'),
  proposals: z.string().min(1).default('proposals').describe('Where rendered proposals are written.'),
  keys: z.string().min(1).default('.dotctl/keys').describe('Where dotctl keygen writes private keys (keep it out of version control).'),
  default_env: z.string().regex(ENV_NAME).optional().describe('Environment used when --env (DOTCTL_ENV) is not given.'),
  environments: z
    .record(z.string().regex(ENV_NAME, 'environment names are lower-case letters, digits, _ and -'), WorkspaceEnvironment)
    .default({})
    .describe('Named targets (staging, prod, …) with their parameter defaults.'),
  watch: WatchSchema.optional().describe('What dotctl watch judges besides the invariants of applied proposals (backup sets), and where it sends alerts.'),
});
export type WorkspaceInput = z.input<typeof WorkspaceSchema>;
export type WorkspaceConfig = z.output<typeof WorkspaceSchema>;

/** Why a URL may not be written in the config, or null. */
function urlSecret(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null; // not a URL: the target/ledger code says so with its own message
  }
  if (u.password !== '') return 'holds a password; secrets never go in dotctl.yaml: name the variable that holds the URL (target_env) or use PGPASSWORD / ~/.pgpass';
  if (u.searchParams.has('password')) return 'has a password= query parameter; secrets never go in dotctl.yaml: use target_env, PGPASSWORD or ~/.pgpass';
  return null;
}

/** Parses `dotctl.yaml`; every problem with its position, or the config. */
export function parseWorkspace(file: string, text: string): { kind: 'valid'; config: WorkspaceConfig } | { kind: 'invalid'; problems: readonly Problem[] } {
  const y = readPositionedYaml(file, text);
  if (y.kind === 'invalid') return y;
  const { value, at, nodeAt } = y;
  // a password is worth its own sentence, before the shape's "unrecognized key"
  const problems: Problem[] = [];
  const raw = (value ?? {}) as { ledger?: unknown; environments?: Record<string, { target?: unknown; libpq?: Record<string, unknown> } | null> };
  if (typeof raw.ledger === 'string') {
    const why = urlSecret(raw.ledger);
    if (why) problems.push(at(nodeAt(['ledger']), `ledger ${why}`));
  }
  for (const [name, env] of Object.entries(raw.environments ?? {})) {
    if (typeof env?.target === 'string') {
      const why = urlSecret(env.target);
      if (why) problems.push(at(nodeAt(['environments', name, 'target']), `environments.${name}.target ${why}`));
    }
    if (env?.libpq && typeof env.libpq === 'object' && 'PGPASSWORD' in env.libpq) {
      problems.push(
        at(nodeAt(['environments', name, 'libpq', 'PGPASSWORD']), `environments.${name}.libpq.PGPASSWORD: secrets never go in dotctl.yaml; set PGPASSWORD in the environment or use ~/.pgpass`),
      );
    }
  }
  if (problems.length > 0) return { kind: 'invalid', problems };
  const parsed = WorkspaceSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const say = (i: (typeof parsed.error.issues)[number]): string => {
      // zod says "Invalid key in record"; say which names are allowed
      if (i.code === 'invalid_key' && i.path[0] === 'environments') return `${String(i.path.at(-1))} is not a valid environment name: environment names are lower-case letters, digits, _ and -`;
      if (i.code === 'invalid_key') return `${String(i.path.at(-1))} is not a valid parameter name: parameter names are lower_snake_case`;
      return i.message;
    };
    return { kind: 'invalid', problems: parsed.error.issues.map((i) => at(nodeAt(i.path), `${i.path.join('.') || 'document'}: ${say(i)}`)) };
  }
  const c = parsed.data;
  for (const [name, env] of Object.entries(c.environments)) {
    if (env.target !== undefined && env.target_env !== undefined) {
      problems.push(at(nodeAt(['environments', name, 'target_env']), `environments.${name}: give target or target_env, not both`));
    }
  }
  if (c.watch) for (const p of watchProblems(c.watch)) problems.push(at(nodeAt(p.path), p.message));
  if (c.default_env !== undefined && !(c.default_env in c.environments)) {
    problems.push(at(nodeAt(['default_env']), `default_env ${c.default_env} is not one of the environments (${Object.keys(c.environments).join(', ') || 'none'})`));
  }
  return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'valid', config: c };
}

/** A workspace as commands use it: every path absolute, the environment chosen and resolved. */
export interface ResolvedWorkspace {
  readonly root: string;
  readonly file: string;
  readonly catalogue: string;
  readonly ledger: string;
  readonly identities: string;
  readonly proposals: string;
  readonly keys: string;
  /** backup sets and alerts of `dotctl watch` (paths absolute) */
  readonly watch: WatchSettings;
  /** the chosen environment, or null when none was asked for and there is no default_env */
  readonly environment: ResolvedEnvironment | null;
}

/** The chosen environment, resolved against the process environment. */
export interface ResolvedEnvironment {
  readonly name: string;
  /** the target URL (from target, or the variable target_env names), else undefined (libpq) */
  readonly target: string | undefined;
  /** libpq variables to lay over the process environment */
  readonly libpq: Readonly<Record<string, string>>;
  /** parameter defaults as `name → value` strings */
  readonly params: Readonly<Record<string, string>>;
}

/** The outcome of resolving: the workspace, or one sentence saying what is wrong and the way out. */
export type WorkspaceResolution = { readonly kind: 'resolved'; readonly workspace: ResolvedWorkspace } | { readonly kind: 'error'; readonly message: string };

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s);

/** Resolves a path of the config against the workspace root (URLs and absolute paths stay). */
export function resolveAgainst(root: string, p: string): string {
  return isUrl(p) || isAbsolute(p) ? p : join(root, p);
}

/**
 * Resolves a parsed config found at `file` in `root`: relative paths against the root, the
 * environment `envName` (else `default_env`) with its target read from `env` when the config
 * names a variable. Pure.
 */
export function resolveWorkspace(config: WorkspaceConfig, root: string, file: string, envName: string | undefined, env: Readonly<Record<string, string | undefined>>): WorkspaceResolution {
  const name = envName ?? config.default_env;
  let environment: ResolvedEnvironment | null = null;
  if (name !== undefined) {
    const e = config.environments[name];
    const known = Object.keys(config.environments);
    if (!e) {
      return {
        kind: 'error',
        message: `no environment ${name} in ${file}; ${known.length > 0 ? `its environments are ${known.join(', ')}` : 'it declares no environments yet: add one under environments:'}`,
      };
    }
    let target = e.target;
    if (e.target_env !== undefined) {
      target = env[e.target_env];
      if (target === undefined || target === '') {
        return { kind: 'error', message: `environment ${name} of ${file} takes its target from $${e.target_env}, which is not set; export ${e.target_env}=postgres://user:…@host:port/database` };
      }
    }
    const libpq = Object.fromEntries(Object.entries(e.libpq ?? {}).map(([k, v]) => [k, String(v)]));
    const params = Object.fromEntries(Object.entries(e.params ?? {}).map(([k, v]) => [k, String(v)]));
    environment = { name, target, libpq, params };
  }
  return {
    kind: 'resolved',
    workspace: {
      root,
      file,
      catalogue: resolveAgainst(root, config.catalogue),
      ledger: resolveAgainst(root, config.ledger),
      identities: resolveAgainst(root, config.identities),
      proposals: resolveAgainst(root, config.proposals),
      keys: resolveAgainst(root, config.keys),
      watch: resolveWatch(config.watch, (p) => resolveAgainst(root, p)),
      environment,
    },
  };
}
