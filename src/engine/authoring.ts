/**
 * Authoring: `dotctl new` writes a commented skeleton DOT, `dotctl patch make` writes the
 * unified diff of an edited file beside the DOTs and prints the steps to paste.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, basename, resolve } from 'node:path';
import { InputError } from '../model/errors.js';
import { dotSkeleton, patchStepsYaml, makeUnifiedDiff } from '../catalogue/skeleton.js';
import { DOT_ID } from '../catalogue/schema.js';
import { readCatalogueSource } from '../catalogue/load.js';
import { createHash } from 'node:crypto';

/** Writes `<dir>/<id>.yaml` from the skeleton; refuses to overwrite unless `force`. */
export async function writeDotSkeleton(dir: string, id: string, opts: { force?: boolean } = {}): Promise<{ file: string }> {
  if (!DOT_ID.test(id)) throw new InputError(`${JSON.stringify(id)} is not a DOT id; write it like DOT-PG-GRANT-SCHEMA (DOT- then upper-case words joined by -)`);
  const source = await readCatalogueSource(dir);
  const laws = source.laws ? [...source.laws.text.matchAll(/^\s*-\s*id:\s*["']?([^"'\s#]+)/gm)].map((m) => m[1] ?? '') : [];
  const file = join(dir, `${id}.yaml`);
  await writeFile(file, dotSkeleton(id, laws), { flag: opts.force ? 'w' : 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new InputError(`${file} already exists; edit it, or pass --force to overwrite it`);
    throw new InputError(`cannot write ${file} (${err.code ?? err.message}); check --dots`);
  });
  return { file };
}

/** What `patch make` wrote and what to paste. */
export interface PatchMade {
  readonly diffPath: string;
  readonly hunks: number;
  readonly yaml: string;
}

/** Writes the diff from `original` to `edited` into the catalogue and returns the steps to paste. */
export async function makePatchStep(dir: string, original: string, edited: string, opts: { name?: string | undefined; file?: string | undefined } = {}): Promise<PatchMade> {
  const read = (p: string): Promise<string> =>
    readFile(p, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new InputError(`cannot read ${p} (${err.code ?? err.message}); name the original file and your edited copy`);
    });
  const before = await read(original);
  const after = await read(edited);
  if (before === after) throw new InputError(`${original} and ${edited} are the same; edit the copy first`);
  const stem = (opts.name ?? basename(edited)).replace(/\.diff$/, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(stem)) throw new InputError(`--name ${JSON.stringify(stem)} must be a plain file name (letters, digits, . _ -)`);
  const target = opts.file ?? resolve(original);
  const { text, hunks } = makeUnifiedDiff(target, before, after);
  const diffName = `${stem}.diff`;
  const diffPath = join(dir, diffName);
  await writeFile(diffPath, text);
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  return { diffPath, hunks, yaml: patchStepsYaml({ file: target, diffFile: diffName, shaBefore: sha(before), shaAfter: sha(after) }) };
}
