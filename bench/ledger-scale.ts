/**
 * Reads of a big ledger: `dotctl status`, `dotctl proposals` and `dotctl log --limit 50` as whole
 * processes on a ledger of 100,000 proposals and 2,000,000 events, against the 300 ms goal (and,
 * for information, `node -e 0`, the floor of any Node CLI).
 *
 *   npx tsx bench/ledger-scale.ts
 *   DOTCTL_BENCH_SCALE_PROPOSALS=10000 DOTCTL_BENCH_SCALE_EVENTS=200000 …   a smaller ledger
 *   DOTCTL_BENCH_PG=1 …                                                      also on PostgreSQL
 *   DOTCTL_BENCH_SCALE_KEEP=DIR …                                            keep (and reuse) the SQLite file in DIR
 *
 * The ledger is a real one: `dotctl ledger init` writes its genesis registry (two keys made by
 * `dotctl keygen`); then every proposal's rows are sealed by the ledger's own code (`sealEvent`,
 * `stateEvent`, `proposalValues`) and inserted in bulk in one transaction, each proposal with a
 * few KB of frozen content, its decision, its state index rows and its lifecycle of events
 * (proposed, approved, apply_started, steps, then applied / failed / rolled_back / withdrawn);
 * the last state change goes through the store and is covered by a signed head, as a command's
 * would. `dotctl log verify` must accept it before anything is timed. The commands are
 * interleaved run by run (DOTCTL_BENCH_RUNS, default 7, after 2 warm-ups); medians.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sealEvent, type ChainHead } from '../src/ledger/chain.js';
import type { LedgerStore, NewLogEvent, ProposalRecord, ProposalState } from '../src/ledger/port.js';
import { LOG_COLUMNS, PROPOSAL_COLUMNS, DECISION_COLUMNS, decisionValues, logRowValues, proposalValues } from '../src/ledger/rows.js';
import { stateEvent } from '../src/ledger/states.js';
import { openLedger } from '../src/ledger/open.js';
import { withSignedHead } from '../src/engine/signed-head.js';
import { loadSigningKey } from '../src/gate/keys.js';
import { createScratchDb } from '../test/helpers/pg.js';
import { BIN, ensureBuilt, judge, line, median, ms, runOk, runsFromEnv } from './lib.js';

const PROPOSALS = Number(process.env.DOTCTL_BENCH_SCALE_PROPOSALS ?? 100_000);
const EVENTS = Number(process.env.DOTCTL_BENCH_SCALE_EVENTS ?? 2_000_000);
const RUNS = runsFromEnv(7);
const WARMUP = 2;
const GOAL_MS = 300;

/** One generated table row: the table and its values in that table's column order. */
type Row = { readonly table: 'log' | 'proposal' | 'state' | 'decision'; readonly values: readonly (string | number | null)[] };

/** The CLI with the given ledger; throws with its output unless it exits `expect`. */
function cli(ledger: string, args: readonly string[], expect = 0): ReturnType<typeof runOk> {
  return runOk(process.execPath, [BIN, '--ledger', ledger, ...args], { expect, env: { ...process.env, DOTCTL_DEBUG: undefined, DOTCTL_CACHE: 'off' } });
}

/** Two members (alice, bob; quorum 2) and their keys, as `dotctl keygen` prints them. */
function makeIdentities(dir: string): { identities: string; keys: string[] } {
  const keys = join(dir, 'keys');
  const entries = ['alice', 'bob'].map((name) => {
    const out = runOk(process.execPath, [BIN, 'keygen', name, '--dir', keys, '--role', 'operator', '--role', 'reviewer']).stdout;
    return out.slice(out.indexOf('  - name:'));
  });
  const identities = join(dir, 'identities.yaml');
  writeFileSync(identities, `identities:\n${entries.join('')}`);
  return { identities, keys: [join(keys, 'alice.key'), join(keys, 'bob.key')] };
}

/** A few KB of frozen DOT content, different per proposal (what made listing them all run out of memory). */
function frozen(i: number): ProposalRecord['content'] {
  const yaml = `id: DOT-PG-GRANT-SCHEMA\nversion: ${1 + (i % 7)}\n${'description: grant usage on a schema to a role, with its rollback and checks\n'.repeat(24)}`;
  const sql = `GRANT USAGE ON SCHEMA "sandbox_${i}" TO "directus";\n`.repeat(30);
  const h = (t: string): string => createHash('sha256').update(t).digest('hex');
  return { files: { 'DOT-PG-GRANT-SCHEMA.yaml': yaml, 'apply.sql': sql }, hashes: { 'DOT-PG-GRANT-SCHEMA.yaml': h(yaml), 'apply.sql': h(sql) } };
}

/** The final state of proposal i and the event that sets it. */
function ending(i: number): { state: ProposalState; event: NewLogEvent['event'] } {
  if (i % 50 === 0) return { state: 'withdrawn', event: 'withdrawn' };
  if (i % 10 === 3) return { state: 'failed', event: 'step_failed' };
  if (i % 10 === 7) return { state: 'rolled_back', event: 'rolled_back' };
  return { state: 'applied', event: 'applied' };
}

/**
 * Seals every row after `head` (the genesis rows), proposal by proposal in chain order, and
 * yields them; the last proposal's final state change is left to the store (`finish`).
 */
function* generate(head: ChainHead, t0: number): Generator<Row, Last> {
  const rows: Row[] = [];
  const put = (r: Row): void => {
    rows.push(r);
  };
  const per = Math.max(4, Math.floor(EVENTS / PROPOSALS));
  let h = head;
  let clock = t0;
  const seal = (e: NewLogEvent): number => {
    const s = sealEvent(h, e);
    put({ table: 'log', values: logRowValues(s.row, s.detailJson) });
    h = { seq: s.row.seq, hash: s.row.hash, at: s.row.at };
    return s.row.seq;
  };
  const setState = (id: string, state: ProposalState, prev: number | null, e: NewLogEvent): number => {
    const seq = seal(stateEvent(e, id, state, prev));
    put({ table: 'state', values: [seq, id, state, prev] });
    return seq;
  };
  let last: Last = { id: '', state: 'applied', event: 'applied', prevSeq: 0 };
  for (let i = 1; i <= PROPOSALS; i += 1) {
    const id = `P-${String(i).padStart(7, '0')}`;
    const at = (): string => {
      clock += 1000;
      return new Date(clock).toISOString();
    };
    const base = { proposalId: id, dotId: 'DOT-PG-GRANT-SCHEMA', actionCode: 'DOT-PG-GRANT-DIRECTUS', proposalHash: createHash('sha256').update(id).digest('hex') };
    const createdAt = at();
    const canonical = JSON.stringify({ id, dots: ['DOT-PG-GRANT-SCHEMA'], params: { schema: `sandbox_${i}`, role: 'directus' }, target: 'pg:7000000000000000000/16384/app' });
    const record: ProposalRecord = {
      id,
      dotIds: ['DOT-PG-GRANT-SCHEMA'],
      params: { schema: `sandbox_${i}`, role: 'directus' },
      targetFingerprint: 'pg:7000000000000000000/16384/app',
      canonical,
      hash: base.proposalHash,
      state: 'proposed',
      createdBy: 'alice',
      createdAt,
      expiresAt: new Date(clock + 7 * 86_400_000).toISOString(),
      signature: Buffer.from(`sig-${id}`).toString('base64'),
      content: frozen(i),
    };
    put({ table: 'proposal', values: proposalValues(record) });
    const ev = (event: NewLogEvent['event'], actor: string, detail: Record<string, unknown>, outcome: string | null = null): NewLogEvent => ({ ...base, at: at(), actor, event, outcome, detail });
    const born = setState(id, 'proposed', null, { ...ev('proposed', 'alice', { schema: `sandbox_${i}` }), at: createdAt });
    const approvedAt = at();
    put({
      table: 'decision',
      values: decisionValues({ proposalId: id, kind: 'approve', hashSigned: base.proposalHash, actor: 'bob', signature: 'c2ln', comment: null, at: approvedAt, expiresAt: null }),
    });
    seal({ ...ev('approved', 'bob', {}), at: approvedAt });
    const started = setState(id, 'applying', born, ev('apply_started', 'bob', { pid: 4242, host: 'bench' }));
    for (let k = 0; k < per - 4; k += 1) seal(ev('step_passed', 'bob', { step: 'diff', index: k, sql: `GRANT USAGE ON SCHEMA "sandbox_${i}" TO "directus"`, ms: k % 13 }, 'ok'));
    const end = ending(i);
    if (i === PROPOSALS) last = { id, ...end, prevSeq: started };
    else setState(id, end.state, started, ev(end.event, 'bob', { steps: per - 4 }, end.state === 'applied' ? 'ok' : 'failed'));
    yield* rows;
    rows.length = 0;
  }
  return last;
}

/** The proposal whose last state change `finish` makes. */
interface Last {
  readonly id: string;
  readonly state: ProposalState;
  readonly event: NewLogEvent['event'];
  readonly prevSeq: number;
}

/** The last state change through the store, covered by alice's signed head (what a command leaves). */
async function finish(spec: string, aliceKey: string, last: Last): Promise<void> {
  const ledger: LedgerStore = await openLedger(spec, { mode: 'read' });
  try {
    const key = await loadSigningKey(aliceKey);
    await withSignedHead(
      ledger,
      async () => key,
      async (l) => {
        const event: NewLogEvent = {
          at: new Date().toISOString(),
          actor: 'alice',
          event: last.event,
          proposalId: last.id,
          dotId: 'DOT-PG-GRANT-SCHEMA',
          actionCode: null,
          proposalHash: null,
          outcome: 'ok',
          detail: {},
        };
        const row = await l.transitionProposal(last.id, ['applying'], last.state, event);
        if (row === null) throw new Error(`the last proposal ${last.id} was not applying`);
      },
    );
  } finally {
    await ledger.close();
  }
}

/** A fresh ledger with its genesis registry (dotctl ledger init). */
function init(spec: string, dir: string): { aliceKey: string } {
  const { identities, keys } = makeIdentities(dir);
  cli(spec, ['--identities', identities, ...keys.flatMap((k) => ['--key', k]), 'ledger', 'init']);
  return { aliceKey: keys[0] as string };
}

const headOf = (r: { seq: number | string; hash: string; at: string } | undefined): ChainHead => {
  if (r === undefined) throw new Error('ledger init left an empty log');
  return { seq: Number(r.seq), hash: r.hash, at: r.at };
};

/** Builds (or reuses, under DOTCTL_BENCH_SCALE_KEEP) the SQLite ledger. */
async function buildSqlite(dir: string): Promise<string> {
  const keep = process.env.DOTCTL_BENCH_SCALE_KEEP;
  const home = keep ? join(keep, `scale-${PROPOSALS}-${EVENTS}`) : dir;
  const path = join(home, 'ledger.db');
  if (keep && existsSync(path)) {
    console.log(`SQLite: reusing ${path}`);
    // a ledger kept by an older build is brought to this build's schema, as its first write would
    await (await openLedger(path, { mode: 'write' })).close();
    return path;
  }
  mkdirSync(home, { recursive: true });
  const t = performance.now();
  const { aliceKey } = init(path, home);
  const db = new Database(path);
  // generation is set-up, not measured durability: no journal while the rows go in, WAL again after (as the CLI made it)
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  const ins = (table: string, cols: readonly string[]) => db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
  const stmts = {
    log: ins('dot_action_log', LOG_COLUMNS),
    proposal: ins('dot_proposals', PROPOSAL_COLUMNS),
    state: ins('dot_proposal_states', ['seq', 'proposal_id', 'state', 'prev_seq']),
    decision: ins('dot_decisions', DECISION_COLUMNS),
  };
  const head = headOf(db.prepare('SELECT seq, hash, at FROM dot_action_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string; at: string });
  const last = db.transaction(() => {
    const rows = generate(head, Date.parse(head.at ?? ''));
    for (;;) {
      const r = rows.next();
      if (r.done) return r.value;
      stmts[r.value.table].run(...r.value.values);
    }
  })();
  db.pragma('journal_mode = WAL');
  db.close();
  await finish(path, aliceKey, last);
  console.log(`SQLite: generated ${PROPOSALS.toLocaleString('en-US')} proposals, ${EVENTS.toLocaleString('en-US')} events in ${ms(performance.now() - t)}`);
  return path;
}

/** Builds the PostgreSQL ledger on a scratch database (rows inserted in multi-row batches). */
async function buildPostgres(url: string, dir: string): Promise<void> {
  const t = performance.now();
  const { aliceKey } = init(url, dir);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const head = headOf((await c.query('SELECT seq, hash, at FROM dotctl.dot_action_log ORDER BY seq DESC LIMIT 1')).rows[0]);
    const cols = { log: LOG_COLUMNS, proposal: PROPOSAL_COLUMNS, state: ['seq', 'proposal_id', 'state', 'prev_seq'], decision: DECISION_COLUMNS } as const;
    const table = { log: 'dot_action_log', proposal: 'dot_proposals', state: 'dot_proposal_states', decision: 'dot_decisions' } as const;
    const pending: Record<Row['table'], (readonly (string | number | null)[])[]> = { log: [], proposal: [], state: [], decision: [] };
    const flush = async (k: Row['table']): Promise<void> => {
      const rows = pending[k];
      if (rows.length === 0) return;
      const params: (string | number | null)[] = [];
      const tuples = rows.map((vals) => `(${vals.map((v) => `$${params.push(v)}`).join(', ')})`);
      await c.query(`INSERT INTO dotctl.${table[k]} (${cols[k].join(', ')}) VALUES ${tuples.join(', ')}`, params);
      pending[k] = [];
    };
    await c.query('BEGIN');
    const rows = generate(head, Date.parse(head.at ?? ''));
    let last: Last;
    for (let n = 0; ; n += 1) {
      const r = rows.next();
      if (r.done) {
        last = r.value;
        break;
      }
      pending[r.value.table].push(r.value.values);
      // parents before children (the foreign keys); batches stay under the 65,535 parameters
      if (n % 2000 === 1999) for (const k of ['proposal', 'decision', 'state', 'log'] as const) await flush(k);
    }
    for (const k of ['proposal', 'decision', 'state', 'log'] as const) await flush(k);
    await c.query('COMMIT');
    await c.query('VACUUM ANALYZE dotctl.dot_action_log, dotctl.dot_proposals, dotctl.dot_proposal_states, dotctl.dot_decisions');
    await finish(url, aliceKey, last);
  } finally {
    await c.end();
  }
  console.log(`PostgreSQL: generated ${PROPOSALS.toLocaleString('en-US')} proposals, ${EVENTS.toLocaleString('en-US')} events in ${ms(performance.now() - t)}`);
}

/**
 * CPU time (user + system) of this process's waited-for children so far, from /proc (Linux;
 * null elsewhere): what a command costs whatever else the machine runs, where wall time on a
 * shared machine mostly measures the others. Clock ticks of 10 ms.
 */
function childCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 16 and 17 of stat(5) (cutime, cstime), counted from the state field (3)
    return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Checks the ledger is one `log verify` accepts, then times the commands interleaved. */
function measure(label: string, spec: string): void {
  const v = cli(spec, ['log', 'verify']);
  if (!/^dot_action_log intact/.test(v.stdout)) throw new Error(`log verify did not accept the generated ledger: ${v.stdout}${v.stderr}`);
  console.log(`${label}: log verify accepts it (${ms(v.ms)}): ${v.stdout.trim()}`);
  const contenders: readonly { label: string; args: readonly string[]; goal: boolean }[] = [
    { label: 'node -e 0', args: ['-e', '0'], goal: false },
    { label: 'dotctl status', args: [BIN, '--ledger', spec, 'status'], goal: true },
    { label: 'dotctl proposals', args: [BIN, '--ledger', spec, 'proposals'], goal: true },
    { label: 'dotctl log --limit 50', args: [BIN, '--ledger', spec, 'log', '--limit', '50'], goal: true },
  ];
  const times = contenders.map(() => [] as number[]);
  const cpu = contenders.map(() => [] as number[]);
  for (let i = -WARMUP; i < RUNS; i += 1) {
    contenders.forEach((c, k) => {
      const before = childCpuMs();
      const r = runOk(process.execPath, c.args, { env: { ...process.env, DOTCTL_DEBUG: undefined, DOTCTL_CACHE: 'off' } });
      if (i >= 0) times[k]?.push(r.ms);
      if (i >= 0 && before !== null) cpu[k]?.push((childCpuMs() ?? before) - before);
    });
  }
  const base = median(times[0] as number[]);
  console.log(`${label}, ${PROPOSALS.toLocaleString('en-US')} proposals / ${EVENTS.toLocaleString('en-US')} events, median of ${RUNS} (interleaved, after ${WARMUP} warm-ups)`);
  contenders.forEach((c, k) => {
    const m = median(times[k] as number[]);
    const used = cpu[k]?.length ? `, CPU ${ms(median(cpu[k] as number[]))}` : '';
    line(c.label, ms(m), `${k === 0 ? 'baseline' : `${(m / base).toFixed(2)}x node -e 0`}${used}`);
    if (!c.goal) return;
    const at = `${PROPOSALS.toLocaleString('en-US')} proposals / ${EVENTS.toLocaleString('en-US')} events`;
    judge({ bench: 'ledger-scale', figure: `${label} ${c.label} on ${at}`, goal: `<= ${GOAL_MS} ms`, value: `${ms(m)} (${(m / base).toFixed(2)}x node -e 0 at ${ms(base)})`, met: m <= GOAL_MS });
  });
}

async function main(): Promise<void> {
  ensureBuilt();
  if (!(Number.isSafeInteger(PROPOSALS) && PROPOSALS > 0 && Number.isSafeInteger(EVENTS) && EVENTS >= 4 * PROPOSALS)) {
    throw new Error('DOTCTL_BENCH_SCALE_PROPOSALS must be a positive whole number and DOTCTL_BENCH_SCALE_EVENTS at least 4 times it');
  }
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-bench-scale-'));
  try {
    measure('SQLite', await buildSqlite(dir));
    if (process.env.DOTCTL_BENCH_PG === '1') {
      const db = await createScratchDb('bench_scale');
      try {
        const pgDir = join(dir, 'pg');
        mkdirSync(pgDir);
        await buildPostgres(db.url, pgDir);
        measure('PostgreSQL', db.url);
      } finally {
        await db.drop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
