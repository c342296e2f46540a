/**
 * What an insider or a ledger DBA does to a ledger around dotctl: append a correctly chained row
 * of their own making (the chain is unkeyed), and rewrite a row then re-hash every later one
 * with the append-only triggers out of the way (SQLite: file access, triggers dropped;
 * PostgreSQL: the superuser in replica mode).
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { canonicalJson } from '../../src/model/canonical.js';
import { hashRow } from '../../src/ledger/chain.js';
import { openLedger } from '../../src/ledger/open.js';
import type { LogRow, NewLogEvent } from '../../src/ledger/port.js';

const isPg = (spec: string): boolean => /^postgres(ql)?:\/\//.test(spec);

/** All rows of the log, read through the adapter. */
export async function readRows(spec: string): Promise<LogRow[]> {
  const l = await openLedger(spec, { mode: 'read' });
  try {
    return [...(await l.readEvents())];
  } finally {
    await l.close();
  }
}

/** Appends a row of the attacker's making, correctly chained (no trigger forbids an append). */
export async function appendForged(spec: string, event: NewLogEvent): Promise<LogRow> {
  const l = await openLedger(spec);
  try {
    return await l.appendEvent(event);
  } finally {
    await l.close();
  }
}

/**
 * Rewrites row `seq` with `edit` and recomputes the hash of it and of every later row, so the
 * chain alone verifies again; with `drop`, rows for which it returns true are removed (and the
 * later rows renumbered), as a tamperer hiding the signed heads would.
 */
export async function rewriteAndRehash(spec: string, seq: number, edit: (r: LogRow) => LogRow, drop: (r: LogRow) => boolean = () => false): Promise<void> {
  const rows = await readRows(spec);
  const start = rows.findIndex((r) => r.seq === seq);
  if (start < 0) throw new Error(`no row ${seq}`);
  const kept = [...rows.slice(0, start), ...rows.slice(start).filter((r, i) => i === 0 || !drop(r))];
  const out: LogRow[] = kept.slice(0, start);
  let prev = rows[start]!.prevHash;
  kept.slice(start).forEach((r, i) => {
    const changed = i === 0 ? edit(r) : r;
    const { prevHash: _p, hash: _h, ...fields } = { ...changed, seq: seq + i };
    const hash = hashRow(prev, fields);
    out.push({ ...fields, prevHash: prev, hash });
    prev = hash;
  });
  const mine = out.slice(start);
  const values = (r: LogRow): (string | number | null)[] => [
    r.seq,
    r.at,
    r.actor,
    r.event,
    r.proposalId,
    r.dotId,
    r.actionCode,
    r.proposalHash,
    r.outcome,
    canonicalJson(r.detail),
    r.prevHash,
    r.hash,
  ];
  const cols = 'seq, at, actor, event, proposal_id, dot_id, action_code, proposal_hash, outcome, detail, prev_hash, hash';
  if (isPg(spec)) {
    const c = new pg.Client({ connectionString: spec });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL session_replication_role = replica');
      await c.query('DELETE FROM dotctl.dot_action_log WHERE seq >= $1', [seq]);
      for (const r of mine) await c.query(`INSERT INTO dotctl.dot_action_log (${cols}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, values(r));
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    return;
  }
  const db = new Database(spec);
  try {
    for (const t of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'dot_action_log'`).all() as { name: string }[]) db.exec(`DROP TRIGGER "${t.name}"`);
    db.transaction(() => {
      db.prepare('DELETE FROM dot_action_log WHERE seq >= ?').run(seq);
      const ins = db.prepare(`INSERT INTO dot_action_log (${cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`);
      for (const r of mine) ins.run(...values(r));
    })();
  } finally {
    db.close();
  }
}
