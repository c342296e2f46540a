/**
 * A catalogue snapshot of a database, for the rollback proof (`dotctl test`): every object a DOT
 * may touch, named the way a person reads it, with what matters about it — owner, ACL (items
 * sorted, so the order of grants does not count), definition, validity, row count — plus the
 * default privileges (`pg_default_acl`), the database's and the named roles' settings, and the
 * named roles themselves (roles are cluster-wide: only those a DOT's parameters name are read,
 * so another session's roles never show up as a difference). Keys name objects, never OIDs, so
 * a schema dropped and restored from an archive compares equal when it really is the same.
 */
import { WITNESS_SCHEMA } from './witness.js';
import type { TargetClient } from './target.js';

/** What each object is (by a readable key) and what is true of it. */
export type Snapshot = ReadonlyMap<string, string>;

/** One difference between two snapshots. */
export type SnapshotDifference =
  | { readonly kind: 'added'; readonly key: string; readonly after: string }
  | { readonly kind: 'removed'; readonly key: string; readonly before: string }
  | { readonly kind: 'changed'; readonly key: string; readonly before: string; readonly after: string };

// the witness (exec/witness.ts) records that a change ran, not what it changed: never compared
const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema', '${WITNESS_SCHEMA}') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;
const acl = (col: string): string => `coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(${col}) a), 'none')`;
/** A NULL ACL means the owner's default privileges: the same thing as the explicit list a GRANT then REVOKE leaves. */
const ownAcl = (col: string, kind: string, owner: string): string => acl(`coalesce(${col}, acldefault(${kind}::"char", ${owner}))`);

/** Each query returns rows of (k, v). */
const QUERIES: readonly string[] = [
  `SELECT 'database' AS k, 'owner=' || pg_get_userbyid(datdba) || ' acl=' || ${ownAcl('datacl', "'d'", 'datdba')} AS v FROM pg_database WHERE datname = current_database()`,
  `SELECT 'schema ' || quote_ident(n.nspname) AS k, 'owner=' || pg_get_userbyid(n.nspowner) || ' acl=' || ${ownAcl('n.nspacl', "'n'", 'n.nspowner')} AS v FROM pg_namespace n WHERE ${USER_NS}`,
  `SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
            WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type' ELSE 'relation' END
          || ' ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS k,
          'owner=' || pg_get_userbyid(c.relowner) || ' acl=' || ${ownAcl('c.relacl', "CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END", 'c.relowner')}
          || CASE WHEN c.relkind IN ('i', 'I') THEN ' valid=' || (SELECT x.indisvalid::text FROM pg_index x WHERE x.indexrelid = c.oid) || ' def=' || pg_get_indexdef(c.oid) ELSE '' END
          || CASE WHEN c.relkind IN ('v', 'm') THEN ' def=' || md5(pg_get_viewdef(c.oid)) ELSE '' END
          || CASE WHEN c.relrowsecurity THEN ' rls=on' ELSE '' END
          || CASE WHEN c.relkind IN ('r', 'p', 'm') THEN ' rows=' || (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text ELSE '' END AS v
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I', 'f', 'c')`,
  `SELECT 'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname) AS k,
          format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
          || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || CASE WHEN a.attacl IS NULL THEN '' ELSE ' acl=' || ${acl('a.attacl')} END AS v
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE ${USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped`,
  `SELECT 'constraint ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(k.conname) AS k, pg_get_constraintdef(k.oid) AS v
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS}`,
  `SELECT 'trigger ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(t.tgname) AS k, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text AS v
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS} AND NOT t.tgisinternal`,
  `SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS k,
          'owner=' || pg_get_userbyid(p.proowner) || ' acl=' || ${ownAcl('p.proacl', "'f'", 'p.proowner')} || ' body=' || md5(coalesce(p.prosrc, '')) || CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END AS v
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_NS}`,
  `SELECT 'type ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS k, 'owner=' || pg_get_userbyid(t.typowner) || ' acl=' || ${ownAcl('t.typacl', "'T'", 't.typowner')} AS v
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE ${USER_NS} AND t.typtype IN ('e', 'd', 'r', 'm') `,
  `SELECT 'default privileges for ' || pg_get_userbyid(d.defaclrole) || coalesce(' in schema ' || quote_ident(n.nspname), ' in every schema') || ' on '
          || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END AS k,
          'acl=' || ${acl('d.defaclacl')} AS v
     FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace`,
  `SELECT 'extension ' || quote_ident(e.extname) AS k, 'version=' || e.extversion || ' schema=' || e.extnamespace::regnamespace::text AS v FROM pg_extension e`,
  `SELECT 'policy ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(p.polname) AS k,
          p.polcmd::text || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') AS v
     FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace`,
];

/** The named roles (cluster-wide) and the settings of this database and of those roles. */
const ROLE_QUERIES: readonly string[] = [
  `SELECT 'role ' || r AS k,
          coalesce((SELECT concat_ws(' ', CASE WHEN a.rolsuper THEN 'superuser' END, CASE WHEN a.rolcreaterole THEN 'createrole' END, CASE WHEN a.rolcreatedb THEN 'createdb' END,
                        CASE WHEN a.rolcanlogin THEN 'login' ELSE 'nologin' END, CASE WHEN a.rolreplication THEN 'replication' END, CASE WHEN a.rolbypassrls THEN 'bypassrls' END,
                        CASE WHEN NOT a.rolinherit THEN 'noinherit' END, 'connlimit=' || a.rolconnlimit, 'valid_until=' || coalesce(a.rolvaliduntil::text, 'always'),
                        'member_of=' || coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid), 'none'))
                    FROM pg_roles a WHERE a.rolname = r), 'absent') AS v
     FROM unnest($1::text[]) r`,
  `SELECT 'settings of ' || coalesce('role ' || pg_get_userbyid(NULLIF(s.setrole, 0)), 'every role') || ' in ' || CASE WHEN s.setdatabase = 0 THEN 'every database' ELSE 'this database' END AS k,
          (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(s.setconfig) x) AS v
     FROM pg_db_role_setting s
    WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
       OR (s.setdatabase = 0 AND s.setrole IN (SELECT oid FROM pg_roles WHERE rolname = ANY($1::text[])))`,
];

/**
 * Reads the snapshot of the database `client` is connected to; `roles` are the cluster-wide
 * roles to include (e.g. every role a DOT's parameters name).
 */
export async function readSnapshot(client: TargetClient, roles: readonly string[]): Promise<Snapshot> {
  const out = new Map<string, string>();
  const take = (rows: Record<string, unknown>[]): void => {
    for (const r of rows) out.set(String(r.k), String(r.v ?? ''));
  };
  for (const q of QUERIES) take((await client.query(q)).rows);
  const names = [...new Set(roles)].sort();
  for (const q of ROLE_QUERIES) take((await client.query(q, [names])).rows);
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every difference between two snapshots, in key order. Pure. */
export function diffSnapshots(before: Snapshot, after: Snapshot): SnapshotDifference[] {
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  const out: SnapshotDifference[] = [];
  for (const key of keys) {
    const b = before.get(key);
    const a = after.get(key);
    if (b === undefined && a !== undefined) out.push({ kind: 'added', key, after: a });
    else if (a === undefined && b !== undefined) out.push({ kind: 'removed', key, before: b });
    else if (a !== undefined && b !== undefined && a !== b) out.push({ kind: 'changed', key, before: b, after: a });
  }
  return out;
}

/** A difference as a person reads it: what is left, what is missing, what changed from → to. */
export function describeDifference(d: SnapshotDifference): string {
  switch (d.kind) {
    case 'added':
      return `+ ${d.key}: left behind after the rollback (${d.after})`;
    case 'removed':
      return `- ${d.key}: missing after the rollback (was ${d.before})`;
    case 'changed':
      return `~ ${d.key}: ${changedParts(d.before, d.after)}`;
    default: {
      const never: never = d;
      return never;
    }
  }
}

/** Names only the `name=value` parts that changed, so a long line reads as its difference. */
function changedParts(before: string, after: string): string {
  const parts = (s: string): Map<string, string> => new Map(s.split(/ (?=[a-z_]+=)/).map((p) => [p.split('=')[0] ?? p, p]));
  const b = parts(before);
  const a = parts(after);
  const keys = [...new Set([...b.keys(), ...a.keys()])].filter((k) => b.get(k) !== a.get(k));
  if (keys.length === 0 || keys.some((k) => !k || !/^[a-z_]+$/.test(k))) return `before ${before}; after the rollback ${after}`;
  return keys.map((k) => `${k}: before ${b.get(k)?.slice(k.length + 1) ?? '(none)'}, after the rollback ${a.get(k)?.slice(k.length + 1) ?? '(none)'}`).join('; ');
}
