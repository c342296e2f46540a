/**
 * A cache of validated catalogues, so a command does not parse and validate every DOT again
 * when no file changed. An entry is keyed by SHA-256 over the build of dotctl that validated it
 * and every input text (each DOT, the law registry, each side file, by name); it holds the
 * validated catalogue as JSON and an HMAC-SHA256 over key and payload under a random secret
 * kept 0600 beside it. Anything in doubt is a miss, never an error and never a stale answer: a
 * missing or unreadable entry, a wrong MAC (a tampered entry), a secret or directory that is not
 * private to this user, a dotctl run from source (no build id), any parse failure. Only valid
 * catalogues are cached, and only when the JSON round trip gives back an identical value.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Catalogue, CatalogueSource, ValidDot } from './validate.js';
import type { Law } from './schema.js';
import type { SqlAnalysis } from './sql-analysis.js';
import { knownAnalyses, primeAnalyses } from './sql-memo.js';

/** Format of an entry; bump when its shape changes. */
const FORMAT = 'dotctl-catalogue-cache/1';

let buildIdMemo: string | null | undefined;

/** The build's identity (written by the build beside dist/), or null when run from source. */
function buildId(): string | null {
  if (buildIdMemo !== undefined) return buildIdMemo;
  try {
    buildIdMemo = readFileSync(new URL('../build-id', import.meta.url), 'utf8').trim() || null;
  } catch {
    buildIdMemo = null;
  }
  return buildIdMemo;
}

/** The cache key of a source: the build and every input text, by name. */
export function cacheKey(source: CatalogueSource, build: string): string {
  const h = createHash('sha256');
  const part = (tag: string, name: string, text: string): void => {
    h.update(`${tag}\0${name.length}:${name}\0${Buffer.byteLength(text)}:`);
    h.update(text);
  };
  part('format', FORMAT, build);
  part('dir', source.dir, source.partial === true ? 'partial' : 'whole');
  for (const f of source.dots) part('dot', f.file, f.text);
  if (source.laws) part('laws', source.laws.file, source.laws.text);
  for (const name of [...source.sideFiles.keys()].sort()) part('side', name, source.sideFiles.get(name) ?? '');
  return h.digest('hex');
}

/** Whether a path is ours alone: owned by this user, no access for group or others, not a link. */
function privateToUs(path: string, kind: 'file' | 'dir'): boolean {
  const st = lstatSync(path);
  if (kind === 'file' ? !st.isFile() : !st.isDirectory()) return false;
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return false;
  return (st.mode & 0o077) === 0;
}

/** The secret of a cache directory, created on first use; null when not private or not creatable. */
function secretOf(dir: string, create: boolean): Buffer | null {
  const file = join(dir, 'secret');
  try {
    if (!privateToUs(dir, 'dir')) return null;
  } catch {
    if (!create) return null;
    try {
      mkdirSync(dir, { mode: 0o700 }); // never its parents: a pure command run elsewhere leaves no workspace behind
      chmodSync(dir, 0o700);
    } catch {
      return null;
    }
  }
  try {
    if (!privateToUs(file, 'file')) return null;
    const s = readFileSync(file);
    return s.length === 32 ? s : null;
  } catch {
    if (!create) return null;
    try {
      const fd = openSync(file, 'wx', 0o600); // never overwrite: a concurrent writer's secret wins
      try {
        writeSync(fd, randomBytes(32));
      } finally {
        closeSync(fd);
      }
    } catch {
      // another process created it first, or the directory is not writable
    }
    try {
      if (!privateToUs(file, 'file')) return null;
      const s = readFileSync(file);
      return s.length === 32 ? s : null;
    } catch {
      return null;
    }
  }
}

function mac(secret: Buffer, key: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(`${FORMAT}\0${key}\0`).update(payload).digest();
}

interface Payload {
  readonly dots: [string, ValidDot][];
  readonly laws: [string, Law][];
  /** the analyses of the SQL texts validation parsed, so reading the catalogue needs no parser */
  readonly sql: [string, SqlAnalysis][];
}

function toCatalogue(p: Payload): Catalogue {
  return { dots: new Map(p.dots), laws: new Map(p.laws) };
}

/** The cached catalogue of `source` in `dir`, or null (a miss) on any doubt. */
export function readCachedCatalogue(dir: string, source: CatalogueSource): Catalogue | null {
  const build = buildId();
  if (build === null) return null;
  try {
    const secret = secretOf(dir, false);
    if (!secret) return null;
    const key = cacheKey(source, build);
    const file = join(dir, `catalogue-${key}.json`);
    if (!privateToUs(file, 'file')) return null;
    const text = readFileSync(file, 'utf8');
    const nl = text.indexOf('\n');
    if (nl < 0) return null;
    const stored = Buffer.from(text.slice(0, nl), 'hex');
    const payload = text.slice(nl + 1);
    const expected = mac(secret, key, payload);
    if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) return null;
    const parsed = JSON.parse(payload) as Payload;
    primeAnalyses(parsed.sql);
    return toCatalogue(parsed);
  } catch {
    return null;
  }
}

/** Stores a validated catalogue for `source` (best effort: a cache that cannot be written is skipped). */
export function writeCachedCatalogue(dir: string, source: CatalogueSource, catalogue: Catalogue): void {
  const build = buildId();
  if (build === null) return;
  try {
    const sql = knownAnalyses();
    const payload = JSON.stringify({ dots: [...catalogue.dots.entries()], laws: [...catalogue.laws.entries()], sql } satisfies Payload);
    // Only a catalogue that comes back identical from JSON is cached (no undefined members, no non-finite numbers).
    const back = JSON.parse(payload) as Payload;
    if (!isDeepStrictEqual(toCatalogue(back), catalogue) || !isDeepStrictEqual(back.sql, sql)) return;
    const secret = secretOf(dir, true);
    if (!secret) return;
    const key = cacheKey(source, build);
    const file = join(dir, `catalogue-${key}.json`);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, `${mac(secret, key, payload).toString('hex')}\n${payload}`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch {
    // a cache is an optimisation: failing to write it changes nothing
  }
}
