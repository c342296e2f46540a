/**
 * C2's pre-archive (the engine's archiveSchema: pg_dump --format=custom to a temp file, pg_restore
 * --list to verify entries and every table's data, sha256, chmod, rename) vs a raw
 * `pg_dump -Fc` of the same schema, at 10 MB, 100 MB and 1 GB of rows (DOTCTL_BENCH_ARCHIVE_1GB=0
 * leaves out the 1 GB size, which takes several minutes and is measured once unless
 * DOTCTL_BENCH_ARCHIVE_1GB_RUNS says more), and the peak RSS of the engine's process.
 *
 *   npx tsx bench/archive.ts          (runs: env DOTCTL_BENCH_RUNS, default 3)
 *
 * The schema holds 4 tables filled with md5 text (half-compressible, like real rows). The engine
 * runs in a child process (bench/archive-driver.mjs over dist/) whose peak RSS
 * (`process.resourceUsage().maxRSS`) is the figure; pg_dump's own memory is not the engine's.
 * Goals: speed >= 0.9x pg_dump (time ratio pg_dump/engine), peak RSS < 150 MB and flat (the
 * largest size's within 16 MiB of the smallest's).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { adminClient, createScratchDb } from '../test/helpers/pg.js';
import { ensureBuilt, ensureDebianTools, judge, line, median, ms, run, runOk, runsFromEnv } from './lib.js';

const RUNS = runsFromEnv(3);
const TABLES = 4;
const DRIVER = resolve('bench/archive-driver.mjs');
const SIZES: readonly { label: string; mb: number }[] = [
  { label: '10 MB', mb: 10 },
  { label: '100 MB', mb: 100 },
  ...(process.env.DOTCTL_BENCH_ARCHIVE_1GB === '0' ? [] : [{ label: '1 GB', mb: 1024 }]),
];
/** runs of a size: the 1 GB one once unless told otherwise */
const runsOf = (mb: number): number => (mb >= 1024 ? Math.min(RUNS, Number(process.env.DOTCTL_BENCH_ARCHIVE_1GB_RUNS ?? 1)) : RUNS);

/** Fills `schema` with TABLES tables totalling about `mb` MB of heap; returns the exact size. */
async function fill(database: string, schema: string, mb: number): Promise<number> {
  const c = await adminClient(database);
  try {
    // one row is ~ 8 (id) + 4 * 33 (md5 text) + ~28 (tuple header) bytes ≈ 170 bytes on the heap
    const rowsPerTable = Math.ceil((mb * 1024 * 1024) / 170 / TABLES);
    await c.query(`CREATE SCHEMA "${schema}"`);
    for (let t = 1; t <= TABLES; t += 1) {
      await c.query(`CREATE TABLE "${schema}".t${t} (id bigint PRIMARY KEY, a text, b text, c text, d text)`);
      await c.query(`INSERT INTO "${schema}".t${t} SELECT g, md5(g::text), md5((g + 1)::text), md5((g * 7)::text), md5((g * 13 + ${t})::text) FROM generate_series(1, ${rowsPerTable}) g`);
    }
    await c.query('CHECKPOINT');
    const r = await c.query<{ bytes: string }>(
      `SELECT sum(pg_table_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    return Number(r.rows[0]?.bytes ?? 0);
  } finally {
    await c.end();
  }
}

interface DriverOut {
  readonly ms: number;
  readonly maxRssKb: number;
  readonly outcome: { kind: string; message?: string; info?: { bytes: number; tableData: number } };
}

async function main(): Promise<void> {
  ensureBuilt();
  ensureDebianTools({ pg_dump: ['postgresql-client'], pg_restore: ['postgresql-client'] });
  const dir = mkdtempSync(join(tmpdir(), 'dotctl-bench-archive-'));
  const db = await createScratchDb('bench_archive');
  const idle = runOk(process.execPath, ['-e', 'console.log(process.resourceUsage().maxRSS)']);
  const idleRss = Number(idle.stdout.trim()) / 1024;
  const rss: number[] = [];
  try {
    for (const size of SIZES) {
      const schema = `arch_${size.mb}`;
      const bytes = await fill(db.name, schema, size.mb);
      const base: number[] = [];
      const ours: number[] = [];
      const peak: number[] = [];
      let dumpBytes = 0;
      for (let i = 0; i < runsOf(size.mb); i += 1) {
        const raw = join(dir, `raw-${schema}-${i}.dump`);
        const b = run('pg_dump', ['-Fc', '--no-password', '-n', `"${schema}"`, '-f', raw, '-d', db.url]);
        if (b.code !== 0) throw new Error(`pg_dump exited ${b.code}: ${b.stderr}`);
        base.push(b.ms);
        dumpBytes = statSync(raw).size;
        rmSync(raw);

        const to = join(dir, `ours-${schema}-${i}.dump`);
        const r = runOk(process.execPath, [DRIVER, db.url, schema, to, String(TABLES)]);
        const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as DriverOut;
        if (out.outcome.kind !== 'ok') throw new Error(`archiveSchema failed: ${out.outcome.message ?? JSON.stringify(out)}`);
        if (out.outcome.info?.tableData !== TABLES) throw new Error(`the archive holds ${out.outcome.info?.tableData} tables' data, expected ${TABLES}`);
        ours.push(out.ms);
        peak.push(out.maxRssKb / 1024);
        rmSync(to);
      }
      const bm = median(base);
      const om = median(ours);
      const pk = Math.max(...peak);
      rss.push(pk);
      console.log(`Pre-archive of a ${size.label} schema (${(bytes / 1048576).toFixed(0)} MiB of heap, dump ${(dumpBytes / 1048576).toFixed(1)} MiB), median of ${runsOf(size.mb)}`);
      line('baseline pg_dump -Fc', ms(bm));
      line('engine archiveSchema (dump + verify + sha256)', ms(om));
      line('engine process peak RSS', `${pk.toFixed(0)} MiB`, `(an idle node process: ${idleRss.toFixed(0)} MiB)`);
      judge({ bench: 'archive', figure: `${size.label} pre-archive speed vs pg_dump -Fc`, goal: '>= 0.9x', value: `${(bm / om).toFixed(2)}x (${ms(om)} vs ${ms(bm)})`, met: bm / om >= 0.9 });
      judge({ bench: 'archive', figure: `${size.label} engine peak RSS`, goal: '< 150 MB', value: `${pk.toFixed(0)} MiB`, met: pk < 150 });
      const c = await adminClient(db.name);
      await c.query(`DROP SCHEMA "${schema}" CASCADE`).finally(() => c.end());
    }
    const spread = Math.max(...rss) - Math.min(...rss);
    const sizes = `${SIZES[0]?.label} to ${SIZES.at(-1)?.label}`;
    judge({ bench: 'archive', figure: `engine peak RSS flat from ${sizes}`, goal: '(spread < 16 MiB)', value: `${rss.map((x) => x.toFixed(0)).join(' / ')} MiB`, met: spread < 16 });
  } finally {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
