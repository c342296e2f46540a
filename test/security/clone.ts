/**
 * A private copy of a ledger to attack, so the team's own ledger keeps serving the legitimate
 * path: a SQLite file copied with VACUUM INTO, a PostgreSQL ledger database used as a template.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminClient, dbUrl, uniqueName } from '../helpers/pg.js';

/** A copy of the ledger `spec`; `drop()` removes it. */
export async function cloneLedger(spec: string): Promise<{ spec: string; drop: () => Promise<void> }> {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const source = decodeURIComponent(new URL(spec).pathname.slice(1));
    const name = uniqueName('clone');
    const admin = await adminClient();
    try {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${source}"`);
    } finally {
      await admin.end();
    }
    return {
      spec: dbUrl(name),
      async drop() {
        const a = await adminClient();
        try {
          await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await a.end();
        }
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-clone-'));
  const copy = join(dir, 'ledger.db');
  const db = new Database(spec, { readonly: true });
  try {
    db.exec(`VACUUM INTO '${copy.replace(/'/g, "''")}'`);
  } finally {
    db.close();
  }
  return { spec: copy, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}
