/**
 * A governed apply of DOT A vs what a user would otherwise run for the same GRANT change:
 * `sqitch deploy --verify` of a Sqitch project holding it, and `psql -1 -f` of its statements.
 *
 *   npx tsx bench/apply.ts            (runs: env DOTCTL_BENCH_RUNS, default 5)
 *
 * Each run gets a fresh incident database (the seed's sandbox_tac, a dump role without USAGE).
 * D, A's required companion, is applied beforehand (not timed), so the timed apply is A alone:
 * gate (signatures, hash recomputed), target lock, 5 hard stops, 6 pre-checks, the 5 GRANT
 * statements and 4 SQL post-verify checks in one transaction, the smoke pg_dump as the dump role,
 * and ~19 chained writes to the SQLite ledger — the whole `dotctl apply` process, start-up included.
 *
 * Sqitch: a project generated into a temp dir with deploy (the same 5 statements), revert (A's
 * rollback) and verify (A's SQL post-verify checks as ASSERTs); its registry is created before
 * timing (`sqitch deploy --to init`), as dotctl's ledger exists before an apply. A cold deploy
 * (registry created in the timed run) is shown for information. psql: `psql -1 -f` of the 5
 * statements. Medians of the runs, all measured in this run.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIncident, dotctl, grantStatements, preApplyCompanion, proposeApproved, psql, type Incident } from './incident.js';
import { ensureBuilt, ensureDebianTools, judge, line, median, ms, run, runsFromEnv } from './lib.js';

const RUNS = runsFromEnv(5);

/** A Sqitch project for the GRANT change, in `dir`. */
function writeSqitchProject(dir: string, s: { diff: string[]; verify: string; revert: string[] }): void {
  for (const d of ['deploy', 'revert', 'verify']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'sqitch.conf'), '[core]\n\tengine = pg\n\tplan_file = sqitch.plan\n\ttop_dir = .\n[user]\n\tname = dotctl bench\n\temail = bench@example.invalid\n');
  writeFileSync(
    join(dir, 'sqitch.plan'),
    '%syntax-version=1.0.0\n%project=dotctl_bench\n\n' +
      'init 2024-05-01T00:00:00Z dotctl bench <bench@example.invalid> # registry warm-up\n' +
      'grant_dump_role [init] 2024-05-01T00:00:01Z dotctl bench <bench@example.invalid> # DOT A: GRANT the dump role read access\n',
  );
  writeFileSync(join(dir, 'deploy', 'init.sql'), 'BEGIN;\nSELECT 1;\nCOMMIT;\n');
  writeFileSync(join(dir, 'revert', 'init.sql'), 'BEGIN;\nSELECT 1;\nCOMMIT;\n');
  writeFileSync(join(dir, 'verify', 'init.sql'), 'SELECT 1;\n');
  writeFileSync(join(dir, 'deploy', 'grant_dump_role.sql'), `BEGIN;\n${s.diff.map((x) => `${x};`).join('\n')}\nCOMMIT;\n`);
  writeFileSync(join(dir, 'revert', 'grant_dump_role.sql'), `BEGIN;\n${s.revert.map((x) => `${x};`).join('\n')}\nCOMMIT;\n`);
  writeFileSync(join(dir, 'verify', 'grant_dump_role.sql'), `${s.verify}\n`);
}

function sqitchTarget(inc: Incident): string {
  return `db:${inc.db.url.replace(/^postgres(ql)?:/, 'pg:')}`;
}

/** Asserts that the incident's dump role now has what A grants (every contender must do the job). */
async function assertGranted(inc: Incident, s: { verify: string }): Promise<void> {
  psql(inc, ['-c', s.verify]);
}

async function withIncident<T>(label: string, fn: (inc: Incident) => Promise<T>): Promise<T> {
  const inc = await createIncident(label);
  try {
    return await fn(inc);
  } finally {
    await inc.cleanup();
  }
}

async function main(): Promise<void> {
  ensureBuilt();
  ensureDebianTools({ sqitch: ['sqitch', 'libdbd-pg-perl'], psql: ['postgresql-client'], pg_dump: ['postgresql-client'] });
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-bench-apply-'));
  try {
    const ours: number[] = [];
    const sqitchWarm: number[] = [];
    const sqitchCold: number[] = [];
    const psqlMs: number[] = [];
    const handMs: number[] = [];

    for (let i = 0; i < RUNS; i += 1) {
      // dotctl
      await withIncident('bench_apply', async (inc) => {
        await preApplyCompanion(inc);
        const id = await proposeApproved(inc, ['A']);
        const r = dotctl(inc, inc.operator2, ['apply', id, '--json']);
        if (r.code !== 0) throw new Error(`dotctl apply exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        ours.push(r.ms);
        await assertGranted(inc, await grantStatements(inc));
      });
      // sqitch, registry made beforehand
      await withIncident('bench_sqitch', async (inc) => {
        const s = await grantStatements(inc);
        const proj = join(dir, `sqitch-${i}`);
        mkdirSync(proj);
        writeSqitchProject(proj, s);
        const init = run('sqitch', ['deploy', '--to', 'init', sqitchTarget(inc)], { cwd: proj });
        if (init.code !== 0) throw new Error(`sqitch deploy --to init exited ${init.code}\n${init.stdout}\n${init.stderr}`);
        const r = run('sqitch', ['deploy', '--verify', sqitchTarget(inc)], { cwd: proj });
        if (r.code !== 0) throw new Error(`sqitch deploy --verify exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        sqitchWarm.push(r.ms);
        await assertGranted(inc, s);
      });
      // sqitch, cold: the registry is created in the timed run
      await withIncident('bench_sqitch_cold', async (inc) => {
        const s = await grantStatements(inc);
        const proj = join(dir, `sqitch-cold-${i}`);
        mkdirSync(proj);
        writeSqitchProject(proj, s);
        const r = run('sqitch', ['deploy', '--verify', sqitchTarget(inc)], { cwd: proj });
        if (r.code !== 0) throw new Error(`sqitch deploy --verify exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        sqitchCold.push(r.ms);
      });
      // psql -1 -f
      await withIncident('bench_psql', async (inc) => {
        const s = await grantStatements(inc);
        const file = join(dir, `grant-${i}.sql`);
        writeFileSync(file, `${s.diff.map((x) => `${x};`).join('\n')}\n`);
        const r = run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-f', file, '-d', inc.db.url]);
        if (r.code !== 0) throw new Error(`psql exited ${r.code}\n${r.stderr}`);
        psqlMs.push(r.ms);
        await assertGranted(inc, s);
      });
      // the same work hand-run: one psql -1 session (hard stops and pre-checks as ASSERTs, the
      // GRANTs, the SQL post-verify as ASSERTs), then the same smoke pg_dump as the dump role
      await withIncident('bench_hand', async (inc) => {
        const s = await grantStatements(inc);
        if (s.smoke.length === 0) throw new Error('A has no smoke pg_dump in its post_verify');
        const file = join(dir, `hand-${i}.sql`);
        writeFileSync(file, `${s.checks}\n${s.diff.map((x) => `${x};`).join('\n')}\n${s.verify}\n`);
        const u = new URL(inc.db.url);
        const libpq = { ...process.env, PGHOST: u.hostname, PGPORT: u.port || '5432', PGUSER: decodeURIComponent(u.username), PGDATABASE: u.pathname.slice(1) };
        const t = performance.now();
        const r = run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-f', file, '-d', inc.db.url]);
        if (r.code !== 0) throw new Error(`hand-run psql exited ${r.code}\n${r.stderr}`);
        const d = run(s.smoke[0] as string, s.smoke.slice(1), { env: libpq });
        if (d.code !== 0) throw new Error(`hand-run smoke ${s.smoke.join(' ')} exited ${d.code}\n${d.stderr}`);
        handMs.push(performance.now() - t);
      });
      process.stdout.write(
        `  run ${i + 1}/${RUNS}: dotctl ${ms(ours.at(-1) ?? 0)}, sqitch ${ms(sqitchWarm.at(-1) ?? 0)} (cold ${ms(sqitchCold.at(-1) ?? 0)}), psql ${ms(psqlMs.at(-1) ?? 0)}, hand-run ${ms(handMs.at(-1) ?? 0)}\n`,
      );
    }

    const o = median(ours);
    const sq = median(sqitchWarm);
    const ps = median(psqlMs);
    const hand = median(handMs);
    console.log(`Apply of DOT A (GRANT, D pre-applied) on a fresh incident database, median of ${RUNS}`);
    line('baseline psql -1 -f (5 statements)', ms(ps));
    line('baseline sqitch deploy --verify (registry made)', ms(sq));
    line('sqitch deploy --verify, cold registry (info)', ms(median(sqitchCold)));
    line('baseline hand-run: psql -1 checks+GRANTs+verify, smoke pg_dump', ms(hand));
    line('dotctl apply (whole process)', ms(o));
    line('ratio dotctl / sqitch', `${(o / sq).toFixed(2)}x`);
    line('ratio dotctl / psql', `${(o / ps).toFixed(2)}x`);
    judge({ bench: 'apply', figure: 'dotctl apply A vs sqitch deploy --verify', goal: '<= 0.5x', value: `${(o / sq).toFixed(2)}x (${ms(o)} vs ${ms(sq)})`, met: o / sq <= 0.5 });
    judge({ bench: 'apply', figure: 'dotctl apply A vs the same work hand-run', goal: '<= 1.5x', value: `${(o / hand).toFixed(2)}x (${ms(o)} vs ${ms(hand)})`, met: o / hand <= 1.5 });
    judge({ bench: 'apply', figure: 'dotctl apply A vs psql -1 -f', goal: '<= 2.5x', value: `${(o / ps).toFixed(2)}x (${ms(o)} vs ${ms(ps)})`, met: o / ps <= 2.5 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
