/**
 * What an approval binds: the server and database a session really reached (threat model 4).
 * URL spellings of one database give one fingerprint; another database gives another; a URL
 * whose query parameters would send the connection elsewhere is refused before connecting.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readServerIdentity, resolveTarget, serverFingerprint, targetFingerprint, withTarget } from '../../src/exec/target.js';
import { CheckError, InputError } from '../../src/model/errors.js';
import { adminClient, createScratchDb, createScratchRole, dropScratchRoles, type ScratchDb } from '../helpers/pg.js';

let a: ScratchDb;
let b: ScratchDb;
let role: string;
before(async () => {
  a = await createScratchDb('ident_a');
  b = await createScratchDb('ident_b');
  role = await createScratchRole('ident_user', { login: true });
});
after(async () => {
  await a?.drop();
  await b?.drop();
  if (role) await dropScratchRoles([role]);
});

async function fingerprintOf(url: string): Promise<string> {
  return withTarget(resolveTarget(url, {}), {}, async (s) => serverFingerprint(await readServerIdentity(s.client)));
}

test('one database through localhost, 127.0.0.1, with and without the port, postgresql://: one fingerprint', async () => {
  const spellings = [
    `postgres://postgres@localhost:5432/${a.name}`,
    `postgres://postgres@127.0.0.1:5432/${a.name}`,
    `postgresql://postgres@127.0.0.1/${a.name}`,
    `postgres://postgres@127.0.0.1:5432/${a.name}?application_name=other`,
    `postgres://${role}@127.0.0.1:5432/${a.name}`,
  ];
  const prints = await Promise.all(spellings.map(fingerprintOf));
  assert.equal(new Set(prints).size, 1, prints.join('\n'));
  assert.match(prints[0]!, new RegExp(`^pg:\\d+/\\d+/${a.name}$`));
  // the address differs for people, the fingerprint does not
  assert.notEqual(targetFingerprint(resolveTarget(spellings[0], {})), targetFingerprint(resolveTarget(spellings[1], {})));
});

test('two databases on the same server give different fingerprints with the same system identifier', async () => {
  const [fa, fb] = [await fingerprintOf(a.url), await fingerprintOf(b.url)];
  assert.notEqual(fa, fb);
  assert.equal(fa.split('/')[0], fb.split('/')[0]);
});

test('a database dropped and re-created under the same name is another target', async () => {
  const before = await fingerprintOf(b.url);
  const c = await adminClient();
  try {
    await c.query(`DROP DATABASE "${b.name}"`);
    await c.query(`CREATE DATABASE "${b.name}"`);
  } finally {
    await c.end();
  }
  assert.notEqual(await fingerprintOf(b.url), before);
});

test('a role that may not run pg_control_system() is refused with the grant that fixes it', async () => {
  const c = await adminClient(a.name);
  try {
    await c.query('REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC');
  } finally {
    await c.end();
  }
  await assert.rejects(fingerprintOf(`postgres://${role}@127.0.0.1:5432/${a.name}`), (e: unknown) => {
    assert.ok(e instanceof CheckError);
    assert.match(e.message, /cannot read the target server's identity \(permission denied for function pg_control_system\).*GRANT EXECUTE ON FUNCTION pg_control_system\(\)/);
    return true;
  });
  assert.match(await fingerprintOf(a.url), /^pg:/, 'the superuser still reads it');
});

test('query parameters that redirect the connection are refused; harmless ones are kept', () => {
  for (const q of [
    'host=10.0.0.1',
    'hostaddr=10.0.0.1',
    'port=6543',
    'dbname=other',
    'database=other',
    'user=postgres',
    'service=prod',
    'servicefile=/tmp/x',
    'options=-c%20search_path%3Devil',
    'replication=database',
    'HOST=x',
  ]) {
    assert.throws(
      () => resolveTarget(`postgres://u@db:5432/app?${q}`, {}),
      (e: unknown) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, new RegExp(`^--target has the query parameter ${q.split('=')[0]}, which would connect elsewhere`));
        return true;
      },
    );
  }
  assert.throws(() => resolveTarget('postgres://u@db1,db2:5432/app', {}), /names several hosts; name exactly one host/);
  const ok = resolveTarget('postgres://u@db:6000/app?sslmode=require&application_name=x', {});
  assert.deepEqual([ok.host, ok.port, ok.database, ok.user], ['db', 6000, 'app', 'u']);
});
