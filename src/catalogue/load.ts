/**
 * Reads the DOT directory from disk and hands the texts to the pure validator.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, SpecError } from '../model/errors.js';
import { shippedDotsDir } from '../model/package-paths.js';
import type { Catalogue, CatalogueSource, SourceFile, ValidationResult } from './validate.js';
import { readCachedCatalogue, writeCachedCatalogue } from './cache.js';

/** Largest spec or side file read (guards against a runaway file). */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads every `*.yaml` DOT, `laws.yaml` and side files (diffs) of a directory. The reads are
 * synchronous: a catalogue is a handful of small files, and a promise, a file handle and a
 * thread-pool round trip per file cost more than the reads (most of a cached `list` on a busy
 * machine).
 */
export async function readCatalogueSource(dir: string): Promise<CatalogueSource> {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new InputError(
      `cannot read the DOT directory ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); point --dots or DOTCTL_DOTS at the catalogue (dotctl ships one in ${shippedDotsDir()})`,
      { cause: err },
    );
  }
  const shown = (name: string): string => join(dir, name);
  const dots: SourceFile[] = [];
  let laws: SourceFile | null = null;
  const sideFiles = new Map<string, string>();
  for (const name of names) {
    const path = join(dir, name);
    let buf: Buffer | null;
    try {
      buf = readFileSync(path);
    } catch {
      buf = null;
    }
    if (!buf) continue; // a directory or unreadable entry is not part of the catalogue
    if (buf.length > MAX_FILE_BYTES) {
      throw new InputError(`${shown(name)} is larger than 1 MiB; a DOT catalogue file should be small`);
    }
    const text = buf.toString('utf8');
    if (name === 'laws.yaml') laws = { file: shown(name), text };
    else if (name.endsWith('.yaml') || name.endsWith('.yml')) dots.push({ file: shown(name), text });
    else sideFiles.set(name, text);
  }
  return { dots, laws, sideFiles, dir: dir.endsWith('/') ? dir : `${dir}/` };
}

/** Validates a source (the validator, with yaml, zod and the SQL parser, is loaded only here). */
async function validate(source: CatalogueSource): Promise<ValidationResult> {
  const { validateCatalogue } = await import('./validate.js');
  return validateCatalogue(source);
}

/**
 * Validates a source through the cache in `cacheDir` (when given): a source this build already
 * validated is answered from its entry; a valid one validated here is stored for the next command.
 */
export async function validateSource(source: CatalogueSource, cacheDir?: string): Promise<ValidationResult> {
  const cached = cacheDir === undefined ? null : readCachedCatalogue(cacheDir, source);
  if (cached) return { kind: 'valid', catalogue: cached };
  const result = await validate(source);
  if (result.kind === 'valid' && cacheDir !== undefined) writeCachedCatalogue(cacheDir, source, result.catalogue);
  return result;
}

/** Reads and validates the catalogue. */
export async function checkCatalogue(dir: string): Promise<ValidationResult> {
  return validate(await readCatalogueSource(dir));
}

/**
 * Reads and validates the catalogue, throwing a SpecError with every problem. With `cacheDir`,
 * a catalogue whose texts this build already validated is taken from the cache (see cache.ts).
 */
export async function loadCatalogue(dir: string, cacheDir?: string): Promise<Catalogue> {
  const result = await validateSource(await readCatalogueSource(dir), cacheDir);
  if (result.kind === 'invalid') throw new SpecError(result.problems);
  return result.catalogue;
}
