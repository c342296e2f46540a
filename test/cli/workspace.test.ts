/**
 * A new team's first change, as its people would run it through the built binary against a real
 * PostgreSQL: `dotctl init`, then from a subdirectory a DOT written by hand, validate, keygen,
 * admit, `--env staging propose` with no -p, approve (a control group: one approval must come
 * from a data owner), apply and rollback — every path taken from dotctl.yaml.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.js';
import { adminClient, createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { shippedDotsDir } from '../../src/model/package-paths.js';

// nothing of the developer's shell may decide where dotctl looks: the workspace must
const CLEAN = { DOTCTL_DOTS: undefined, DOTCTL_LEDGER: undefined, DOTCTL_TARGET: undefined, DOTCTL_IDENTITIES: undefined, DOTCTL_KEY: undefined, DOTCTL_ENV: undefined };

const HAND_DOT = `# written by hand, no option label
id: DOT-APP-ADD-INDEX
version: 1
title: Index orders by customer
summary: Lookups of a customer's orders scan the whole table.
applies_when: The orders table has no index on customer_id.
risk: reversible
action_code: DOT-APP-ADD-INDEX
laws: [REVIEW, VERIFY, ROLLBACK-REQUIRED, ACTION-LOG, DATA-OWNER]
params:
  expected_host: { type: text, description: Host name of the database server this runs on }
  table: { type: identifier, description: Table to index }
hard_stops:
  - kind: host
    name: Right host
    equals: "{{expected_host}}"
pre_check:
  - kind: sql
    name: No index yet
    sql: SELECT 1 FROM pg_indexes WHERE indexname = 'orders_customer_idx' AND tablename = :'table'
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
    sql: SELECT 1 FROM pg_indexes WHERE indexname = 'orders_customer_idx' AND tablename = :'table'
    expect: { kind: rows, count: 1 }
`;

describe('a workspace from dotctl init to rollback, run from a subdirectory: init, new, validate, test, admit, --env propose, approve, apply, rollback', () => {
  let top: string;
  let ws: string;
  let sub: string;
  let db: ScratchDb;
  const key = (name: string): string => join(ws, '.dotctl', 'keys', `${name}.key`);
  const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, { cwd: sub, env: { ...CLEAN, ...env } });
  const indexExists = async (): Promise<boolean> => {
    const c = await adminClient(db.name);
    try {
      return (await c.query("SELECT 1 FROM pg_indexes WHERE indexname = 'orders_customer_idx'")).rowCount === 1;
    } finally {
      await c.end();
    }
  };

  before(async () => {
    top = await mkdtemp(join(tmpdir(), 'dotctl-ws-'));
    ws = join(top, 'ops');
    sub = join(ws, 'notes', 'today');
    db = await createScratchDb('ws');
    const c = await adminClient(db.name);
    try {
      await c.query('CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL)');
      await c.query('INSERT INTO orders SELECT g, g % 7 FROM generate_series(1, 50) g');
    } finally {
      await c.end();
    }
  });
  after(async () => {
    await db?.drop();
    if (top) await rm(top, { recursive: true, force: true });
  });

  test('init writes dotctl.yaml, the generic laws, an identities file and a .gitignore; a second init is refused', async () => {
    const r = runCli(['init', ws], { cwd: top, env: CLEAN });
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['dotctl.yaml', 'dots/laws.yaml', 'identities.yaml', '.gitignore']) assert.ok(existsSync(join(ws, f)), f);
    assert.match(await readFile(join(ws, '.gitignore'), 'utf8'), /^\.dotctl\/$/m);
    const again = runCli(['init', ws], { cwd: top, env: CLEAN });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /dotctl\.yaml already exists; this is a workspace already/);
    assert.ok(!hasStackTrace(again.stderr));
  });

  test('from a subdirectory: the fresh catalogue validates with its laws (no "unknown law"), then with a DOT written by hand', async () => {
    await mkdir(sub, { recursive: true });
    const empty = cli(['validate']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout.trim(), `${join(ws, 'dots')}: 0 DOT(s) and 9 law(s) are valid`);
    // the author starts from the skeleton `dotctl new` writes into the workspace's catalogue
    const made = cli(['new', 'DOT-APP-ADD-INDEX']);
    assert.equal(made.code, 0, made.stderr);
    const skeleton = await readFile(join(ws, 'dots', 'DOT-APP-ADD-INDEX.yaml'), 'utf8');
    assert.match(skeleton, /^# yaml-language-server: \$schema=/);
    const todo = cli(['validate']);
    assert.equal(todo.code, 2, todo.stdout + todo.stderr);
    assert.match(todo.stderr, /DOT-APP-ADD-INDEX\.yaml:\d+:\d+: /);
    // …and fills it in
    await writeFile(join(ws, 'dots', 'DOT-APP-ADD-INDEX.yaml'), `${skeleton.split('\n')[0]}\n${HAND_DOT}`);
    const one = cli(['validate']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /1 DOT\(s\) and 9 law\(s\) are valid/);
    // DOTCTL_DOTS still wins over the workspace
    const shipped = cli(['validate'], { DOTCTL_DOTS: shippedDotsDir() });
    assert.match(shipped.stdout, /8 DOT\(s\) and 6 law\(s\) are valid/);
  });

  test('keygen writes keys into the workspace; the identities name a data owner', async () => {
    const ids: string[] = [];
    for (const [name, role, groups] of [
      ['olga', 'operator', ''],
      ['rita', 'reviewer', 'data-owners'],
      ['raj', 'reviewer', ''],
    ] as const) {
      const r = cli(['keygen', name, '--role', role, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { key_file: string; public_key: string };
      assert.equal(j.key_file, key(name));
      ids.push(`  - name: ${name}\n    roles: [${role}]\n${groups ? `    groups: [${groups}]\n` : ''}    public_key: ${j.public_key}`);
    }
    await writeFile(join(ws, 'identities.yaml'), `identities:\n${ids.join('\n')}\n`);
  });

  test('ledger init makes the identities the genesis registry of the workspace ledger, signed by all three', () => {
    const r = cli(['ledger', 'init', '--key', key('olga'), '--key', key('rita'), '--key', key('raj')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /identity registry of 3 member\(s\) \(olga, raj, rita\), quorum 2, signed by every member/);
  });

  test('two reviewers admit the new DOT', () => {
    for (const who of ['rita', 'raj']) {
      const r = cli(['--key', key(who), 'admit', 'DOT-APP-ADD-INDEX']);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.match(cli(['admissions', 'DOT-APP-ADD-INDEX']).stdout, /: admitted/);
  });

  let id = '';
  test('--env staging propose needs no -p: the environment gives the target, the host and the table', async () => {
    const config = await readFile(join(ws, 'dotctl.yaml'), 'utf8');
    const staging = `  staging:\n    description: Staging.\n    target: ${db.url}\n    params:\n      expected_host: ${hostname()}\n      table: orders\n`;
    await writeFile(join(ws, 'dotctl.yaml'), config.replace(/ {2}staging:\n(?: {4}.*\n| {6}.*\n)+/, staging));
    // without the environment, the parameters it knows are missing
    const bare = cli(['--key', key('olga'), 'propose', 'DOT-APP-ADD-INDEX'], { DOTCTL_TARGET: db.url });
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /parameter expected_host of DOT-APP-ADD-INDEX is required/);
    // -p wins over the environment (rendered without a database)
    const render = cli(['--env', 'staging', 'render', 'DOT-APP-ADD-INDEX', '-p', 'table=orders_archive']);
    assert.equal(render.code, 0, render.stderr);
    assert.match(render.stdout, /orders_archive/);
    assert.doesNotMatch(render.stdout, /Option undefined/);
    // the rollback proof on a scratch copy of staging, before asking for approval; the target is not touched
    const proof = cli(['--env', 'staging', '--key', key('olga'), 'test', 'DOT-APP-ADD-INDEX']);
    assert.equal(proof.code, 0, proof.stdout + proof.stderr);
    assert.match(proof.stdout, /PASSED: the rollback restores exactly the state before the DOT/);
    assert.equal(await indexExists(), false, 'dotctl test changed the target');
    const r = cli(['--env', 'staging', '--key', key('olga'), 'propose', 'DOT-APP-ADD-INDEX', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { id: string; address: string; markdown_path: string; requirements: { min_approvals: number } };
    id = j.id;
    assert.equal(j.address, `postgres://127.0.0.1:5432/${db.name}`);
    assert.equal(j.markdown_path, join(ws, 'proposals', `${id}.md`));
    assert.equal(j.requirements.min_approvals, 2);
    assert.match(await readFile(j.markdown_path, 'utf8'), /Control group data-owners: at least 1 of the approvals from its members \(DATA-OWNER\)/);
    assert.ok(existsSync(join(ws, '.dotctl', 'ledger.db')), 'the ledger is the workspace one');
  });

  test('two reviewers who are not both data owners: a second non-owner approval still leaves the control group unmet', () => {
    assert.equal(cli(['--key', key('raj'), 'approve', id]).code, 0);
    const r = cli(['--env', 'staging', '--key', key('olga'), 'apply', id]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /control group data-owners \(DATA-OWNER\): 1 approval\(s\) from its members required, 0 valid \(1 missing\); members: rita/);
  });

  test('the data owner approves; apply creates the index, rollback removes it', async () => {
    assert.equal(cli(['--key', key('rita'), 'approve', id]).code, 0);
    const a = cli(['--env', 'staging', '--key', key('olga'), 'apply', id]);
    assert.equal(a.code, 0, a.stderr + a.stdout);
    assert.equal(await indexExists(), true);
    const rb = cli(['--env', 'staging', '--key', key('olga'), 'rollback', id]);
    assert.equal(rb.code, 0, rb.stderr + rb.stdout);
    assert.equal(await indexExists(), false);
    const log = cli(['log', '--proposal', id, '--json']);
    assert.match(log.stdout, /"event":\s*"applied"/);
  });

  test('--env outside a workspace, an unknown environment, or a password in dotctl.yaml: exit 2, one sentence', async () => {
    const outside = runCli(['--env', 'staging', 'list'], { cwd: top, env: CLEAN });
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /--env staging needs a workspace, but there is no dotctl\.yaml in .* or any directory above it; run dotctl init/);
    const unknown = cli(['--env', 'qa', 'list']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no environment qa in .*dotctl\.yaml; its environments are staging, prod/);
    const config = await readFile(join(ws, 'dotctl.yaml'), 'utf8');
    await writeFile(join(ws, 'dotctl.yaml'), config.replace(`target: ${db.url}`, 'target: postgres://postgres:hunter2@127.0.0.1:5432/app'));
    const secret = cli(['list']);
    assert.equal(secret.code, 2);
    assert.match(secret.stderr, /dotctl\.yaml:\d+:\d+: environments\.staging\.target holds a password; secrets never go in dotctl\.yaml/);
    assert.doesNotMatch(secret.stderr, /hunter2/);
    assert.ok(!hasStackTrace(secret.stderr));
  });
});
