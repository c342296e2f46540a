/**
 * The backup audit check — the seed's lesson (§2.1, §3.4): a backup whose gzip is valid but
 * whose payload is empty is a failed backup. `gzip -t` passes a 20-byte gzip header around
 * nothing, so the audit decompresses every dump and judges what is inside.
 *
 * Judging (`judgeBackup`, `judgeBackups`) is pure: it takes the facts read from the disk and
 * `now`. Reading (`readBackupFacts`) streams each file through gunzip with bounded memory (a
 * 64 KiB chunk and the last bytes of the payload are all it keeps) and a bound on how much it
 * decompresses. `auditBackupDir` composes the two.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { InputError } from '../model/errors.js';

/** Dumps the audit looks at: plain-format pg_dump output compressed with gzip. */
export const BACKUP_SUFFIX = '.sql.gz';

/**
 * What pg_dump (and pg_dumpall) write at the end of a complete plain-format dump; only a
 * comment frame (and, since the 2025 minor releases, an `\unrestrict` line) follows it.
 */
const DUMP_COMPLETE = /^-- PostgreSQL database (cluster )?dump complete$/m;

/** Bytes of the end of the payload kept to look for the "dump complete" line. */
const TAIL_BYTES = 256;

/** Default bound on decompressed bytes per file; beyond it a file cannot be proven good. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024 ** 3;

/** What reading the gzip stream of one file found. */
export type GzipFacts =
  | { readonly kind: 'valid'; readonly payloadBytes: number; readonly tail: string }
  | { readonly kind: 'invalid'; readonly payloadBytes: number; readonly message: string }
  | { readonly kind: 'over_limit'; readonly payloadBytes: number };

/** What is known of one dump file before judging it. */
export interface BackupFileFacts {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** modification time, ISO-8601 UTC */
  readonly mtime: string;
  readonly gzip: GzipFacts;
}

/** Where a file's time comes from. */
export type TimeSource = 'mtime' | 'name';

/** One judged dump. */
export interface BackupVerdict {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** the time the audit orders and measures by, ISO-8601 UTC */
  readonly at: string;
  readonly timeSource: TimeSource;
  /** whether the gzip stream is intact (what `gzip -t` answers); null when not read to the end */
  readonly gzipValid: boolean | null;
  readonly payloadBytes: number;
  readonly verdict: 'good' | 'broken';
  /** why it is broken (empty when good) */
  readonly reasons: readonly string[];
}

/** The audit of a directory of dumps. */
export interface BackupAudit {
  readonly dir: string;
  /** the audit's clock, ISO-8601 UTC */
  readonly now: string;
  /** every dump, oldest first */
  readonly files: readonly BackupVerdict[];
  /** `good` when the newest dump is good; `broken` when it is not; `none` when there is no dump */
  readonly status: 'good' | 'broken' | 'none';
  readonly lastGood: BackupVerdict | null;
  /** the first broken dump after the last good one: when the current outage began */
  readonly firstBroken: BackupVerdict | null;
  /** the newest broken dump, whenever it was */
  readonly latestBroken: BackupVerdict | null;
  readonly brokenCount: number;
  /**
   * Hours without a good backup when the newest dump is broken: from the last good dump (or, if
   * there never was one, from the first broken dump) to `now`. Null when the newest is good.
   */
  readonly windowHours: number | null;
  /** the same window measured to the latest broken dump instead of `now` (the seed's ≈37 h) */
  readonly windowToLatestBrokenHours: number | null;
  /** hours since the last good dump, whatever came after it; null when there never was one */
  readonly hoursSinceLastGood: number | null;
}

/** `directus_2026-04-27_1353.sql.gz` → 2026-04-27T13:53:00Z (read as UTC); seconds optional. */
export function timeFromName(name: string): string | null {
  const m = /_(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})?\.sql\.gz$/.exec(name);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'));
  const iso = new Date(t).toISOString();
  // Date.UTC rolls 2026-02-30 over into March; such a name has no time
  return iso.startsWith(`${y}-${mo}-${d}T${h}:${mi}`) ? iso : null;
}

/** What a good dump must show beyond an intact gzip stream (the audit's defaults: a payload, ending with "dump complete"). */
export interface DumpRules {
  /** the decompressed payload must hold at least this many bytes (default 1) */
  readonly minPayloadBytes?: number;
  /** the payload must end with pg_dump's "dump complete" line (default true) */
  readonly requireComplete?: boolean;
}

/** Judges one dump. Pure. */
export function judgeBackup(f: BackupFileFacts, timeFrom: TimeSource = 'mtime', rules: DumpRules = {}): BackupVerdict {
  const nameTime = timeFrom === 'name' ? timeFromName(f.name) : null;
  const reasons: string[] = [];
  const g = f.gzip;
  switch (g.kind) {
    case 'invalid':
      reasons.push(`the gzip stream is not intact (${g.message})`);
      break;
    case 'over_limit':
      reasons.push(`the payload is larger than the audit's limit (${g.payloadBytes} bytes read); it was not verified`);
      break;
    case 'valid':
      if (g.payloadBytes === 0) reasons.push('the decompressed payload is 0 bytes: a gzip header around nothing, the dump failed');
      else if (g.payloadBytes < (rules.minPayloadBytes ?? 1)) reasons.push(`the decompressed payload is ${g.payloadBytes} bytes, less than the ${rules.minPayloadBytes} bytes a dump must hold`);
      else if (rules.requireComplete !== false && !DUMP_COMPLETE.test(g.tail)) reasons.push('the payload does not end with pg_dump\'s "dump complete" line: the dump was cut short');
      break;
    default: {
      const never: never = g;
      return never;
    }
  }
  return {
    name: f.name,
    path: f.path,
    bytes: f.bytes,
    at: nameTime ?? f.mtime,
    timeSource: nameTime ? 'name' : 'mtime',
    gzipValid: g.kind === 'over_limit' ? null : g.kind === 'valid',
    payloadBytes: g.payloadBytes,
    verdict: reasons.length === 0 ? 'good' : 'broken',
    reasons,
  };
}

const hoursBetween = (from: string, to: string): number => Math.round(((Date.parse(to) - Date.parse(from)) / 3_600_000) * 100) / 100;

/** Judges a directory's dumps as of `now`. Pure. */
export function judgeBackups(dir: string, facts: readonly BackupFileFacts[], now: string, timeFrom: TimeSource = 'mtime'): BackupAudit {
  const files = facts.map((f) => judgeBackup(f, timeFrom)).sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const newest = files.at(-1) ?? null;
  const lastGoodIndex = files.map((f) => f.verdict).lastIndexOf('good');
  const lastGood = lastGoodIndex >= 0 ? (files[lastGoodIndex] ?? null) : null;
  const firstBroken = files.slice(lastGoodIndex + 1).find((f) => f.verdict === 'broken') ?? null;
  const latestBroken = [...files].reverse().find((f) => f.verdict === 'broken') ?? null;
  const status = newest === null ? 'none' : newest.verdict;
  const windowStart = lastGood?.at ?? firstBroken?.at ?? null;
  return {
    dir,
    now,
    files,
    status,
    lastGood,
    firstBroken,
    latestBroken,
    brokenCount: files.filter((f) => f.verdict === 'broken').length,
    windowHours: status === 'broken' && windowStart ? hoursBetween(windowStart, now) : null,
    windowToLatestBrokenHours: status === 'broken' && windowStart && latestBroken ? hoursBetween(windowStart, latestBroken.at) : null,
    hoursSinceLastGood: lastGood ? hoursBetween(lastGood.at, now) : null,
  };
}

/** Streams one file through gunzip: payload size, the payload's last bytes, and whether the stream is intact. */
export function readGzipFacts(path: string, maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): Promise<GzipFacts> {
  return new Promise((resolve) => {
    let payloadBytes = 0;
    let tail = Buffer.alloc(0);
    let settled = false;
    const input = createReadStream(path, { highWaterMark: 64 * 1024 });
    const gunzip = createGunzip();
    const settle = (facts: GzipFacts): void => {
      if (settled) return;
      settled = true;
      input.destroy();
      gunzip.destroy();
      resolve(facts);
    };
    input.on('error', (err) => settle({ kind: 'invalid', payloadBytes, message: `cannot read: ${err.message}` }));
    gunzip.on('error', (err) => settle({ kind: 'invalid', payloadBytes, message: err.message }));
    gunzip.on('data', (chunk: Buffer) => {
      payloadBytes += chunk.length;
      tail = Buffer.concat([tail, chunk.subarray(Math.max(0, chunk.length - TAIL_BYTES))]);
      if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
      if (payloadBytes > maxPayloadBytes) settle({ kind: 'over_limit', payloadBytes });
    });
    gunzip.on('end', () => settle({ kind: 'valid', payloadBytes, tail: tail.toString('latin1') }));
    input.pipe(gunzip);
  });
}

/** Reads the facts of every `*.sql.gz` directly in `dir`. */
export async function readBackupFacts(dir: string, opts: { maxPayloadBytes?: number } = {}): Promise<BackupFileFacts[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read the backup directory ${dir} (${code ?? (err as Error).message}); pass the directory the dumps are written to`);
  }
  const out: BackupFileFacts[] = [];
  for (const name of names.filter((n) => n.endsWith(BACKUP_SUFFIX)).sort()) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) continue;
    out.push({ name, path, bytes: st.size, mtime: st.mtime.toISOString(), gzip: await readGzipFacts(path, opts.maxPayloadBytes) });
  }
  return out;
}

/** Audits the dumps in `dir` as of `now` (default: the current time). */
export async function auditBackupDir(dir: string, opts: { now?: Date; timeFrom?: TimeSource; maxPayloadBytes?: number } = {}): Promise<BackupAudit> {
  const facts = await readBackupFacts(dir, { maxPayloadBytes: opts.maxPayloadBytes });
  return judgeBackups(dir, facts, (opts.now ?? new Date()).toISOString(), opts.timeFrom);
}

/** Human-readable bytes: 20 B, 43.8 MB (decimal units, as `ls -h --si` and the seed write them). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** The audit as lines a person reads: a table of dumps, then the verdict. Pure. */
export function formatBackupAudit(a: BackupAudit): string[] {
  const rows: string[][] = [['TIME (UTC)', 'SIZE', 'GZIP -T', 'PAYLOAD', 'VERDICT', 'FILE']];
  for (const f of a.files) {
    rows.push([
      f.at.slice(0, 19).replace('T', ' '),
      formatBytes(f.bytes),
      f.gzipValid === null ? '?' : f.gzipValid ? 'valid' : 'INVALID',
      formatBytes(f.payloadBytes),
      f.verdict === 'good' ? 'good' : 'BROKEN',
      f.name,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
  for (const f of a.files) if (f.verdict === 'broken') lines.push(`  ${f.name}: ${f.reasons.join('; ')}`);
  const show = (f: BackupVerdict | null): string => (f ? `${f.at.slice(0, 19).replace('T', ' ')} UTC, ${f.name} (${f.bytes} bytes)` : '-');
  lines.push(
    '',
    `dumps: ${a.files.length}, broken: ${a.brokenCount}; newest backup: ${a.status === 'none' ? 'none found' : a.status === 'good' ? 'good' : 'BROKEN'}`,
    `last good:     ${show(a.lastGood)}`,
    `first broken:  ${show(a.firstBroken)}${a.firstBroken ? ' (start of the current outage)' : ''}`,
    `latest broken: ${show(a.latestBroken)}`,
  );
  if (a.windowHours !== null) {
    lines.push(
      `without a good backup: ${a.windowHours} h as of ${a.now.slice(0, 19).replace('T', ' ')} UTC` +
        (a.windowToLatestBrokenHours !== null ? ` (${a.windowToLatestBrokenHours} h to the latest broken dump)` : '') +
        (a.lastGood ? '' : ' — no good backup at all'),
    );
  }
  return lines;
}
