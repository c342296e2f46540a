/**
 * Concurrency on one target, through the built binary:
 *   1. 32 processes apply the same approved proposal at once: exactly one applies, the other 31
 *      are refused (exit 3: "a proposal is applied at most once"), the ledger chain verifies.
 *   2. 8 proposals (DOT A on 8 different schemas of one database) applied in parallel: all
 *      succeed, serialised by the per-target advisory lock (their apply_started → applied spans
 *      in the action log do not overlap), no deadlock.
 *
 *   npx tsx bench/concurrency.ts
 *
 * D (A's companion) is applied first. Every apply waits for the target lock up to 120 s
 * (DOTCTL_LOCK_WAIT_MS) so that queueing, not the default 10 s wait, is measured.
 */
import { spawn } from 'node:child_process';
import { adminClient } from '../test/helpers/pg.js';
import { buildIncident } from '../src/cli/demo/incident.js';
import { createIncident, dotctlOk, preApplyCompanion, proposeApproved, type Incident } from './incident.js';
import { BIN, ensureBuilt, judge, line, ms } from './lib.js';

const LOCK_WAIT_MS = '120000';

interface Exit {
  readonly code: number;
  readonly stderr: string;
}

/** Starts `n` applies at once; resolves with every exit and the wall time. */
async function applyAll(inc: Incident, ids: readonly string[]): Promise<{ exits: Exit[]; wallMs: number }> {
  const t = performance.now();
  const exits = await Promise.all(
    ids.map(
      (id) =>
        new Promise<Exit>((resolve) => {
          const child = spawn(process.execPath, [BIN, ...inc.flags, '--key', inc.operator2.key, 'apply', id], {
            cwd: inc.dir,
            env: { ...process.env, DOTCTL_DEBUG: undefined, DOTCTL_LOCK_WAIT_MS: LOCK_WAIT_MS },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? -1, stderr });
          });
        }),
    ),
  );
  return { exits, wallMs: performance.now() - t };
}

function histogram(exits: readonly Exit[]): string {
  const h = new Map<number, number>();
  for (const e of exits) h.set(e.code, (h.get(e.code) ?? 0) + 1);
  return [...h.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, n]) => `exit ${c} ×${n}`)
    .join(', ');
}

/** The [apply_started, applied] spans (as seq) of proposals in the action log. */
function applySpans(inc: Incident, ids: readonly string[]): { id: string; from: number; to: number }[] {
  return ids.map((id) => {
    // one proposal at a time: small outputs (the CLI cuts stdout past 64 KiB on a pipe today)
    const log = dotctlOk(inc, null, ['log', '--proposal', id, '--json']);
    const mine = log.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; event: string });
    const start = mine.find((r) => r.event === 'apply_started');
    const end = mine.find((r) => r.event === 'applied');
    if (!start || !end) throw new Error(`${id} has no apply_started/applied pair in the log`);
    return { id, from: start.seq, to: end.seq };
  });
}

/** Distinct first lines of the refusals, with counts (numbers and ids blurred). */
function refusals(exits: readonly Exit[]): string {
  const h = new Map<string, number>();
  for (const e of exits.filter((x) => x.code !== 0)) {
    const key = `exit ${e.code}: ${(e.stderr.trim().split('\n')[0] ?? '').replace(/P-\d{8}-[0-9a-f]{6}/g, 'P').slice(0, 160)}`;
    h.set(key, (h.get(key) ?? 0) + 1);
  }
  return [...h.entries()].map(([k, n]) => `    ×${n}  ${k}`).join('\n');
}

async function sameProposal(): Promise<void> {
  const inc = await createIncident('bench_conc1');
  try {
    await preApplyCompanion(inc);
    const id = await proposeApproved(inc, ['A']);
    const { exits, wallMs } = await applyAll(
      inc,
      Array.from({ length: 32 }, () => id),
    );
    const ok = exits.filter((e) => e.code === 0).length;
    // the refusal's wording is the engine's (state applied, or being applied by another process)
    const refused = exits.filter((e) => e.code === 3 && /refused/.test(e.stderr)).length;
    const verify = dotctlOk(inc, null, ['log', 'verify']);
    const applied = dotctlOk(inc, null, ['log', '--proposal', id, '--event', 'applied', '--json']).stdout.trim().split('\n').filter(Boolean).length;
    console.log('32 processes apply the same approved proposal');
    line('wall time, all 32 done', ms(wallMs));
    line('exits', histogram(exits));
    line('applied events in the log', String(applied));
    line('log verify', verify.stdout.trim().slice(0, 40));
    console.log('  refusals:');
    console.log(refusals(exits));
    judge({
      bench: 'concurrency',
      figure: '32 applies of one proposal',
      goal: 'exactly one applies, 31 refused (exit 3)',
      value: `${ok} applied, ${refused} refused, ${applied} applied event(s), ${ms(wallMs)}`,
      met: ok === 1 && refused === 31 && applied === 1,
    });
  } finally {
    await inc.cleanup();
  }
}

async function eightSchemas(): Promise<void> {
  const inc = await createIncident('bench_conc8');
  try {
    const c = await adminClient(inc.db.name);
    try {
      for (let k = 2; k <= 8; k += 1) {
        await buildIncident(c, { database: inc.db.name, schema: `sandbox_tac_${k}`, ownerRole: inc.ownerRole, dumpRole: inc.dumpRole });
      }
    } finally {
      await c.end();
    }
    await preApplyCompanion(inc);
    const schemas = ['sandbox_tac', ...Array.from({ length: 7 }, (_, i) => `sandbox_tac_${i + 2}`)];
    const ids: string[] = [];
    for (const schema of schemas) ids.push(await proposeApproved(inc, ['A'], { schema }));
    const { exits, wallMs } = await applyAll(inc, ids);
    const spans = applySpans(inc, ids).sort((a, b) => a.from - b.from);
    const overlaps = spans.filter((s, i) => i > 0 && s.from < (spans[i - 1]?.to ?? 0)).length;
    const verify = dotctlOk(inc, null, ['log', 'verify']);
    console.log('8 proposals (A on 8 schemas) applied in parallel on one target');
    line('wall time, all 8 done', ms(wallMs));
    line('exits', histogram(exits));
    line('overlapping apply spans in the log', String(overlaps));
    line('log verify', verify.stdout.trim().slice(0, 40));
    const bad = exits.find((e) => e.code !== 0);
    if (bad) console.log(`  a failed apply: exit ${bad.code}: ${bad.stderr.trim().split('\n')[0]}`);
    judge({
      bench: 'concurrency',
      figure: '8 parallel applies on one target',
      goal: 'all succeed, serialised, no deadlock',
      value: `${exits.filter((e) => e.code === 0).length}/8 applied, ${overlaps} overlaps, ${ms(wallMs)} wall`,
      met: exits.every((e) => e.code === 0) && overlaps === 0,
    });
  } finally {
    await inc.cleanup();
  }
}

ensureBuilt();
await sameProposal();
await eightSchemas();
