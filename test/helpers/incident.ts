/**
 * A scratch incident for tests: a database holding the seed's `sandbox_tac` schema (owned by a
 * workflow-admin-like role, 243 rows, serial/identity columns), a dump role without USAGE, a
 * temp directory with the pre-hardening backup script and a backup directory, and identities
 * (operator, two reviewers, auditor) with fresh keys, and a SQLite ledger initialised with them
 * as its genesis identity registry (`dotctl ledger init`). `cleanup()` drops all of it.
 */
import { mkdtemp, rm, copyFile, mkdir, writeFile, chmod } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { adminClient, createScratchDb, createScratchRole, dropScratchRoles, type ScratchDb } from './pg.js';
import { buildIncident } from '../../src/cli/demo/incident.js';
import { generateKeyFile } from '../../src/gate/keys.js';
import { ensureGenesis, registerFixture } from './genesis.js';

export interface Person {
  readonly name: string;
  readonly key: string; // private key file
}

export interface Incident {
  readonly db: ScratchDb;
  readonly ownerRole: string;
  readonly dumpRole: string;
  readonly dir: string;
  readonly scriptPath: string;
  readonly backupDir: string;
  readonly archiveDir: string;
  readonly identities: string;
  readonly ledger: string;
  readonly operator: Person;
  readonly operator2: Person;
  readonly reviewer1: Person;
  readonly reviewer2: Person;
  readonly auditor: Person;
  /** `-p name=value` pairs that point every seed DOT at this incident */
  readonly params: Readonly<Record<string, string>>;
  /** global CLI flags for this incident (dots, ledger, identities, target) */
  readonly flags: readonly string[];
  readonly extraRoles: string[];
  cleanup(): Promise<void>;
}

/** Builds a fresh incident. */
export async function createIncident(label = 'inc'): Promise<Incident> {
  const ownerRole = await createScratchRole(`${label}_owner`);
  const dumpRole = await createScratchRole(`${label}_dump`, { login: true });
  const db = await createScratchDb(label);
  const c = await adminClient(db.name);
  try {
    await buildIncident(c, { database: db.name, schema: 'sandbox_tac', ownerRole, dumpRole });
  } finally {
    await c.end();
  }
  const dir = await mkdtemp(join(tmpdir(), `dotctl-${label}-`));
  const scriptDir = join(dir, 'scripts');
  const backupDir = join(dir, 'backups');
  const archiveDir = join(dir, 'archive');
  await mkdir(scriptDir);
  await mkdir(backupDir);
  await mkdir(archiveDir, { mode: 0o700 });
  const scriptPath = join(scriptDir, 'pg-backup.sh');
  await copyFile(resolve('examples/pg-backup.sh'), scriptPath);
  await chmod(scriptPath, 0o755);
  const keys = join(dir, 'keys');
  const people = {
    operator: { name: 'olga', roles: ['operator'] },
    operator2: { name: 'omar', roles: ['operator'] },
    reviewer1: { name: 'rita', roles: ['reviewer'] },
    reviewer2: { name: 'raj', roles: ['reviewer'] },
    auditor: { name: 'ada', roles: ['auditor'] },
  } as const;
  const made: Record<string, Person> = {};
  let yaml = 'identities:\n';
  for (const [k, p] of Object.entries(people)) {
    const g = await generateKeyFile(p.name, keys);
    made[k] = { name: p.name, key: g.file };
    yaml += `  - name: ${p.name}\n    roles: [${p.roles.join(', ')}]\n    public_key: ${g.publicKey}\n`;
  }
  const identities = join(dir, 'identities.yaml');
  await writeFile(identities, yaml);
  const ledger = join(dir, 'ledger.db');
  // the ledger starts as dotctl ledger init makes it: the identities as its genesis registry, signed by all
  registerFixture(
    identities,
    Object.values(made).map((p) => p.key),
  );
  ensureGenesis(ledger, identities, dir);
  const extraRoles: string[] = [];
  const params = {
    expected_host: hostname(),
    database: db.name,
    dump_role: dumpRole,
    owner_role: ownerRole,
    schema: 'sandbox_tac',
    backup_dir: backupDir,
    script_path: scriptPath,
    archive_dir: archiveDir,
  };
  return {
    db,
    ownerRole,
    dumpRole,
    dir,
    scriptPath,
    backupDir,
    archiveDir,
    identities,
    ledger,
    operator: made.operator!,
    operator2: made.operator2!,
    reviewer1: made.reviewer1!,
    reviewer2: made.reviewer2!,
    auditor: made.auditor!,
    params,
    flags: ['--dots', resolve('dots'), '--ledger', ledger, '--identities', identities, '--target', db.url],
    extraRoles,
    async cleanup() {
      await db.drop();
      await dropScratchRoles([ownerRole, dumpRole, ...extraRoles]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `-p` flags for the params a set of DOTs declares (others would be refused). */
export function paramFlags(inc: Incident, names: readonly string[], overrides: Readonly<Record<string, string>> = {}): string[] {
  const all = { ...inc.params, ...overrides };
  return names.flatMap((n) => {
    const v = (all as Record<string, string>)[n];
    return v === undefined ? [] : ['-p', `${n}=${v}`];
  });
}

/** `-p` flags of this incident for exactly the params the named DOTs declare. */
export async function paramsFor(inc: Incident, refs: readonly string[], overrides: Readonly<Record<string, string>> = {}): Promise<string[]> {
  const { loadCatalogue } = await import('../../src/catalogue/load.js');
  const { findDot } = await import('../../src/catalogue/bundle.js');
  const cat = await loadCatalogue('dots');
  const names = new Set(
    refs.flatMap((r) =>
      Object.entries(findDot(cat, r).spec.params)
        .filter(([, p]) => p.type !== 'secret')
        .map(([n]) => n),
    ),
  );
  return paramFlags(inc, [...names].sort(), overrides);
}
