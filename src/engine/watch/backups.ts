/**
 * Backup sets: a directory of dumps must hold a good newest dump (the audit's rules: an intact
 * gzip stream, a payload of at least the minimum, pg_dump's "dump complete" line) that is not
 * older than the set allows. Only the newest dumps are read — back to the first good one — and
 * a verdict is remembered while the file's size and modification time stay the same, so a
 * long-running watch does not decompress last week's dumps every cycle.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupSetConfig } from '../../catalogue/watch-config.js';
import { formatBytes, judgeBackup, readGzipFacts, timeFromName, type BackupVerdict } from '../../exec/backup-audit.js';
import type { WatchCheck } from './types.js';

/** `directus_*.sql.gz` as a regular expression over whole names. */
export function globRegex(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Verdicts by file identity (set, path, size, mtime); cleared when it grows past its bound. */
export class VerdictCache {
  private readonly map = new Map<string, BackupVerdict>();
  constructor(private readonly bound = 512) {}
  get(key: string): BackupVerdict | undefined {
    return this.map.get(key);
  }
  set(key: string, v: BackupVerdict): void {
    if (this.map.size >= this.bound) this.map.clear();
    this.map.set(key, v);
  }
}

const hours = (fromIso: string, now: Date): number => Math.round(((now.getTime() - Date.parse(fromIso)) / 3_600_000) * 10) / 10;

/** Judges one backup set as of `now`; never throws (a directory that vanished fails, in one sentence). */
export async function judgeBackupSet(set: BackupSetConfig, now: Date, cache: VerdictCache): Promise<WatchCheck> {
  const check = (status: 'holding' | 'failing', observed: string): WatchCheck => ({
    id: `backup:${set.name}`,
    kind: 'backup_set',
    name: `backup set ${set.name} (${join(set.dir, set.pattern)})`,
    status,
    observed,
    expected: `a good newest dump (payload ≥ ${set.minPayloadBytes} B${set.requireComplete ? ', "dump complete"' : ''}), at most ${set.maxAgeHours} h old`,
    proposalId: null,
    dotId: null,
    actionCode: null,
    proposalHash: null,
  });
  try {
    let names: string[];
    try {
      names = await readdir(set.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return check('failing', `cannot read the backup directory ${set.dir} (${code}): it is gone or not readable, so no backup can be proven`);
    }
    const re = globRegex(set.pattern);
    const files: { name: string; path: string; size: number; mtime: Date; at: string }[] = [];
    for (const name of names.filter((n) => re.test(n))) {
      const path = join(set.dir, name);
      const st = await stat(path).catch(() => null);
      if (!st?.isFile()) continue;
      const at = (set.timeFrom === 'name' ? timeFromName(name) : null) ?? st.mtime.toISOString();
      files.push({ name, path, size: st.size, mtime: st.mtime, at });
    }
    if (files.length === 0) return check('failing', `no dump matching ${set.pattern} in ${set.dir}`);
    files.sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || (a.name < b.name ? 1 : -1));
    let newest: BackupVerdict | null = null;
    let good: BackupVerdict | null = null;
    for (const f of files) {
      const key = `${set.name}\0${f.path}\0${f.size}\0${f.mtime.getTime()}`;
      let v = cache.get(key);
      if (!v) {
        const gzip = await readGzipFacts(f.path);
        v = judgeBackup({ name: f.name, path: f.path, bytes: f.size, mtime: f.mtime.toISOString(), gzip }, set.timeFrom, {
          minPayloadBytes: set.minPayloadBytes,
          requireComplete: set.requireComplete,
        });
        cache.set(key, v);
      }
      newest ??= v;
      if (v.verdict === 'good') {
        good = v;
        break;
      }
    }
    const n = newest!;
    const lastGood = good ? `last good: ${good.name}, ${hours(good.at, now)} h ago` : 'no good dump at all';
    if (n.verdict === 'broken') return check('failing', `newest dump ${n.name} (${formatBytes(n.bytes)}, ${n.at}) is broken: ${n.reasons.join('; ')}; ${lastGood}`);
    const age = hours(n.at, now);
    if (age > set.maxAgeHours) return check('failing', `newest dump ${n.name} is good but ${age} h old, more than the ${set.maxAgeHours} h allowed: the backup stopped running`);
    return check('holding', `newest dump ${n.name} is good (payload ${formatBytes(n.payloadBytes)}), ${age} h old`);
  } catch (err) {
    return check('failing', `the backup set could not be judged: ${(err as Error).message}`);
  }
}
