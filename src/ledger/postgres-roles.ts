/**
 * Least privilege for the PostgreSQL ledger: a NOLOGIN owner role owns schema dotctl and
 * everything in it (so the append-only triggers can only be altered, disabled or dropped by
 * someone who can become the owner), and a writer role — the login operators use — may only
 * connect, read and append: CONNECT, USAGE, SELECT, INSERT (and USAGE on the identity
 * sequences), no UPDATE, DELETE, TRUNCATE, ALTER or DROP. Run once with a superuser URL; it is
 * idempotent, takes over a ledger some login already owns, and brings its schema up to date as
 * the owner, so the writer never needs to change the schema.
 */
import pg from 'pg';
import { InputError } from '../model/errors.js';
import { displayLedger, isPostgresSpec, ledgerFailure } from './failure.js';
import { PG_SCHEMA_VERSION, currentVersion, migrateInTransaction } from './postgres-migrations.js';

/** The two roles to provision. */
export interface LedgerRoles {
  readonly owner: string;
  readonly writer: string;
}

/** What `provisionLedgerRoles` did. */
export interface LedgerRolesReport {
  readonly database: string;
  readonly owner: string;
  readonly writer: string;
  readonly createdOwner: boolean;
  readonly createdWriter: boolean;
  /** the schema version the ledger was at before (null: there was no ledger) */
  readonly foundVersion: number | null;
  readonly schemaVersion: number;
  /** objects of schema dotctl whose owner was changed to the owner role */
  readonly reowned: number;
}

/** The tables the writer may append to: every ledger table but the schema's own version table. */
const APPEND_TABLES = ['dot_action_log', 'dot_proposals', 'dot_decisions', 'dot_admissions', 'dot_proposal_states'];

/**
 * Creates (when absent) the owner and writer roles, makes the owner own the ledger in schema
 * dotctl of the database `adminUrl` names (creating or upgrading it as the owner) and grants the
 * writer only what dotctl's commands need. Bad names and unsuitable existing roles are
 * InputErrors (exit 2) with nothing changed; everything else happens in one transaction.
 */
export async function provisionLedgerRoles(adminUrl: string, roles: LedgerRoles): Promise<LedgerRolesReport> {
  if (!isPostgresSpec(adminUrl)) {
    throw new InputError(`ledger roles needs a PostgreSQL ledger: --ledger ${JSON.stringify(adminUrl)} is not a postgres:// URL; pass the ledger database's URL with a superuser`);
  }
  checkName('--owner-role', roles.owner);
  checkName('--writer-role', roles.writer);
  if (roles.owner === roles.writer) throw new InputError(`--owner-role and --writer-role are both ${JSON.stringify(roles.owner)}; the owner and the writer must be two roles`);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000, application_name: 'dotctl-ledger-roles' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw ledgerFailure(adminUrl, 'open', err);
  }
  try {
    return await provision(client, adminUrl, roles);
  } catch (err) {
    throw ledgerFailure(adminUrl, 'write', err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function checkName(option: string, name: string): void {
  const why =
    name.trim() === ''
      ? 'is empty'
      : Buffer.byteLength(name) > 63
        ? 'is longer than 63 bytes'
        : name.includes('\0')
          ? 'holds a NUL byte'
          : name.startsWith('-')
            ? 'starts with -, so it looks like an option'
            : /^pg_/i.test(name)
              ? 'starts with pg_, which PostgreSQL reserves'
              : ['public', 'none', 'current_user', 'session_user', 'current_role'].includes(name.toLowerCase())
                ? 'is a reserved role name'
                : null;
  if (why !== null) throw new InputError(`${option} ${JSON.stringify(name)} ${why}; pass a role name such as dotctl_ledger_${option.includes('owner') ? 'owner' : 'writer'}`);
}

interface RoleRow {
  readonly rolname: string;
  readonly rolsuper: boolean;
  readonly rolcanlogin: boolean;
  readonly rolcreaterole: boolean;
  readonly rolcreatedb: boolean;
  readonly rolbypassrls: boolean;
  readonly rolreplication: boolean;
}

async function provision(c: pg.Client, url: string, roles: LedgerRoles): Promise<LedgerRolesReport> {
  const id = (name: string): string => c.escapeIdentifier(name);
  const me = (
    await c.query<{ user: string; superuser: boolean; db: string }>('SELECT current_user AS user, rolsuper AS superuser, current_database() AS db FROM pg_roles WHERE rolname = current_user')
  ).rows[0];
  if (!me?.superuser) {
    throw new InputError(`ledger roles must run as a superuser, and ${me?.user ?? 'this login'} is not one; pass --ledger with a superuser's URL of ${displayLedger(url)}`);
  }
  const found = new Map(
    (
      await c.query<RoleRow>('SELECT rolname, rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication FROM pg_roles WHERE rolname = ANY($1)', [[roles.owner, roles.writer]])
    ).rows.map((r) => [r.rolname, r]),
  );
  const owner = found.get(roles.owner);
  const writer = found.get(roles.writer);
  if (owner?.rolcanlogin || owner?.rolsuper) {
    throw new InputError(
      `--owner-role ${roles.owner} exists and ${owner.rolsuper ? 'is a superuser' : 'can log in'}; the owner must be a NOLOGIN role nobody works as: run ALTER ROLE ${id(roles.owner)} NOLOGIN, or pick another name`,
    );
  }
  if (writer && (writer.rolsuper || writer.rolcreaterole || writer.rolcreatedb || writer.rolbypassrls || writer.rolreplication)) {
    throw new InputError(`--writer-role ${roles.writer} exists with powers beyond appending (superuser, CREATEROLE, CREATEDB, BYPASSRLS or REPLICATION); pick another name for the writer`);
  }
  if (owner && writer) {
    const member = (await c.query<{ m: boolean }>("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [roles.writer, roles.owner])).rows[0]?.m;
    if (member) throw new InputError(`--writer-role ${roles.writer} is a member of --owner-role ${roles.owner}, so it could act as the owner; revoke that membership or pick other names`);
  }
  await c.query('BEGIN');
  try {
    if (!owner) await c.query(`CREATE ROLE ${id(roles.owner)} NOLOGIN`);
    if (!writer) await c.query(`CREATE ROLE ${id(roles.writer)} LOGIN`);
    const foundVersion = await currentVersion(c);
    const reowned = await takeOver(c, roles.owner);
    // the schema is created or upgraded by its owner, never by the writer
    await c.query(`SET LOCAL ROLE ${id(roles.owner)}`);
    await migrateInTransaction(c, url);
    await c.query('RESET ROLE');
    await grantWriter(c, me.db, roles);
    const schemaVersion = (await currentVersion(c)) ?? PG_SCHEMA_VERSION;
    await c.query('COMMIT');
    return { database: me.db, owner: roles.owner, writer: roles.writer, createdOwner: !owner, createdWriter: !writer, foundVersion, schemaVersion, reowned };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Makes `owner` own schema dotctl (creating it) and every table, sequence and function in it; returns how many objects changed hands. */
async function takeOver(c: pg.Client, owner: string): Promise<number> {
  const o = c.escapeIdentifier(owner);
  const roleOid = '(SELECT oid FROM pg_roles WHERE rolname = $1)';
  const schema = (await c.query<{ mine: boolean }>(`SELECT nspowner = ${roleOid} AS mine FROM pg_namespace WHERE nspname = 'dotctl'`, [owner])).rows[0];
  if (schema === undefined) {
    await c.query(`CREATE SCHEMA dotctl AUTHORIZATION ${o}`);
    return 0;
  }
  let n = 0;
  if (!schema.mine) {
    await c.query(`ALTER SCHEMA dotctl OWNER TO ${o}`);
    n += 1;
  }
  // tables (their indexes and identity sequences follow), then free-standing sequences, then functions
  const objects = await c.query<{ kind: string; name: string }>(
    `SELECT kind, name FROM (
       SELECT CASE WHEN cl.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, format('%I.%I', 'dotctl', cl.relname) AS name
         FROM pg_class cl
        WHERE cl.relnamespace = 'dotctl'::regnamespace AND cl.relkind IN ('r', 'p', 'S') AND cl.relowner <> ${roleOid}
          AND NOT (cl.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = cl.oid AND d.deptype IN ('a', 'i')))
       UNION ALL
       SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p
        WHERE p.pronamespace = 'dotctl'::regnamespace AND p.proowner <> ${roleOid}
     ) x ORDER BY kind = 'TABLE' DESC, kind = 'SEQUENCE' DESC, name`,
    [owner],
  );
  for (const obj of objects.rows) {
    await c.query(`ALTER ${obj.kind} ${obj.name} OWNER TO ${o}`);
    n += 1;
  }
  return n;
}

/** The writer's privileges, from nothing: connect, read every ledger table, append to the data tables. */
async function grantWriter(c: pg.Client, database: string, roles: LedgerRoles): Promise<void> {
  const w = c.escapeIdentifier(roles.writer);
  const o = c.escapeIdentifier(roles.owner);
  const statements = [
    'REVOKE ALL ON SCHEMA dotctl FROM PUBLIC',
    `REVOKE ALL ON ALL TABLES IN SCHEMA dotctl FROM PUBLIC, ${w}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA dotctl FROM PUBLIC, ${w}`,
    `GRANT CONNECT ON DATABASE ${c.escapeIdentifier(database)} TO ${w}`,
    `GRANT USAGE ON SCHEMA dotctl TO ${w}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA dotctl TO ${w}`,
    `GRANT INSERT ON ${APPEND_TABLES.map((t) => `dotctl.${t}`).join(', ')} TO ${w}`,
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA dotctl TO ${w}`,
    // tables a later migration adds (as the owner) are readable and appendable by the writer
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${o} IN SCHEMA dotctl GRANT SELECT, INSERT ON TABLES TO ${w}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${o} IN SCHEMA dotctl GRANT USAGE ON SEQUENCES TO ${w}`,
  ];
  for (const sql of statements) await c.query(sql);
}
