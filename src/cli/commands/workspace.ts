/**
 * `init`: makes a directory a workspace a team can commit — `dotctl.yaml` (catalogue, ledger,
 * identities, environments), the generic law library as the catalogue's `laws.yaml`, an empty
 * identities file and a `.gitignore` that keeps the ledger and private keys out of version control.
 */
import type { Command } from 'commander';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { InputError } from '../../model/errors.js';
import { GENERIC_LAWS_YAML, WORKSPACE_FILE, shippedSchemasDir } from '../../engine.js';
import { action, out, outJson } from '../context.js';

const WORKSPACE_YAML = `# The dotctl workspace: commit this directory. Commands run anywhere below it find this file
# (as git finds .git); relative paths here are relative to this file. Flags (--dots, --ledger,
# --target, --identities) and DOTCTL_* variables still win over what this file says.
# Never write a secret here: no password in a URL, no PGPASSWORD. Name the variable that holds
# such a URL (target_env), or use PGPASSWORD / ~/.pgpass in the shell that runs dotctl.
version: 1
catalogue: dots                 # DOT specs, their diff files and laws.yaml
ledger: .dotctl/ledger.db       # SQLite file, or postgres://user@host:5432/db (no password) for a team
identities: identities.yaml     # who may act: roles, public keys, control groups
proposals: proposals            # rendered proposals (Markdown + canonical JSON)
keys: .dotctl/keys              # where dotctl keygen writes private keys (ignored by git)
# default_env: staging          # used when --env (DOTCTL_ENV) is not given

# dotctl --env NAME propose … takes the target and the parameter values of environment NAME;
# a -p name=value on the command line wins over params: here.
environments:
  staging:
    description: Staging; rehearse every change here first.
    target: postgres://dotctl@staging-db.internal:5432/app
    params: {}
      # expected_host: staging-db-1
  prod:
    description: Production.
    target_env: PROD_DATABASE_URL   # the URL (with its password) comes from this variable
    params: {}
      # expected_host: prod-db-1
`;

const IDENTITIES_YAML = `# Who may act first: dotctl ledger init makes this file the ledger's genesis identity registry
# (every member signs it); after that, editing it changes nothing — dotctl identities change FILE
# proposes a change. dotctl keygen NAME --role reviewer writes NAME's private key and prints the
# entry to paste below. Roles: operator (proposes, applies), reviewer (admits DOTs, approves),
# auditor (reads the log), admin (signs registry changes; without admins, reviewers do). groups: names control groups a law may ask approvals from, e.g.
# the generic law DATA-OWNER needs one approval from a member of data-owners.
identities: []
#  - name: rita
#    roles: [reviewer]
#    groups: [data-owners]
#    public_key: ed25519:…
`;

/** `# yaml-language-server: $schema=…` for `file` when the package's schemas sit below the workspace (node_modules), else nothing. */
function schemaLine(file: string, schema: string): string {
  const rel = relative(dirname(file), join(shippedSchemasDir(), schema));
  // a path out of the workspace would name this machine's layout in a committed file
  return rel.startsWith('..') ? '' : `# yaml-language-server: $schema=${rel}\n`;
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

/** What init did with each file. */
interface Written {
  readonly file: string;
  readonly outcome: 'written' | 'kept';
}

/** Creates the workspace in `dir`; refuses a directory that already has a dotctl.yaml. */
async function initWorkspace(dir: string): Promise<Written[]> {
  const root = resolve(dir);
  const config = join(root, WORKSPACE_FILE);
  if (await exists(config)) throw new InputError(`${config} already exists; this is a workspace already — edit it, or run dotctl init in another directory`);
  await mkdir(join(root, 'dots'), { recursive: true });
  const done: Written[] = [];
  const put = async (file: string, text: string): Promise<void> => {
    if (await exists(file)) {
      done.push({ file, outcome: 'kept' });
      return;
    }
    await writeFile(file, text, { flag: 'wx' });
    done.push({ file, outcome: 'written' });
  };
  await put(config, schemaLine(config, 'workspace.schema.json') + WORKSPACE_YAML);
  const laws = join(root, 'dots', 'laws.yaml');
  await put(laws, schemaLine(laws, 'laws.schema.json') + GENERIC_LAWS_YAML);
  const ids = join(root, 'identities.yaml');
  await put(ids, schemaLine(ids, 'identities.schema.json') + IDENTITIES_YAML);
  const ignore = join(root, '.gitignore');
  const current = await readFile(ignore, 'utf8').catch(() => null);
  if (current === null) {
    await writeFile(ignore, '# the local ledger and private keys never go into version control\n.dotctl/\n');
    done.push({ file: ignore, outcome: 'written' });
  } else if (!current.split('\n').some((l) => l.trim() === '.dotctl/' || l.trim() === '.dotctl')) {
    await writeFile(ignore, `${current}${current.endsWith('\n') || current === '' ? '' : '\n'}.dotctl/\n`);
    done.push({ file: ignore, outcome: 'written' });
  } else done.push({ file: ignore, outcome: 'kept' });
  return done;
}

/** Registers `init`. */
export function registerWorkspaceCommands(program: Command): void {
  program
    .command('init [dir]')
    .description('make DIR (default: the current directory) a workspace: dotctl.yaml with environments, the generic laws, an identities file')
    .option('--json', 'machine-readable output')
    .action(
      action(async (dir: string | undefined, opts: { json?: boolean }) => {
        const files = await initWorkspace(dir ?? '.');
        if (opts.json) return outJson({ root: resolve(dir ?? '.'), files });
        for (const f of files) out(`${f.outcome === 'written' ? 'wrote' : 'kept '} ${f.file}`);
        out('next: set the targets in dotctl.yaml, add people with dotctl keygen NAME --role …, then dotctl ledger init --key A.key --key B.key … (every member signs),');
        out('      write a DOT in dots/ citing the laws in dots/laws.yaml, then dotctl validate, dotctl admit, dotctl --env staging propose …');
      }),
    );
}
