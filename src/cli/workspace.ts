/**
 * Finding and reading the workspace (`dotctl.yaml`) from the current directory upwards, as git
 * finds `.git`. The CLI is the only place that reads it; the engine is handed what it says.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError, SpecError } from '../model/errors.js';
import { parseWorkspace, resolveWorkspace, WORKSPACE_FILE, type ResolvedWorkspace } from '../engine.js';

/** Largest dotctl.yaml read. */
const MAX_WORKSPACE_BYTES = 256 * 1024;

/** The directory holding the first `dotctl.yaml` at or above `start`, or null. */
export function findWorkspaceRoot(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    const file = join(dir, WORKSPACE_FILE);
    if (existsSync(file) && statSync(file).isFile()) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The workspace around `cwd` with environment `envName` (else its default_env), or null when
 * there is none. A malformed file is a SpecError naming its lines; an unknown environment, or
 * `--env` outside any workspace, an InputError.
 */
export async function loadWorkspace(cwd: string, envName: string | undefined, env: NodeJS.ProcessEnv): Promise<ResolvedWorkspace | null> {
  const root = findWorkspaceRoot(cwd);
  if (root === null) {
    if (envName !== undefined) {
      throw new InputError(`--env ${envName} needs a workspace, but there is no ${WORKSPACE_FILE} in ${resolve(cwd)} or any directory above it; run dotctl init, or drop --env (and DOTCTL_ENV)`);
    }
    return null;
  }
  const file = join(root, WORKSPACE_FILE);
  if (statSync(file).size > MAX_WORKSPACE_BYTES) throw new InputError(`${file} is larger than 256 KiB; a workspace file names a few paths and environments, keep it small`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix its permissions`, { cause: err });
  }
  const parsed = await parseWorkspace(file, text);
  if (parsed.kind === 'invalid') throw new SpecError(parsed.problems);
  const r = await resolveWorkspace(parsed.config, root, file, envName, env);
  if (r.kind === 'error') throw new InputError(r.message);
  return r.workspace;
}
