/**
 * `dotctl watch`: `--once` for cron (exit 0 when every standing check holds, 4 when one fails),
 * `--every 5m` as a long-running process that stops cleanly on SIGINT/SIGTERM. A failing
 * endpoint, a database that is down or a cycle that errs is reported in one sentence and the
 * watch goes on.
 */
import type { Command } from 'commander';
import type { WatchReport } from '../../engine.js';
import { action, alignColumns, engineFor, ExitSignal, globalOptions, out, outJson, outJsonLine } from '../context.js';
import { InputError } from '../../engine.js';

/** `30s`, `5m`, `1h`, `250ms` → milliseconds, or null. */
export function parseInterval(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return ms >= 10 && ms <= 7 * 24 * 3_600_000 ? Math.round(ms) : null;
}

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The report as lines a person reads: a table of checks, then what changed, was sent and drafted. */
export function formatWatchReport(r: WatchReport, full = true): string[] {
  const lines: string[] = [];
  if (full) {
    lines.push(
      ...alignColumns([
        ['STATUS', 'KIND', 'CHECK', 'PROPOSAL', 'OBSERVED'],
        ...r.checks.map((c) => [c.status === 'failing' ? 'FAILING' : c.status, c.kind, clip(c.name, 60), c.proposalId ?? '-', clip(c.observed, 200)]),
      ]),
    );
    if (r.checks.length === 0) lines.push('nothing to watch: no applied proposal with standing checks, no governed file, no backup set in dotctl.yaml');
  }
  for (const c of r.changes) lines.push(`${c.event === 'invariant_failed' ? 'FAILING now' : 'holds again'}: ${c.name} (logged ${c.event}, seq ${c.seq})`);
  for (const a of r.alerts) lines.push(a.ok ? `alert: pushed ${a.status.toUpperCase()} to ${a.kind} ${a.endpoint}` : `alert not delivered: ${a.error}`);
  for (const d of r.drafted)
    lines.push(
      d.proposalId
        ? `drafted ${d.proposalId}: ${d.dotId} with ${Object.entries(d.params)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}; a reviewer approves it and an operator applies it (the watch never does)`
        : `not drafted: ${d.error}`,
    );
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push(`watch at ${r.at} as ${r.actor}: ${r.checks.length} check(s), ${r.failing} failing${r.target ? ` (target ${r.target})` : ''}`);
  return lines;
}

/** Registers `watch`. */
export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('run every standing check — invariants of applied proposals, governed files, backup sets — and on a change of state log it, alert and draft the fix')
    .option('--once', 'one cycle, then exit: 0 when every check holds, 4 when one fails (for cron; the default)')
    .option('--every <interval>', 'a cycle every interval (30s, 5m, 1h) until SIGINT or SIGTERM')
    .option('--json', 'the report as JSON (with --every: one JSON line per cycle)')
    .action(
      action(async (opts: { once?: boolean; every?: string; json?: boolean }, cmd: Command) => {
        if (opts.once === true && opts.every !== undefined) throw new InputError('give --once or --every INTERVAL, not both');
        const interval = opts.every === undefined ? null : parseInterval(opts.every);
        if (opts.every !== undefined && interval === null) throw new InputError(`--every ${JSON.stringify(opts.every)} is not an interval; write e.g. 30s, 5m or 1h (at least 10ms)`);
        const g = await globalOptions(cmd);
        const watcher = await (await engineFor(cmd)).watch(g.workspace?.watch);
        if (interval === null) {
          const r = await watcher.cycle();
          if (opts.json === true) outJson({ ...r, exitCode: r.failing > 0 ? 4 : 0 });
          else for (const l of formatWatchReport(r)) out(l);
          if (r.failing > 0) throw new ExitSignal(4);
          return;
        }
        await loop(interval, opts.json === true, () => watcher.cycle());
      }),
    );
}

/** Cycles until SIGINT/SIGTERM; prints the full report first, then only what changed. */
async function loop(interval: number, json: boolean, cycle: () => Promise<WatchReport>): Promise<void> {
  let stopping = false;
  let wake: (() => void) | null = null;
  const stop = (): void => {
    stopping = true;
    wake?.();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let first = true;
  let lastError = '';
  try {
    while (!stopping) {
      try {
        const r = await cycle();
        lastError = '';
        if (first || r.changes.length > 0 || r.drafted.length > 0 || r.alerts.some((a) => !a.ok)) {
          if (json) outJsonLine(r);
          else for (const l of formatWatchReport(r, first || r.changes.length > 0)) out(l);
        }
        first = false;
      } catch (err) {
        // the watch goes on: one sentence, once per distinct error
        const msg = (err as Error).message ?? String(err);
        if (msg !== lastError) process.stderr.write(`dotctl: watch cycle failed: ${msg}; trying again in ${interval} ms\n`);
        lastError = msg;
      }
      if (stopping) break;
      await new Promise<void>((res) => {
        const t = setTimeout(res, interval);
        wake = () => {
          clearTimeout(t);
          res();
        };
      });
      wake = null;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  process.stderr.write('dotctl: watch stopped\n');
}
