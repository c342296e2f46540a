/**
 * Where a `dotctl apply` of DOT A spends its time: sets up a fresh incident (D pre-applied, A
 * proposed and approved), runs the apply under `node --cpu-prof`, and prints the profile summary,
 * the wall time of each step as the report gives it, and the share of the process start-up
 * (module loading) measured with `--cpu-prof` too.
 *
 *   npx tsx bench/profile-apply.ts
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIncident, preApplyCompanion, proposeApproved } from './incident.js';
import { printSummary } from './cpuprofile.js';
import { BIN, ensureBuilt, ms, run } from './lib.js';

ensureBuilt();
const inc = await createIncident('bench_prof');
const dir = mkdtempSync(join(tmpdir(), 'dotctl-prof-'));
try {
  await preApplyCompanion(inc);
  const id = await proposeApproved(inc, ['A']);
  const r = run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200', BIN, ...inc.flags, '--key', inc.operator2.key, 'apply', id, '--json'], {
    cwd: inc.dir,
    env: { ...process.env, DOTCTL_DEBUG: undefined },
  });
  if (r.code !== 0) throw new Error(`apply exited ${r.code}: ${r.stderr}`);
  console.log(`dotctl apply (under --cpu-prof): ${ms(r.ms)}`);
  // the action log's times are the apply's own timeline (ms resolution): show each event's delta
  const log = run(process.execPath, [BIN, ...inc.flags, 'log', '--proposal', id, '--json'], { cwd: inc.dir });
  const events = log.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { at: string; event: string; detail: { step?: string; section?: string } });
  const applyEvents = events.slice(events.findIndex((e) => e.event === 'apply_started'));
  let prev = Date.parse(applyEvents[0]?.at ?? '');
  console.log('  timeline of the apply from its action-log rows (ms since the previous row):');
  for (const e of applyEvents) {
    const t = Date.parse(e.at);
    console.log(`    +${String(t - prev).padStart(4)} ms  ${e.event.padEnd(12)} ${e.detail.section ?? ''} ${e.detail.step ?? ''}`);
    prev = t;
  }
  const span = Date.parse(applyEvents.at(-1)?.at ?? '') - Date.parse(applyEvents[0]?.at ?? '');
  console.log(`  apply_started → applied: ${span} ms; the rest of the ${ms(r.ms)} is start-up, gate and exit`);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file) printSummary(join(dir, file), 25);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await inc.cleanup();
}
