// @ts-check
/**
 * The per-range loop of the `log verify` fast-path prototype (see bench/verify-prototype.ts).
 * Plain JavaScript so it runs in worker threads without a TypeScript loader. When run as a
 * worker it checks `workerData.{path, from, to}` and posts the RangeResult.
 */
import { hash as oneShot } from 'node:crypto';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const COLUMNS = 'seq, at, actor, event, proposal_id, dot_id, action_code, proposal_hash, outcome, detail, prev_hash, hash';

/** @param {string | null} v */
const s = (v) => (v === null ? 'null' : JSON.stringify(v));

/**
 * Checks rows with from < seq <= to of the SQLite ledger at `path`: links inside the range, seq,
 * and each row's hash over its stored text.
 * @param {string} path @param {number} from @param {number} to @param {number} [batch]
 * @returns {{ rows: number, firstPrev: string | null, lastHash: string | null, bad: number }}
 */
export function verifyRange(path, from, to, batch = 1000) {
  const db = new Database(path, { readonly: true });
  try {
    const st = db.prepare(`SELECT ${COLUMNS} FROM dot_action_log WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ${batch}`).raw(true);
    let after = from;
    let expected = from + 1;
    /** @type {string | null} */ let last = null;
    /** @type {string | null} */ let firstPrev = null;
    let bad = 0;
    let rows = 0;
    for (;;) {
      const got = /** @type {any[][]} */ (st.all(after, to));
      for (const [seq, at, actor, event, pid, did, ac, ph, outcome, detail, prev, hash] of got) {
        if (firstPrev === null) firstPrev = prev;
        else if (prev !== last) bad += 1;
        if (seq !== expected) bad += 1;
        const text = `${prev}\n{"action_code":${s(ac)},"actor":${s(actor)},"at":${s(at)},"detail":${detail},"dot_id":${s(did)},"event":${s(event)},"outcome":${s(outcome)},"proposal_hash":${s(ph)},"proposal_id":${s(pid)},"seq":${seq}}`;
        if (oneShot('sha256', text, 'hex') !== hash) bad += 1;
        last = hash;
        expected += 1;
        rows += 1;
      }
      const tail = got[got.length - 1];
      if (tail === undefined || got.length < batch) break;
      after = tail[0];
    }
    return { rows, firstPrev, lastHash: last, bad };
  } finally {
    db.close();
  }
}

if (!isMainThread && parentPort) {
  const { path, from, to } = workerData;
  parentPort.postMessage(verifyRange(path, from, to));
}
