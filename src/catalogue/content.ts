/**
 * The content of a DOT: the exact texts that decide what it runs — its YAML, every side file it
 * references (patch diffs) and the law registry (policy that sets its gate) — and one SHA-256
 * over them. Reviewers admit a DOT by this hash; a proposal freezes these texts so apply and
 * rollback run them, never the files as they are later. Pure.
 */
import { canonicalJson, sha256Hex } from '../model/canonical.js';
import type { FrozenContent } from '../model/records.js';
import type { Dot } from './schema.js';
import { SECTIONS } from './sections.js';
import type { CatalogueSource } from './validate.js';

/** Format tag inside the hashed encoding; bump when its shape changes. */
export const DOT_CONTENT_FORMAT = 'dotctl-dot-content/1';

/** Name of the law registry inside a content set. */
export const LAWS_FILE = 'laws.yaml';

/** A DOT's content set (file base name → text), each file's SHA-256 and the content hash. */
export interface DotContent {
  readonly files: Readonly<Record<string, string>>;
  readonly fileHashes: Readonly<Record<string, string>>;
  readonly hash: string;
}

export type { FrozenContent };

/** Base name of a path (`dots/X.yaml` → `X.yaml`). */
export function baseName(file: string): string {
  return file.split('/').pop() ?? file;
}

/** Each file's SHA-256 (hex). */
export function fileHashes(files: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([name, text]) => [name, sha256Hex(text)]));
}

/**
 * The content hash: SHA-256 over the canonical encoding of the per-file hashes, so an admission
 * that records the file hashes can later name the file that changed, and they are bound by it.
 */
export function contentHashOf(hashes: Readonly<Record<string, string>>): string {
  return sha256Hex(canonicalJson({ format: DOT_CONTENT_FORMAT, files: hashes }));
}

/** Side files (by base name) a DOT's steps reference. */
export function referencedFiles(dot: Dot): string[] {
  const names = new Set<string>();
  for (const section of SECTIONS) {
    for (const step of dot[section]) if (step.kind === 'patch' && step.diff_file !== undefined) names.add(step.diff_file);
  }
  return [...names].sort();
}

/**
 * The content set of a parsed DOT, read from the source it was validated from: `yamlText` is its
 * own file's text. A referenced side file that is missing is simply absent (validation reports it).
 */
export function dotContent(source: CatalogueSource, dot: Dot, yamlText: string): DotContent {
  const files: Record<string, string> = { [`${dot.id}.yaml`]: yamlText };
  for (const name of referencedFiles(dot)) {
    const text = source.sideFiles.get(name);
    if (text !== undefined) files[name] = text;
  }
  if (source.laws) files[LAWS_FILE] = source.laws.text;
  const hashes = fileHashes(files);
  return { files, fileHashes: hashes, hash: contentHashOf(hashes) };
}

/** Freezes the content of a bundle: every file of every DOT, and each DOT's hash. */
export function freezeContent(dots: readonly { readonly spec: Dot; readonly content: DotContent }[]): FrozenContent {
  const files: Record<string, string> = {};
  const hashes: Record<string, string> = {};
  for (const d of dots) {
    Object.assign(files, d.content.files);
    hashes[d.spec.id] = d.content.hash;
  }
  return { files, hashes };
}

/**
 * A CatalogueSource made of frozen files, so `validateCatalogue` re-creates the bundle's DOTs
 * without reading the disk. `label` names the files in messages (e.g. `proposal P-…/`). The
 * source is partial: companions outside the bundle are the gate's business, not validation's.
 */
export function frozenSource(frozen: FrozenContent, label: string): CatalogueSource {
  const dir = label.endsWith('/') ? label : `${label}/`;
  const dots: { file: string; text: string }[] = [];
  const sideFiles = new Map<string, string>();
  let laws: { file: string; text: string } | null = null;
  for (const name of Object.keys(frozen.files).sort()) {
    const text = frozen.files[name] ?? '';
    if (name === LAWS_FILE) laws = { file: `${dir}${name}`, text };
    else if (name.endsWith('.yaml') || name.endsWith('.yml')) dots.push({ file: `${dir}${name}`, text });
    else sideFiles.set(name, text);
  }
  return { dots, laws, sideFiles, dir, partial: true };
}

/** The names whose hash differs between two file-hash maps (changed, added or removed). */
export function changedFiles(before: Readonly<Record<string, string>>, now: Readonly<Record<string, string>>): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...names].filter((n) => before[n] !== now[n]).sort();
}
