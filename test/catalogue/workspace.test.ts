import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWorkspace, resolveWorkspace, type WorkspaceConfig } from '../../src/catalogue/workspace.js';
import { withParamDefaults } from '../../src/catalogue/params.js';
import { GENERIC_LAWS_YAML } from '../../src/catalogue/generic-laws.js';
import { validateCatalogue } from '../../src/catalogue/validate.js';
import { gateRequirements } from '../../src/catalogue/laws.js';
import type { Dot } from '../../src/catalogue/schema.js';

const FILE = '/srv/ops/dotctl.yaml';
const parse = (text: string) => parseWorkspace(FILE, text);
function valid(text: string): WorkspaceConfig {
  const r = parse(text);
  assert.equal(r.kind, 'valid', r.kind === 'invalid' ? r.problems.map((p) => p.message).join('; ') : '');
  return (r as { config: WorkspaceConfig }).config;
}
function problems(text: string): string[] {
  const r = parse(text);
  assert.equal(r.kind, 'invalid');
  return r.kind === 'invalid' ? r.problems.map((p) => `${p.line}:${p.col}: ${p.message}`) : [];
}

const CONFIG = `version: 1
catalogue: ops/dots
ledger: postgres://dotctl@ledger-db:5432/dotctl
environments:
  staging:
    target: postgres://deploy@staging-db:5432/app
    params: { expected_host: staging-1, backup_script: /opt/app/backup.sh, retries: 3 }
  prod:
    target_env: PROD_DATABASE_URL
    params: { expected_host: prod-1 }
  local:
    libpq: { PGHOST: 127.0.0.1, PGPORT: 5433, PGDATABASE: app }
`;

test('defaults fill what the file leaves out; relative paths resolve against the workspace root, URLs stay', () => {
  const c = valid(CONFIG);
  const r = resolveWorkspace(c, '/srv/ops', FILE, undefined, {});
  assert.equal(r.kind, 'resolved');
  if (r.kind !== 'resolved') return;
  assert.equal(r.workspace.catalogue, '/srv/ops/ops/dots');
  assert.equal(r.workspace.ledger, 'postgres://dotctl@ledger-db:5432/dotctl');
  assert.equal(r.workspace.identities, '/srv/ops/identities.yaml');
  assert.equal(r.workspace.proposals, '/srv/ops/proposals');
  assert.equal(r.workspace.keys, '/srv/ops/.dotctl/keys');
  assert.equal(r.workspace.environment, null, 'no --env and no default_env: no environment');
  const sqlite = resolveWorkspace(valid('version: 1\n'), '/srv/ops', FILE, undefined, {});
  assert.equal(sqlite.kind === 'resolved' && sqlite.workspace.ledger, '/srv/ops/.dotctl/ledger.db');
  assert.equal(sqlite.kind === 'resolved' && sqlite.workspace.catalogue, '/srv/ops/dots');
});

test('an environment gives its target, libpq variables and parameter values as strings', () => {
  const c = valid(CONFIG);
  const st = resolveWorkspace(c, '/srv/ops', FILE, 'staging', {});
  assert.deepEqual(st.kind === 'resolved' && st.workspace.environment, {
    name: 'staging',
    target: 'postgres://deploy@staging-db:5432/app',
    libpq: {},
    params: { expected_host: 'staging-1', backup_script: '/opt/app/backup.sh', retries: '3' },
  });
  const local = resolveWorkspace(c, '/srv/ops', FILE, 'local', {});
  assert.deepEqual(local.kind === 'resolved' && local.workspace.environment?.libpq, { PGHOST: '127.0.0.1', PGPORT: '5433', PGDATABASE: 'app' });
  assert.equal(local.kind === 'resolved' && local.workspace.environment?.target, undefined);
  const withDefault = resolveWorkspace(valid(`${CONFIG}default_env: staging\n`), '/srv/ops', FILE, undefined, {});
  assert.equal(withDefault.kind === 'resolved' && withDefault.workspace.environment?.name, 'staging');
});

test('target_env: the URL (with its password) comes from the variable it names; unset is one clear sentence', () => {
  const c = valid(CONFIG);
  const ok = resolveWorkspace(c, '/srv/ops', FILE, 'prod', { PROD_DATABASE_URL: 'postgres://deploy:s3cret@prod-db:5432/app' });
  assert.equal(ok.kind === 'resolved' && ok.workspace.environment?.target, 'postgres://deploy:s3cret@prod-db:5432/app');
  const unset = resolveWorkspace(c, '/srv/ops', FILE, 'prod', {});
  assert.deepEqual(unset, {
    kind: 'error',
    message: `environment prod of ${FILE} takes its target from $PROD_DATABASE_URL, which is not set; export PROD_DATABASE_URL=postgres://user:…@host:port/database`,
  });
  const unknown = resolveWorkspace(c, '/srv/ops', FILE, 'qa', {});
  assert.deepEqual(unknown, { kind: 'error', message: `no environment qa in ${FILE}; its environments are staging, prod, local` });
});

test('secrets never in the config: a password in a target or ledger URL, or a PGPASSWORD, is refused at its line', () => {
  assert.deepEqual(problems('version: 1\nenvironments:\n  prod:\n    target: postgres://deploy:hunter2@prod-db/app\n'), [
    '4:13: environments.prod.target holds a password; secrets never go in dotctl.yaml: name the variable that holds the URL (target_env) or use PGPASSWORD / ~/.pgpass',
  ]);
  assert.match(problems('version: 1\nledger: postgres://d:pw@ledger/db\n')[0] ?? '', /^2:9: ledger holds a password/);
  assert.match(problems('version: 1\nenvironments:\n  prod:\n    target: postgres://d@h/app?password=pw\n')[0] ?? '', /password= query parameter/);
  assert.match(problems('version: 1\nenvironments:\n  prod:\n    libpq: { PGHOST: db, PGPASSWORD: pw }\n')[0] ?? '', /^4:38: environments\.prod\.libpq\.PGPASSWORD: secrets never go in dotctl\.yaml/);
});

test('shape errors name the key and its line; target and target_env together, or an unknown default_env, are refused', () => {
  assert.match(problems('version: 1\ncatalog: dots\n')[0] ?? '', /^1:1: document: Unrecognized key: "catalog"/);
  assert.match(problems('version: 2\n')[0] ?? '', /^1:10: version:/);
  assert.match(problems('version: 1\nenvironments:\n  Prod: {}\n')[0] ?? '', /^3:9: environments.Prod: Prod is not a valid environment name: environment names are lower-case/);
  assert.match(problems('version: 1\nenvironments:\n  prod: { target: "postgres://a@b/c", target_env: X }\n')[0] ?? '', /give target or target_env, not both/);
  assert.match(problems('version: 1\ndefault_env: prod\n')[0] ?? '', /^2:14: default_env prod is not one of the environments \(none\)/);
  assert.match(problems('version: 1\nversion: 1\n')[0] ?? '', /malformed YAML/);
});

const dot = (params: Dot['params']): Dot => ({ id: 'DOT-X', params }) as unknown as Dot;

test('environment parameter values: only the ones the bundle declares are taken, -p wins, a secret is refused', () => {
  const d = dot({ expected_host: { type: 'text', description: 'h' }, schema: { type: 'identifier', description: 's' }, password: { type: 'secret', description: 'p' } });
  const env = { source: 'environment staging of /srv/ops/dotctl.yaml', values: { expected_host: 'staging-1', schema: 'app', other_dot_param: 'x' } };
  assert.deepEqual(withParamDefaults([d], env, {}), { expected_host: 'staging-1', schema: 'app' });
  assert.deepEqual(withParamDefaults([d], env, { schema: 'audit' }), { expected_host: 'staging-1', schema: 'audit' });
  assert.deepEqual(withParamDefaults([d], undefined, { schema: 'audit' }), { schema: 'audit' });
  assert.throws(
    () => withParamDefaults([d], { source: env.source, values: { password: 'pw' } }, {}),
    /environment staging of \/srv\/ops\/dotctl\.yaml sets password, a secret parameter; remove it from the config and set the environment variable DOTCTL_SECRET_PASSWORD when you apply/,
  );
});

const HAND_DOT = `id: DOT-APP-ADD-INDEX
version: 1
title: Index orders by customer
summary: Lookups of a customer's orders scan the table.
applies_when: The orders table has no index on customer_id.
risk: reversible
action_code: DOT-APP-ADD-INDEX
laws: [REVIEW, VERIFY, ROLLBACK-REQUIRED, ACTION-LOG]
params:
  table: { type: identifier, default: orders, description: Table to index }
pre_check:
  - kind: sql
    name: No index yet
    sql: SELECT 1 FROM pg_indexes WHERE indexname = 'orders_customer_idx'
    expect: { kind: empty }
diff:
  - kind: sql
    name: Create the index
    sql: CREATE INDEX orders_customer_idx ON :"table" (customer_id)
rollback:
  - kind: sql
    name: Drop the index
    sql: DROP INDEX IF EXISTS orders_customer_idx
post_verify:
  - kind: sql
    name: Index exists
    sql: SELECT 1 FROM pg_indexes WHERE indexname = 'orders_customer_idx'
    expect: { kind: rows, count: 1 }
`;

test('the generic laws are a valid registry, and a DOT without an option label citing them validates', () => {
  const r = validateCatalogue({ dots: [{ file: 'dots/DOT-APP-ADD-INDEX.yaml', text: HAND_DOT }], laws: { file: 'dots/laws.yaml', text: GENERIC_LAWS_YAML }, sideFiles: new Map(), dir: 'dots/' });
  assert.equal(r.kind, 'valid', r.kind === 'invalid' ? r.problems.map((p) => p.message).join('; ') : '');
  if (r.kind !== 'valid') return;
  assert.deepEqual([...r.catalogue.laws.keys()], ['REVIEW', 'VERIFY', 'ROLLBACK-REQUIRED', 'DUAL-CONTROL', 'ARCHIVE-BEFORE-DESTROY', 'DATA-OWNER', 'ACTION-LOG', 'COMPANIONS', 'REGISTRY']);
  assert.equal(r.catalogue.dots.get('DOT-APP-ADD-INDEX')?.spec.option, undefined);
  // the generic library has no incident in it
  assert.doesNotMatch(GENERIC_LAWS_YAML, /seed|Đ\d|incident|sandbox_tac|directus/i);
  const owner = gateRequirements([{ ...r.catalogue.dots.get('DOT-APP-ADD-INDEX')!.spec, laws: ['REVIEW', 'DATA-OWNER'] }], r.catalogue.laws);
  assert.equal(owner.minApprovals, 2);
  assert.deepEqual(owner.groupApprovals, [{ group: 'data-owners', min: 1, sources: ['DATA-OWNER'] }]);
});
