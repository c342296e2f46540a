/**
 * The incident database of the seed, recreated on a scratch database: schema `sandbox_tac`
 * owned by a workflow-admin role, its eight tables with the seed's row counts (76/76/76/11/3/
 * 1/0/0 — 243 live rows), indexes, functions and triggers, and a dump role without USAGE.
 * Used by `dotctl demo` and the tests; it touches nothing it did not create.
 */
import pg from 'pg';

/** What the incident needs of a connection (pg.Client satisfies it). */
export interface TargetClient {
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
}

const quoteIdent = (name: string): string => pg.escapeIdentifier(name);

/** Names of what the incident is built from. */
export interface IncidentNames {
  readonly database: string;
  readonly schema: string; // sandbox_tac
  readonly ownerRole: string; // workflow_admin-like
  readonly dumpRole: string; // directus-like
}

/** The seed's tables and their live row counts (seed §1.4). */
export const SEED_TABLES: readonly (readonly [string, number])[] = [
  ['unit_version', 76],
  ['logical_unit', 76],
  ['publication_member', 76],
  ['section_type_vocab', 11],
  ['publication', 3],
  ['publication_type_vocab', 1],
  ['change_set', 0],
  ['change_set_member', 0],
];

/** Total live rows of the seed's schema. */
export const SEED_ROWS = SEED_TABLES.reduce((n, [, c]) => n + c, 0);

/** SQL (run as a superuser in the incident database) that builds the schema. */
export function incidentSql(n: IncidentNames): string {
  const s = quoteIdent(n.schema);
  const owner = quoteIdent(n.ownerRole);
  return `
CREATE SCHEMA ${s} AUTHORIZATION ${owner};
SET ROLE ${owner};
CREATE TABLE ${s}.publication_type_vocab (code text PRIMARY KEY, label text NOT NULL);
CREATE TABLE ${s}.section_type_vocab (code text PRIMARY KEY, label text NOT NULL);
CREATE TABLE ${s}.publication (id serial PRIMARY KEY, type_code text NOT NULL REFERENCES ${s}.publication_type_vocab(code), title text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE ${s}.logical_unit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, section_code text NOT NULL REFERENCES ${s}.section_type_vocab(code), slug text NOT NULL UNIQUE, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE ${s}.unit_version (id serial PRIMARY KEY, unit_id bigint NOT NULL REFERENCES ${s}.logical_unit(id), version int NOT NULL, body text NOT NULL, UNIQUE (unit_id, version));
CREATE TABLE ${s}.publication_member (publication_id int NOT NULL REFERENCES ${s}.publication(id), unit_version_id int NOT NULL REFERENCES ${s}.unit_version(id), position int NOT NULL, PRIMARY KEY (publication_id, unit_version_id));
CREATE TABLE ${s}.change_set (id serial PRIMARY KEY, note text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE ${s}.change_set_member (change_set_id int NOT NULL REFERENCES ${s}.change_set(id), unit_version_id int NOT NULL REFERENCES ${s}.unit_version(id), PRIMARY KEY (change_set_id, unit_version_id));
CREATE INDEX ON ${s}.unit_version (unit_id);
CREATE INDEX ON ${s}.publication_member (unit_version_id);
CREATE INDEX ON ${s}.logical_unit (section_code);
CREATE INDEX ON ${s}.publication (type_code);
CREATE FUNCTION ${s}.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION ${s}.latest_version(p_unit bigint) RETURNS int LANGUAGE sql STABLE AS $$ SELECT max(version) FROM ${s}.unit_version WHERE unit_id = p_unit $$;
CREATE FUNCTION ${s}.unit_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM ${s}.logical_unit $$;
CREATE TRIGGER publication_touch BEFORE UPDATE ON ${s}.publication FOR EACH ROW EXECUTE FUNCTION ${s}.touch_updated_at();
CREATE TRIGGER logical_unit_touch BEFORE UPDATE ON ${s}.logical_unit FOR EACH ROW EXECUTE FUNCTION ${s}.touch_updated_at();
INSERT INTO ${s}.publication_type_vocab VALUES ('handbook', 'Handbook');
INSERT INTO ${s}.section_type_vocab SELECT 'sec_' || i, 'Section ' || i FROM generate_series(1, 11) i;
INSERT INTO ${s}.publication (type_code, title) SELECT 'handbook', 'Publication ' || i FROM generate_series(1, 3) i;
INSERT INTO ${s}.logical_unit (section_code, slug) SELECT 'sec_' || (1 + i % 11), 'unit-' || i FROM generate_series(1, 76) i;
INSERT INTO ${s}.unit_version (unit_id, version, body) SELECT i, 1, repeat('Canonical text of unit ' || i || '. ', 20) FROM generate_series(1, 76) i;
INSERT INTO ${s}.publication_member SELECT 1 + (i % 3), i, i FROM generate_series(1, 76) i;
RESET ROLE;
ANALYZE ${s}.unit_version, ${s}.logical_unit, ${s}.publication_member, ${s}.section_type_vocab, ${s}.publication, ${s}.publication_type_vocab, ${s}.change_set, ${s}.change_set_member;
`;
}

/** Builds the incident in a database the caller created; roles must exist already. */
export async function buildIncident(client: TargetClient, n: IncidentNames): Promise<void> {
  await client.query(incidentSql(n));
}

/** Live rows per table of the schema, as the seed counted them (exact counts, not estimates). */
export async function countRows(client: TargetClient, schema: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [t] of SEED_TABLES) {
    const r = await client.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.${quoteIdent(t)}`);
    out[t] = Number(r.rows[0]?.n ?? 0);
  }
  return out;
}
