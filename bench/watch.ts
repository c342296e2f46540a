/**
 * `dotctl watch` on one target:
 *   1. `watch --once` (the built binary, as cron runs it) over 50 applied proposals — D and A on
 *      49 schemas, each with its standing checks — and 2 backup sets of 8 nightly dumps: goal ≤ 2 s.
 *   2. RSS of a long-running watcher over 1,000 cycles with no pause between them (the public
 *      API's `engine.watch().cycle()`, the loop `--every` runs): goal < 5 MB growth after warm-up.
 *
 *   npx tsx bench/watch.ts          (DOTCTL_BENCH_CYCLES to change the 1,000)
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import v8 from 'node:v8';
import vm from 'node:vm';
import { adminClient } from '../test/helpers/pg.js';
import { admitAll } from '../test/helpers/admission.js';
import { addAutomationIdentity } from '../test/watch/listener.js';
import { createEngine } from '../src/index.js';
import { createIncident, dotctl, dotctlOk, preApplyCompanion, proposeApproved } from './incident.js';
import { ensureBuilt, judge, line, median, ms, runsFromEnv, timeRuns } from './lib.js';

const PROPOSALS = 50;
const CYCLES = Number(process.env.DOTCTL_BENCH_CYCLES ?? 1000);
const TRAILER = '\n--\n-- PostgreSQL database dump complete\n--\n\n';

async function backupSet(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const payload = `--\n-- PostgreSQL database dump\n--\n${'COPY public.t (id, v) FROM stdin;\n'}${Array.from({ length: 20_000 }, (_, i) => `${i}\tvalue ${i * 7919}`).join('\n')}\n\\.\n${TRAILER}`;
  const now = Date.now();
  for (let i = 7; i >= 0; i -= 1) {
    const at = new Date(now - i * 86_400_000 - 60_000);
    const path = join(dir, `directus_${at.toISOString().slice(0, 10)}_0000.sql.gz`);
    await writeFile(path, gzipSync(payload));
    await utimes(path, at, at);
  }
}

async function main(): Promise<void> {
  ensureBuilt();
  const inc = await createIncident('bench_watch');
  try {
    admitAll(inc.flags, [inc.reviewer1, inc.reviewer2], inc.dir);
    const c = await adminClient(inc.db.name);
    try {
      for (let k = 2; k <= PROPOSALS - 1; k += 1) {
        await c.query(`CREATE SCHEMA s_${k} AUTHORIZATION "${inc.ownerRole}"; CREATE TABLE s_${k}.t (id int); ALTER TABLE s_${k}.t OWNER TO "${inc.ownerRole}"`);
      }
    } finally {
      await c.end();
    }
    await preApplyCompanion(inc);
    const schemas = ['sandbox_tac', ...Array.from({ length: PROPOSALS - 2 }, (_, i) => `s_${i + 2}`)];
    const t0 = performance.now();
    for (const schema of schemas) dotctlOk(inc, inc.operator2, ['apply', await proposeApproved(inc, ['A'], { schema })]);
    console.log(`applied ${PROPOSALS} proposals (D, A on ${schemas.length} schemas) in ${ms(performance.now() - t0)}`);

    const wally = await addAutomationIdentity(inc.identities);
    const sets = [join(inc.dir, 'sets', 'one'), join(inc.dir, 'sets', 'two')];
    for (const s of sets) await backupSet(s);
    await writeFile(
      join(inc.dir, 'dotctl.yaml'),
      `version: 1\nwatch:\n  backup_sets:\n${sets.map((s, i) => `    - { name: set-${i}, dir: "${s}", pattern: "directus_*.sql.gz", max_age_hours: 26 }`).join('\n')}\n`,
    );
    const first = dotctl(inc, { name: wally.name, key: wally.key }, ['watch', '--once', '--json']);
    const report = JSON.parse(first.stdout) as { checks: { status: string }[]; failing: number };
    if (first.code !== 0) throw new Error(`watch --once exited ${first.code}: ${first.stdout.slice(0, 2000)}\n${first.stderr}`);
    const runs = await timeRuns(runsFromEnv(5), () => {
      const r = dotctl(inc, { name: wally.name, key: wally.key }, ['watch', '--once']);
      if (r.code !== 0) throw new Error(`watch --once exited ${r.code}: ${r.stderr}`);
    });
    const m = median(runs);
    console.log(`watch --once over ${PROPOSALS} applied proposals and ${sets.length} backup sets`);
    line('checks per cycle', String(report.checks.length));
    line('watch --once, whole process (median)', ms(m), `runs: ${runs.map(ms).join(', ')}`);
    judge({ bench: 'watch', figure: `watch --once, ${PROPOSALS} proposals + 2 backup sets`, goal: '<= 2 s', value: ms(m), met: m <= 2000 });

    // the long-running watcher, in this process through the public API
    const engine = createEngine({ catalogue: inc.flags[1]!, ledger: inc.ledger, identities: inc.identities, signer: wally.key, target: inc.db.url });
    const watcher = await engine.watch({
      backupSets: sets.map((dir, i) => ({ name: `set-${i}`, dir, pattern: 'directus_*.sql.gz', maxAgeHours: 26, minPayloadBytes: 1, requireComplete: true, timeFrom: 'mtime' as const })),
      alerts: [],
    });
    // a full collection before each reading, so RSS measures what the watcher keeps, not garbage not yet collected
    v8.setFlagsFromString('--expose_gc');
    const gc = vm.runInNewContext('gc') as () => void;
    for (let i = 0; i < 50; i += 1) await watcher.cycle();
    gc();
    const start = process.memoryUsage().rss;
    const t = performance.now();
    let peak = start;
    const heap0 = process.memoryUsage().heapUsed;
    const samples: string[] = [];
    for (let i = 0; i < CYCLES; i += 1) {
      const r = await watcher.cycle();
      if (r.failing > 0) throw new Error(`cycle ${i}: ${r.failing} failing`);
      peak = Math.max(peak, process.memoryUsage().rss);
      if ((i + 1) % Math.max(1, Math.floor(CYCLES / 10)) === 0) {
        gc();
        const u = process.memoryUsage();
        samples.push(`${i + 1}: rss ${(u.rss / 1048576).toFixed(1)} heap ${(u.heapUsed / 1048576).toFixed(1)}`);
      }
    }
    gc();
    const end = process.memoryUsage().rss;
    const growth = (end - start) / 1048576;
    console.log(`${CYCLES} watch cycles in one process, no pause between them`);
    line('per cycle (mean)', ms((performance.now() - t) / CYCLES));
    line('RSS after 50 warm-up cycles', `${(start / 1048576).toFixed(1)} MiB`);
    line(`RSS after ${CYCLES} more`, `${(end / 1048576).toFixed(1)} MiB`, `peak ${(peak / 1048576).toFixed(1)} MiB`);
    line('JS heap after warm-up → end', `${(heap0 / 1048576).toFixed(1)} → ${(process.memoryUsage().heapUsed / 1048576).toFixed(1)} MiB`);
    console.log(`  samples (MiB, after a full GC): ${samples.join(' · ')}`);
    judge({ bench: 'watch', figure: `RSS growth over ${CYCLES} watch cycles`, goal: '< 5 MB', value: `${growth.toFixed(2)} MiB`, met: growth < 5 });
    const log = dotctlOk(inc, null, ['log', '--event', 'invariant_failed', '--json']).stdout.trim();
    line('invariant events logged while nothing changed', String(log === '' ? 0 : log.split('\n').length));
  } finally {
    await inc.cleanup();
  }
}

await main();
