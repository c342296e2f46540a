/**
 * Archives and restores: `pg_dump --format=custom` of a schema straight to a file (memory stays
 * flat whatever the size), its sha256, and a verification that the archive really holds the
 * schema — the seed's lesson is that a "valid" empty dump is a failed dump.
 */
import { chmod, mkdir, stat, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { baseEnv, runCommand } from './command.js';
import { fileSha256 } from './checks.js';
import { libpqEnv, type TargetAddress } from './target.js';

/** Timeout of pg_dump / pg_restore. */
export const ARCHIVE_TIMEOUT_MS = 6 * 3_600_000;

/** libpq env for the engine's own tools (the target's password, if its URL has one). */
export function toolEnv(t: TargetAddress): Record<string, string> {
  const env: Record<string, string> = { ...baseEnv(), ...libpqEnv(t) };
  if (t.url) {
    try {
      const pw = decodeURIComponent(new URL(t.url).password);
      if (pw) env.PGPASSWORD = pw;
    } catch {
      // resolveTarget already validated the URL
    }
  }
  return env;
}

/** What an archive holds. */
export interface ArchiveInfo {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly entries: number;
  readonly tableData: number;
}

/** Outcome of archiving. */
export type ArchiveOutcome = { readonly kind: 'ok'; readonly info: ArchiveInfo } | { readonly kind: 'failed'; readonly message: string };

/** Lists an archive's table of contents with pg_restore --list. */
export async function inspectArchive(path: string): Promise<{ ok: true; entries: number; tableData: number } | { ok: false; message: string }> {
  const r = await runCommand(['pg_restore', '--list', path], baseEnv(), 600_000);
  if (r.spawnError) return { ok: false, message: `cannot run pg_restore: ${r.spawnError}` };
  if (r.exitCode !== 0) return { ok: false, message: `pg_restore --list failed: ${r.stderr.trim().split('\n')[0] ?? ''}` };
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
  return { ok: true, entries: lines.length, tableData: lines.filter((l) => / TABLE DATA /.test(l)).length };
}

/**
 * Dumps `schema` to `to` (via a temp file renamed on success), then verifies it: entries > 0,
 * payload > 0 bytes, and at least `expectTables` TABLE DATA entries.
 */
export async function archiveSchema(target: TargetAddress, schema: string, to: string, expectTables: number, onProgress?: (bytes: number) => void): Promise<ArchiveOutcome> {
  await mkdir(dirname(to), { recursive: true });
  const tmp = `${to}.partial`;
  await unlink(tmp).catch(() => undefined); // left by an archive whose process died
  let timer: NodeJS.Timeout | undefined;
  if (onProgress) {
    timer = setInterval(() => {
      void stat(tmp)
        .then((s) => onProgress(s.size))
        .catch(() => undefined);
    }, 1000);
  }
  // -n takes a pattern; quoting the name makes it match exactly that schema
  const pattern = `"${schema.replace(/"/g, '""')}"`;
  const r = await runCommand(['pg_dump', '--format=custom', '--no-password', '-n', pattern, '-f', tmp], toolEnv(target), ARCHIVE_TIMEOUT_MS).finally(() => timer && clearInterval(timer));
  if (r.spawnError || r.exitCode !== 0) {
    await unlink(tmp).catch(() => undefined);
    return { kind: 'failed', message: r.spawnError ? `cannot run pg_dump: ${r.spawnError}` : `pg_dump failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n')[0] ?? ''}` };
  }
  const st = await stat(tmp);
  // the checksum is read while pg_restore lists the archive (two reads of one file, side by side)
  const [toc, sha256] = await Promise.all([inspectArchive(tmp), fileSha256(tmp)]);
  if (!toc.ok) {
    await unlink(tmp).catch(() => undefined);
    return { kind: 'failed', message: toc.message };
  }
  if (st.size === 0 || toc.entries === 0 || toc.tableData < expectTables) {
    await unlink(tmp).catch(() => undefined);
    return { kind: 'failed', message: `the archive of ${schema} is empty or incomplete (${st.size} bytes, ${toc.entries} entries, ${toc.tableData} of ${expectTables} tables' data)` };
  }
  await chmod(tmp, 0o600); // the archive holds table data
  await rename(tmp, to);
  return { kind: 'ok', info: { path: to, bytes: st.size, sha256, entries: toc.entries, tableData: toc.tableData } };
}

/** Restores an archive into the target database. */
export async function restoreArchive(target: TargetAddress, from: string): Promise<{ kind: 'ok'; entries: number } | { kind: 'failed'; message: string }> {
  const toc = await inspectArchive(from);
  if (!toc.ok) return { kind: 'failed', message: `cannot restore from ${from}: ${toc.message}` };
  const r = await runCommand(['pg_restore', '--no-password', '--exit-on-error', '--single-transaction', '-d', target.database, from], toolEnv(target), ARCHIVE_TIMEOUT_MS);
  if (r.spawnError || r.exitCode !== 0) {
    return { kind: 'failed', message: r.spawnError ? `cannot run pg_restore: ${r.spawnError}` : `pg_restore failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n')[0] ?? ''}` };
  }
  return { kind: 'ok', entries: toc.entries };
}

/**
 * Deletes an archive this run wrote when the change it guarded never committed (the data is
 * still in the database): only the exact file recorded (same sha256), so nothing else is lost.
 */
export async function discardArchive(path: string, sha256: string): Promise<{ kind: 'discarded' | 'absent' } | { kind: 'failed'; message: string }> {
  const now = await fileSha256(path).catch(() => null);
  if (now === null) return { kind: 'absent' };
  if (now !== sha256) return { kind: 'failed', message: `${path} is not the archive this apply wrote (sha256 ${now.slice(0, 12)}…, wrote ${sha256.slice(0, 12)}…); left as it is` };
  await unlink(path);
  return { kind: 'discarded' };
}
