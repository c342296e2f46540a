/**
 * A scratch copy of the target for the rollback proof: a new, uniquely named database on the
 * target's own server (so the cluster-wide roles a DOT names exist there too), holding the
 * target's schema (`pg_dump --schema-only`, owners and privileges included), the rows of the
 * tables in the schemas a DOT's parameters name (`pg_dump --data-only --schema=…`), and then, if
 * given, a fixture SQL file. The real target is only read. `drop()` removes the copy.
 */
import { WITNESS_SCHEMA } from './witness.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './command.js';
import { ARCHIVE_TIMEOUT_MS, toolEnv } from './archive.js';
import { targetFingerprint, withTarget, type TargetAddress } from './target.js';
import { CheckError } from '../model/errors.js';

/** A scratch database and how to remove it. */
export interface ScratchCopy {
  readonly address: TargetAddress;
  /** the schemas whose rows were copied */
  readonly dataSchemas: readonly string[];
  drop(): Promise<void>;
}

/** What to put in the scratch copy besides the schema. */
export interface ScratchContent {
  /** schemas whose table rows are copied (those that do not exist on the target are ignored) */
  readonly dataSchemas: readonly string[];
  /** an SQL file run (psql, stop on the first error) after the copy */
  readonly fixture?: string | undefined;
}

/** The address of another database on the same server, as the same user. */
export function sameServer(t: TargetAddress, database: string): TargetAddress {
  let url = t.url;
  if (url !== undefined) {
    const u = new URL(url);
    u.pathname = `/${encodeURIComponent(database)}`;
    url = u.toString();
  }
  return { ...t, url, database };
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

async function tool(argv: string[], t: TargetAddress, what: string): Promise<void> {
  const r = await runCommand(argv, toolEnv(t), ARCHIVE_TIMEOUT_MS);
  if (r.spawnError || r.exitCode !== 0) {
    const why = r.spawnError
      ? `cannot run ${argv[0]}: ${r.spawnError}`
      : `${argv[0]} exit ${r.exitCode}: ${
          r.stderr
            .trim()
            .split('\n')
            .find((l) => /ERROR|error|FATAL/.test(l)) ??
          r.stderr.trim().split('\n')[0] ??
          ''
        }`;
    throw new CheckError(`cannot make the scratch copy (${what}): ${why}`);
  }
}

/** Drops a database, ending its sessions first. */
async function dropDatabase(admin: TargetAddress, name: string): Promise<void> {
  await withTarget(admin, {}, async (s) => {
    await s.client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await s.client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  });
}

/**
 * Creates `dotctl_test_<hex>` on the target's server from the target's schema and the rows of
 * `content.dataSchemas`, then runs the fixture. Anything that fails drops the copy again.
 */
export async function createScratchCopy(target: TargetAddress, content: ScratchContent): Promise<ScratchCopy> {
  const name = `dotctl_test_${randomBytes(6).toString('hex')}`;
  const address = sameServer(target, name);
  const dataSchemas = await withTarget(target, {}, async (s) => {
    await s.client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`).catch((err: Error) => {
      throw new CheckError(`cannot create the scratch database ${name} on ${targetFingerprint(target)} (${err.message}); dotctl test needs a role that may CREATE DATABASE on the target's server`);
    });
    const r = await s.client.query('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[]) ORDER BY 1', [[...new Set(content.dataSchemas)]]);
    return r.rows.map((row) => String(row.nspname));
  });
  const dir = await mkdtemp(join(tmpdir(), 'dotctl-test-copy-'));
  try {
    const schemaFile = join(dir, 'schema.sql');
    await tool(['pg_dump', '--no-password', '--schema-only', `--exclude-schema=${WITNESS_SCHEMA}`, '-f', schemaFile], target, `pg_dump --schema-only of ${targetFingerprint(target)}`);
    await tool(['psql', '-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '-d', name, '-f', schemaFile], address, 'loading the schema');
    if (dataSchemas.length > 0) {
      const dataFile = join(dir, 'data.sql');
      await tool(['pg_dump', '--no-password', '--data-only', ...dataSchemas.flatMap((n) => ['-n', quoteIdent(n)]), '-f', dataFile], target, `pg_dump --data-only of ${dataSchemas.join(', ')}`);
      await tool(['psql', '-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '-d', name, '-f', dataFile], address, 'loading the rows');
    }
    if (content.fixture) await tool(['psql', '-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '-d', name, '-f', content.fixture], address, `running the fixture ${content.fixture}`);
  } catch (err) {
    await dropDatabase(target, name).catch(() => undefined);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { address, dataSchemas, drop: () => dropDatabase(target, name) };
}
