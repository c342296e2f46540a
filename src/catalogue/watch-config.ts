/**
 * The `watch:` section of `dotctl.yaml`: the backup sets `dotctl watch` judges and where it
 * sends alerts when a standing check changes state. zod is the one definition of its shape;
 * resolving is pure (paths against the workspace root; alert URLs named by a variable are read
 * from the environment only when the watch sends).
 */
import * as z from 'zod';

const ENV_VAR = /^[A-Z_][A-Z0-9_]*$/;

/** One directory of nightly dumps and what "fresh and good" means for it. */
export const BackupSetSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'names are lower-case letters, digits, _ . -')
    .describe('Short name of the set, shown in the watch report and alerts.'),
  dir: z.string().min(1).describe('Directory the dumps are written to (relative to dotctl.yaml).'),
  pattern: z
    .string()
    .min(1)
    .regex(/^[^/]+$/, 'a file name pattern without a directory')
    .default('*.sql.gz')
    .describe('File name pattern of the dumps (* and ? wildcards), e.g. directus_*.sql.gz.'),
  max_age_hours: z.number().positive().max(8760).describe('The newest good dump may be at most this old (e.g. 26 for a nightly backup).'),
  min_payload_bytes: z.number().int().min(1).default(1).describe('A dump whose decompressed payload is smaller is broken (a 20-byte gzip of nothing has 0).'),
  require_complete: z.boolean().default(true).describe('The payload must end with pg_dump\'s "dump complete" line (the audit\'s rule); false for dumps of another tool.'),
  time_from: z.enum(['mtime', 'name']).default('mtime').describe('Order and age dumps by their modification time, or by the time in their name (directus_2026-04-27_0000.sql.gz).'),
});

/** Where an alert goes: an Uptime Kuma push URL or a webhook that receives JSON. */
export const AlertSchema = z.strictObject({
  kind: z.enum(['kuma_push', 'webhook']).describe('kuma_push: GET <url>?status=up|down&msg=…; webhook: POST of a JSON document.'),
  url: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL')
    .optional()
    .describe('The URL (no credentials in it: use url_env for a URL that carries a token).'),
  url_env: z.string().regex(ENV_VAR, 'an environment variable name, e.g. KUMA_PUSH_URL').optional().describe('Environment variable holding the URL.'),
  timeout_ms: z.number().int().min(1).max(60_000).default(5000).describe('Per attempt; an endpoint that hangs is given up on after this.'),
  retries: z.number().int().min(0).max(10).default(2).describe('Further attempts after a failed one, with exponential backoff.'),
});

/** `watch:` of dotctl.yaml. */
export const WatchSchema = z.strictObject({
  backup_sets: z.array(BackupSetSchema).default([]).describe('Directories of dumps that must hold a fresh, good dump.'),
  alerts: z.array(AlertSchema).default([]).describe('Where a change of state (holding → failing, failing → holding) is pushed.'),
});
export type WatchInput = z.input<typeof WatchSchema>;

/** A backup set as the watch uses it. */
export interface BackupSetConfig {
  readonly name: string;
  /** absolute (resolved against the workspace root) */
  readonly dir: string;
  readonly pattern: string;
  readonly maxAgeHours: number;
  readonly minPayloadBytes: number;
  readonly requireComplete: boolean;
  readonly timeFrom: 'mtime' | 'name';
}

/** An alert endpoint as the watch uses it: its URL, or the variable that holds it. */
export interface AlertConfig {
  readonly kind: 'kuma_push' | 'webhook';
  readonly url?: string;
  readonly urlEnv?: string;
  readonly timeoutMs: number;
  readonly retries: number;
}

/** What the watch reads from the workspace. */
export interface WatchSettings {
  readonly backupSets: readonly BackupSetConfig[];
  readonly alerts: readonly AlertConfig[];
}

/** Why the section is not usable, each with its path (beyond the shape), or nothing. */
export function watchProblems(w: z.output<typeof WatchSchema>): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const names = new Set<string>();
  w.backup_sets.forEach((b, i) => {
    if (names.has(b.name)) out.push({ path: ['watch', 'backup_sets', i, 'name'], message: `backup set ${b.name} is declared twice; give each set its own name` });
    names.add(b.name);
  });
  w.alerts.forEach((a, i) => {
    if ((a.url === undefined) === (a.url_env === undefined)) out.push({ path: ['watch', 'alerts', i], message: `watch.alerts[${i}]: give url or url_env, exactly one` });
    if (a.url !== undefined) {
      const u = new URL(a.url);
      if (u.username !== '' || u.password !== '') {
        out.push({ path: ['watch', 'alerts', i, 'url'], message: `watch.alerts[${i}].url holds credentials; secrets never go in dotctl.yaml: name the variable that holds the URL (url_env)` });
      }
    }
  });
  return out;
}

/** The section resolved against the workspace root. Pure. */
export function resolveWatch(w: z.output<typeof WatchSchema> | undefined, resolvePath: (p: string) => string): WatchSettings {
  return {
    backupSets: (w?.backup_sets ?? []).map((b) => ({
      name: b.name,
      dir: resolvePath(b.dir),
      pattern: b.pattern,
      maxAgeHours: b.max_age_hours,
      minPayloadBytes: b.min_payload_bytes,
      requireComplete: b.require_complete,
      timeFrom: b.time_from,
    })),
    alerts: (w?.alerts ?? []).map((a) => ({
      kind: a.kind,
      ...(a.url !== undefined ? { url: a.url } : {}),
      ...(a.url_env !== undefined ? { urlEnv: a.url_env } : {}),
      timeoutMs: a.timeout_ms,
      retries: a.retries,
    })),
  };
}
