/**
 * The ledger commands as a user runs them: `dotctl log`, `log verify`, `proposals`, `status`,
 * through the real entry point (src/cli/main.ts under tsx), checking exit codes and output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openLedger } from '../../src/ledger/open.js';
import type { LogRow } from '../../src/ledger/port.js';
import { hasStackTrace } from '../helpers/cli.js';
import { createScratchDb, type ScratchDb } from '../helpers/pg.js';
import { approval, ev, proposal, proposedEvent } from './helpers.js';
import { toSnakeKeys } from '../../src/cli/json-out.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function dotctl(args: readonly string[], env: Record<string, string | undefined> = {}): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DOTCTL_DEBUG: undefined, DOTCTL_LEDGER: undefined, ...env } as NodeJS.ProcessEnv,
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function assertExit(r: Run, code: number): void {
  assert.equal(r.code, code, `exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(hasStackTrace(r.stderr), false, `stack trace on stderr: ${r.stderr}`);
}

const dir = mkdtempSync(join(tmpdir(), 'dotctl-ledger-cli-'));
const ledgerPath = join(dir, '.dotctl', 'ledger.db');
const P1 = proposal('P-2024-0001-grant');
const P2 = proposal('P-2024-0002-drop', { dotIds: ['DOT-PG-DROP-SCHEMA'], hash: 'hash-2', createdAt: '2024-05-01T09:00:00.000Z' });
let rows: readonly LogRow[] = [];

before(async () => {
  const l = await openLedger(ledgerPath);
  try {
    await l.putProposal(P1, proposedEvent(P1, 1));
    await l.addDecision(
      approval(P1, 'bob', { comment: 'ok for the backup' }),
      ev({ i: 2, actor: 'bob', event: 'approved', proposalId: P1.id, dotId: 'DOT-PG-GRANT-SCHEMA', actionCode: 'DOT-PG-GRANT-DIRECTUS', proposalHash: P1.hash }),
    );
    await l.putProposal(P2, proposedEvent(P2, 3));
    await l.transitionProposal(
      P1.id,
      ['proposed'],
      'applied',
      ev({
        i: 4,
        actor: 'carol',
        event: 'applied',
        proposalId: P1.id,
        dotId: 'DOT-PG-GRANT-SCHEMA',
        actionCode: 'DOT-PG-GRANT-DIRECTUS',
        detail: { steps: ['pre-check', 'diff', 'post-verify'], sql: 'GRANT USAGE ON SCHEMA sandbox_tac TO directus; '.repeat(3) },
      }),
    );
    rows = await l.readEvents();
  } finally {
    await l.close();
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('dotctl log', () => {
  test('prints an aligned table, oldest first, with a truncated detail', () => {
    const r = dotctl(['--ledger', ledgerPath, 'log']);
    assertExit(r, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^SEQ\s+TIME\s+ACTOR\s+EVENT\s+PROPOSAL\s+DOT\s+ACTION CODE\s+OUTCOME\s+DETAIL$/);
    assert.equal(lines.length, 1 + rows.length);
    assert.match(lines[4] ?? '', /^4\s+2024-05-01T08:04:00\.000Z\s+carol\s+applied\s+P-2024-0001-grant\s+DOT-PG-GRANT-SCHEMA\s+DOT-PG-GRANT-DIRECTUS\s+ok\s+\{"sql"/);
    assert.ok((lines[4] ?? '').endsWith('…'), 'a long detail is truncated');
    // Aligned: every row's EVENT column starts where the header's does.
    const col = (lines[0] ?? '').indexOf('EVENT');
    for (const l of lines.slice(1)) assert.match(l.slice(col), /^(proposed|approved|applied) /);
  });

  test('--json prints one JSON object per line, every field of the row', () => {
    const r = dotctl(['--ledger', ledgerPath, 'log', '--json']);
    assertExit(r, 0);
    const parsed = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // the README's column names: snake_case, one convention for every JSON output
    assert.deepEqual(Object.keys(parsed[0] ?? {}), ['seq', 'at', 'actor', 'event', 'proposal_id', 'dot_id', 'action_code', 'proposal_hash', 'outcome', 'detail', 'prev_hash', 'hash']);
    assert.deepEqual(parsed, toSnakeKeys(rows));
  });

  test('filters by proposal, actor, event, since and limit', () => {
    const seqs = (...args: string[]): number[] => {
      const r = dotctl(['--ledger', ledgerPath, 'log', '--json', ...args]);
      assertExit(r, 0);
      return r.stdout
        .trimEnd()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as LogRow).seq);
    };
    assert.deepEqual(seqs('--proposal', P1.id), [1, 2, 4]);
    assert.deepEqual(seqs('--actor', 'bob'), [2]);
    assert.deepEqual(seqs('--event', 'proposed', '--dot', 'DOT-PG-DROP-SCHEMA'), [3]);
    assert.deepEqual(seqs('--since', '2024-05-01T10:03:00+02:00'), [3, 4]);
    assert.deepEqual(seqs('--limit', '2'), [3, 4]);
    assert.deepEqual(seqs('--actor', 'nobody'), []);
  });

  test('bad --since, --limit or --event is exit 2 naming the option', () => {
    for (const [args, name] of [
      [['--since', 'yesterday'], '--since'],
      [['--limit', 'ten'], '--limit'],
      [['--limit', '0'], '--limit'],
      [['--event', 'deleted'], '--event'],
    ] as const) {
      const r = dotctl(['--ledger', ledgerPath, 'log', ...args]);
      assertExit(r, 2);
      assert.match(r.stderr, new RegExp(`^dotctl: ${name} "`));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line');
    }
  });

  test('the ledger can come from DOTCTL_LEDGER', () => {
    const r = dotctl(['log', '--limit', '1'], { DOTCTL_LEDGER: ledgerPath });
    assertExit(r, 0);
    assert.match(r.stdout, /^SEQ/);
    assert.match(r.stdout, /\n4 /);
  });
});

describe('dotctl proposals and status', () => {
  test('proposals lists every proposal; --state filters; --json is an array of records', () => {
    const all = dotctl(['--ledger', ledgerPath, 'proposals']);
    assertExit(all, 0);
    assert.match(all.stdout, /^ID\s+STATE\s+DOTS/);
    assert.match(all.stdout, /P-2024-0001-grant\s+applied\s+DOT-PG-GRANT-SCHEMA,DOT-BACKUP-SCRIPT-HARDEN\s+alice/);
    assert.match(all.stdout, /P-2024-0002-drop\s+proposed\s+DOT-PG-DROP-SCHEMA/);
    const proposed = dotctl(['--ledger', ledgerPath, 'proposals', '--state', 'proposed', '--json']);
    assertExit(proposed, 0);
    assert.deepEqual(JSON.parse(proposed.stdout), toSnakeKeys([P2]));
    const none = dotctl(['--ledger', ledgerPath, 'proposals', '--state', 'rolled_back']);
    assertExit(none, 0);
    assert.equal(none.stdout, 'no proposals in state rolled_back\n');
    assertExit(dotctl(['--ledger', ledgerPath, 'proposals', '--state', 'done']), 2);
  });

  test('proposals --limit N shows the latest N and says older ones exist; --all shows every one; both at once is exit 2', () => {
    const one = dotctl(['--ledger', ledgerPath, 'proposals', '--limit', '1']);
    assertExit(one, 0);
    assert.match(one.stdout, /^ID\s+STATE\s+DOTS.*\nP-2024-0002-drop\s+proposed\s+DOT-PG-DROP-SCHEMA.*\n\(the latest 1 shown; older ones exist: --limit N shows more, --all every one\)\n$/);
    const all = dotctl(['--ledger', ledgerPath, 'proposals', '--all']);
    assertExit(all, 0);
    assert.equal(all.stdout.trimEnd().split('\n').length, 3, all.stdout);
    assert.doesNotMatch(all.stdout, /older ones exist/);
    const json = dotctl(['--ledger', ledgerPath, 'proposals', '--limit', '1', '--json']);
    assertExit(json, 0);
    assert.deepEqual(JSON.parse(json.stdout), toSnakeKeys([P2]));
    for (const args of [
      ['--limit', '1', '--all'],
      ['--limit', '0'],
      ['--limit', 'many'],
    ]) {
      const r = dotctl(['--ledger', ledgerPath, 'proposals', ...args]);
      assertExit(r, 2);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line');
      assert.match(r.stderr, /^dotctl: --limit /);
    }
  });

  test('proposals shows the latest 50 by default on a bigger ledger; status without a proposal counts them per state', async () => {
    const big = join(dir, 'big', 'ledger.db');
    const l = await openLedger(big);
    try {
      for (let i = 1; i <= 53; i += 1) {
        const p = proposal(`P-${String(i).padStart(3, '0')}`, { content: { files: { 'DOT-A.yaml': 'x'.repeat(2000) }, hashes: {} } });
        await l.putProposal(p, proposedEvent(p, i));
        if (i % 10 === 0) await l.transitionProposal(p.id, ['proposed'], 'withdrawn', ev({ i, event: 'withdrawn', proposalId: p.id }));
      }
    } finally {
      await l.close();
    }
    const page = dotctl(['--ledger', big, 'proposals']);
    assertExit(page, 0);
    const lines = page.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 52, page.stdout); // header, 50 proposals, the note
    assert.match(lines[1] ?? '', /^P-004\s/);
    assert.match(lines[50] ?? '', /^P-053\s/);
    assert.match(lines[51] ?? '', /^\(the latest 50 shown; older ones exist/);
    const st = dotctl(['--ledger', big, 'status']);
    assertExit(st, 0);
    assert.match(st.stdout, /^proposals {2}53 \(proposed 48, withdrawn 5\)\naction log {2}58 rows, the last at \S+ \(proposed\); dotctl log verify re-proves it\n\nlatest 5\n {2}ID\s+STATE/);
    assert.match(st.stdout, /\n {2}P-053\s+proposed\s+DOT-PG-GRANT-SCHEMA,DOT-BACKUP-SCRIPT-HARDEN\s+alice.*\n$/);
    const json = dotctl(['--ledger', big, 'status', '--json']);
    assertExit(json, 0);
    const doc = JSON.parse(json.stdout) as { counts: Record<string, number>; total: number; latest: { id: string }[]; head: { seq: number } };
    assert.deepEqual(doc.counts, { proposed: 48, withdrawn: 5 });
    assert.equal(doc.total, 53);
    assert.deepEqual(
      doc.latest.map((p) => p.id),
      ['P-049', 'P-050', 'P-051', 'P-052', 'P-053'],
    );
    assert.equal(doc.head.seq, 58);
  });

  test('status shows the proposal, its decisions and its events', () => {
    const r = dotctl(['--ledger', ledgerPath, 'status', P1.id]);
    assertExit(r, 0);
    assert.match(r.stdout, /^proposal\s+P-2024-0001-grant\nstate\s+applied\n/);
    assert.match(r.stdout, /decisions \(1\)\n\s+AT\s+DECISION\s+BY\s+COVERS.*\n\s+2024-05-01T08:05:00\.000Z\s+approve\s+bob\s+this hash\s+.*ok for the backup/);
    assert.match(r.stdout, /events \(3\)\n/);
    const json = dotctl(['--ledger', ledgerPath, 'status', P1.id, '--json']);
    assertExit(json, 0);
    const doc = JSON.parse(json.stdout) as { proposal: unknown; decisions: unknown[]; events: LogRow[] };
    assert.deepEqual(doc.proposal, toSnakeKeys({ ...P1, state: 'applied' }));
    assert.equal(doc.decisions.length, 1);
    assert.deepEqual(
      doc.events.map((e) => e.seq),
      [1, 2, 4],
    );
  });

  test('status of an unknown proposal is exit 2 with one clear sentence', () => {
    const r = dotctl(['--ledger', ledgerPath, 'status', 'P-nope']);
    assertExit(r, 2);
    assert.equal(r.stderr, `dotctl: unknown proposal "P-nope" in the ledger ${ledgerPath}; list proposals with \`dotctl proposals\`\n`);
  });
});

describe('dotctl log verify', () => {
  test('an intact ledger: exit 0 and one line with the row count and head hash', () => {
    const r = dotctl(['--ledger', ledgerPath, 'log', 'verify']);
    assertExit(r, 0);
    // rows written around dotctl, with no identity registry: the chain holds, nothing is signed
    assert.equal(
      r.stdout,
      `dot_action_log intact: ${rows.length} rows, head ${rows[rows.length - 1]?.hash}; no identity registry: all ${rows.length} rows are legacy, unsigned (dotctl ledger upgrade signs from then on)\n`,
    );
    const json = dotctl(['--ledger', ledgerPath, 'log', 'verify', '--json']);
    assertExit(json, 0);
    assert.deepEqual(JSON.parse(json.stdout), {
      kind: 'intact',
      rows: rows.length,
      head_hash: rows[rows.length - 1]?.hash,
      signed_through: 0,
      unsigned_tail: 0,
      tail_actors: [],
      legacy_rows: rows.length,
      heads: 0,
      registry: false,
    });
  });

  test('a tampered ledger: exit 7 naming the first broken row and why', () => {
    const copy = join(dir, 'tampered.db');
    const src = new Database(ledgerPath, { readonly: true });
    src.exec(`VACUUM INTO '${copy.replace(/'/g, "''")}'`);
    src.close();
    const raw = new Database(copy);
    raw.exec(`DROP TRIGGER dot_action_log_no_update; UPDATE dot_action_log SET outcome = 'failed' WHERE seq = 2`);
    raw.close();

    const r = dotctl(['--ledger', copy, 'log', 'verify']);
    assertExit(r, 7);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^dotctl: dot_action_log is broken at seq 2: row 2 was edited after it was written .*; restore the ledger from a backup/);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line');
    const json = dotctl(['--ledger', copy, 'log', 'verify', '--json']);
    assertExit(json, 7);
    assert.deepEqual((({ kind, seq, reason, rows: n }) => ({ kind, seq, reason, rows: n }))(JSON.parse(json.stdout) as Record<string, unknown>), {
      kind: 'broken',
      seq: 2,
      reason: 'hash_mismatch',
      rows: 1,
    });
  });
});

describe('a ledger that does not exist yet', () => {
  test('every read command says so (exit 2) and creates nothing', () => {
    const missing = join(dir, 'nowhere', 'ledger.db');
    for (const args of [['log'], ['log', 'verify'], ['proposals'], ['status', 'P-1']]) {
      const r = dotctl(['--ledger', missing, ...args]);
      assertExit(r, 2);
      assert.match(r.stderr, /^dotctl: no ledger at .*nowhere\/ledger\.db yet \(the file does not exist\); .*check --ledger/);
    }
    assert.equal(existsSync(join(dir, 'nowhere')), false);
  });
});

describe('an in-memory ledger on the command line', () => {
  test('is refused (exit 2): it would be lost when dotctl exits', () => {
    for (const env of [{}, { DOTCTL_LEDGER: 'memory:team' }]) {
      const flag = 'DOTCTL_LEDGER' in env ? [] : ['--ledger', 'memory:team'];
      const r = dotctl([...flag, 'proposals'], env);
      assertExit(r, 2);
      assert.match(
        r.stderr,
        /^dotctl: --ledger memory:team names an in-memory ledger, which is lost when dotctl exits; point --ledger \(or DOTCTL_LEDGER\) at a SQLite file or a postgres:\/\/ URL\n$/,
      );
    }
  });
});

describe('dotctl log verify on a PostgreSQL ledger', () => {
  let db: ScratchDb;
  before(async () => {
    db = await createScratchDb('ledger_cli');
    const l = await openLedger(db.url);
    try {
      await l.putProposal(P1, proposedEvent(P1, 1));
      await l.appendEvent(ev({ i: 2, actor: 'bob', event: 'approved', proposalId: P1.id }));
    } finally {
      await l.close();
    }
  });
  after(() => db?.drop());

  test('verifies and lists through a postgres:// URL', () => {
    const v = dotctl(['--ledger', db.url, 'log', 'verify']);
    assertExit(v, 0);
    assert.match(v.stdout, /^dot_action_log intact: 2 rows, head [0-9a-f]{64}; no identity registry: all 2 rows are legacy, unsigned \(dotctl ledger upgrade signs from then on\)\n$/);
    const log = dotctl(['--ledger', db.url, 'log', '--json']);
    assertExit(log, 0);
    assert.equal(log.stdout.trimEnd().split('\n').length, 2);
  });
});
