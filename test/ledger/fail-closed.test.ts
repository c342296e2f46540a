/**
 * The ledger fails closed: when it cannot be opened or written, the caller gets a LedgerError
 * (exit 7) in one sentence naming the ledger and the way out — never a swallowed failure.
 * Tests run as root, which ignores file modes, so unwritable places are made otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openLedger } from '../../src/ledger/open.js';
import { openSqliteLedger } from '../../src/ledger/sqlite.js';
import { openPostgresLedger } from '../../src/ledger/postgres.js';
import { LedgerError } from '../../src/model/errors.js';
import { createScratchDb, createScratchRole, dbUrl, dropScratchRoles, uniqueName } from '../helpers/pg.js';
import { appendN, ev, proposal, proposedEvent } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'dotctl-ledger-fail-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Asserts a LedgerError whose one-sentence message names `name` and matches `why`. */
function ledgerError(name: string, why: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof LedgerError, `expected a LedgerError, got ${String(e)}`);
    assert.equal(e.exitCode, 7);
    assert.ok(e.message.includes(name), `message does not name ${name}: ${e.message}`);
    assert.match(e.message, why);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  };
}

describe('SQLite ledger fails closed', () => {
  test('a path where no directory can be made (under /proc) is a LedgerError naming it', async () => {
    const path = `/proc/dotctl-${process.pid}/ledger.db`;
    await assert.rejects(openLedger(path), ledgerError(path, /^cannot write the ledger .+; fix its permissions or point --ledger elsewhere$/));
  });

  test('a path below a regular file is a LedgerError naming it', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const path = join(file, 'ledger.db');
    await assert.rejects(openLedger(path), ledgerError(path, /ENOTDIR|not a directory/));
  });

  test('a file that is not a database is a LedgerError, for writing and for reading', async () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'these are not the rows you are looking for\n'.repeat(200));
    await assert.rejects(openLedger(path), ledgerError(path, /not a database/));
    await assert.rejects(openLedger(path, { mode: 'read' }), ledgerError(path, /not a database/));
  });

  test('a read-only ledger reads, and every write to it is a LedgerError that changes nothing', async () => {
    const path = join(dir, 'ro', 'ledger.db');
    const rw = await openLedger(path);
    const p = proposal('P-ro');
    await rw.putProposal(p, proposedEvent(p));
    await appendN(rw, 2);
    await rw.close();

    const ro = await openSqliteLedger(path, { readonly: true });
    try {
      assert.equal((await ro.readEvents()).length, 3);
      const readonlyWrite = ledgerError(path, /readonly/);
      await assert.rejects(ro.appendEvent(ev()), readonlyWrite);
      await assert.rejects(ro.putProposal(proposal('P-ro-2'), ev()), readonlyWrite);
      await assert.rejects(ro.transitionProposal(p.id, ['proposed'], 'applying', ev({ event: 'apply_started', proposalId: p.id })), readonlyWrite);
      assert.equal((await ro.readEvents()).length, 3);
      assert.equal((await ro.getProposal(p.id))?.state, 'proposed');
    } finally {
      await ro.close();
    }
  });

  test('a writer held up past its busy timeout by another process is a LedgerError, not a lost event', async () => {
    const path = join(dir, 'busy', 'ledger.db');
    mkdirSync(join(dir, 'busy'));
    const ledger = await openSqliteLedger(path, { busyTimeoutMs: 200 });
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      await assert.rejects(ledger.appendEvent(ev()), ledgerError(path, /locked|busy/i));
      other.exec('ROLLBACK');
      const row = await ledger.appendEvent(ev());
      assert.equal(row.seq, 1);
    } finally {
      other.close();
      await ledger.close();
    }
  });

  test('reading a ledger that does not exist creates neither the file nor its directory', async () => {
    const path = join(dir, 'never', 'made', 'ledger.db');
    await assert.rejects(openLedger(path, { mode: 'read' }), /no ledger at/);
    assert.equal(existsSync(join(dir, 'never')), false);
  });

  test('reading an empty file says there is no ledger and leaves the file empty', async () => {
    const path = join(dir, 'empty.db');
    writeFileSync(path, '');
    await assert.rejects(openLedger(path, { mode: 'read' }), /no ledger at .*empty\.db yet \(the file holds no dotctl ledger\)/);
    assert.equal(statSync(path).size, 0);
  });
});

describe('PostgreSQL ledger fails closed', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('an unreachable server is a LedgerError naming the URL without its password', async () => {
    const url = 'postgres://dotctl:s3cret@127.0.0.1:1/ledger';
    await assert.rejects(openLedger(url), (e: unknown) => {
      ledgerError('postgres://dotctl:***@127.0.0.1:1/ledger', /ECONNREFUSED.*; check that PostgreSQL is running/)(e);
      assert.doesNotMatch((e as Error).message, /s3cret/);
      return true;
    });
  });

  test('a database that does not exist is a LedgerError naming it', async () => {
    const url = dbUrl(uniqueName('absent'));
    await assert.rejects(openLedger(url), ledgerError(url, /does not exist/));
  });

  test('a role that may not create the schema is a LedgerError, and nothing is left half-made', async () => {
    const db = await createScratchDb('ledger_priv');
    const role = await createScratchRole('ledger_user', { login: true });
    cleanups.push(() => dropScratchRoles([role]));
    cleanups.push(() => db.drop());
    const url = dbUrl(db.name, role);
    await assert.rejects(openPostgresLedger(url), ledgerError(url, /permission denied/));
    const admin = await openPostgresLedger(db.url, { create: false }).catch((e: unknown) => e);
    assert.match(String((admin as Error).message), /no ledger at/);
  });
});
