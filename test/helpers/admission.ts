/**
 * Admission for the suites that propose: reviewers admit every DOT of a catalogue through the
 * real binary (`dotctl admit --all`), as they would before anything of it can be proposed.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli.js';
import { ensureGenesisFor } from './genesis.js';

/** Someone with a key file. */
export interface KeyHolder {
  readonly name: string;
  readonly key: string;
}

/**
 * Admits the current content of every DOT of the catalogue `flags` name (`--dots`, `--ledger`,
 * `--identities`) by each reviewer in turn — two of them for a DOT never admitted. Throws with
 * the CLI's words when an admission is refused.
 */
export function admitAll(flags: readonly string[], reviewers: readonly KeyHolder[], cwd?: string): void {
  // a ledger a suite swapped in (PostgreSQL) gets the fixture's genesis registry first
  ensureGenesisFor(flags, cwd);
  for (const r of reviewers) {
    const res = runCli([...flags, '--key', r.key, 'admit', '--all', '--comment', 'test fixture'], { cwd });
    if (res.code !== 0) throw new Error(`admit --all by ${r.name} failed (exit ${res.code}): ${res.stderr}`);
  }
}

const admitted = new Set<string>();

/**
 * `admitAll`, skipped when this catalogue directory's files, the ledger and the identities are
 * unchanged since the last call (the harness calls it before every propose).
 */
export function ensureAdmitted(flags: readonly string[], reviewers: readonly KeyHolder[], cwd?: string): void {
  const dots = flags[flags.indexOf('--dots') + 1] ?? 'dots';
  const h = createHash('sha256').update(flags.join('\0'));
  for (const name of readdirSync(dots).sort()) {
    const path = join(dots, name);
    if (statSync(path).isFile()) h.update(name).update('\0').update(readFileSync(path));
  }
  const key = h.digest('hex');
  if (admitted.has(key)) return;
  admitAll(flags, reviewers, cwd);
  admitted.add(key);
}
