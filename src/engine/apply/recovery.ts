/**
 * Interrupted runs: what the log says about the last attempt on a proposal, whether its process
 * still lives, and reverting the file changes of an attempt whose transaction did not commit.
 */
import { hostname } from 'node:os';
import type { CheckResult } from '../../exec/checks.js';
import { undoArchive, undoPatch } from '../../exec/undo.js';
import type { LedgerStore, LogRow } from '../../ledger/port.js';
import { failed } from './report.js';
import { bound, type RunContext } from './run.js';

/** A file change an earlier, interrupted attempt recorded in the log. */
export type RecordedChange =
  | { readonly kind: 'patch'; readonly dotId: string; readonly index: number; readonly name: string; readonly file: string; readonly before: string; readonly after: string }
  | { readonly kind: 'archive'; readonly dotId: string; readonly index: number; readonly name: string; readonly path: string; readonly sha256: string };

/** What the log says about the last attempt on a proposal. */
export interface Attempt {
  readonly action: 'apply' | 'rollback';
  readonly start: LogRow;
  /** the SQL transaction it opened, if it got that far */
  readonly xid: string | null;
  /** file changes of every apply attempt of the proposal, in log order */
  readonly changes: readonly RecordedChange[];
}

const detailOf = (e: LogRow): Record<string, unknown> => e.detail as Record<string, unknown>;

/** Reads the last attempt from a proposal's events (null when it was never started). Pure. */
export function attemptFrom(events: readonly LogRow[]): Attempt | null {
  const start = events.filter((e) => e.event === 'apply_started').at(-1);
  if (!start) return null;
  const d = detailOf;
  const xid =
    events
      .filter((e) => e.seq > start.seq && e.event === 'step_passed' && d(e).section === 'transaction' && typeof d(e).xid === 'string')
      .map((e) => d(e).xid as string)
      .at(-1) ?? null;
  const changes: RecordedChange[] = [];
  for (const e of events) {
    const x = d(e);
    if (e.event !== 'step_passed' || x.section !== 'diff' || typeof x.index !== 'number' || !e.dotId) continue;
    const name = String(x.step ?? '');
    if (typeof x.file === 'string' && typeof x.sha256_before === 'string' && typeof x.sha256_after === 'string') {
      changes.push({ kind: 'patch', dotId: e.dotId, index: x.index, name, file: x.file, before: x.sha256_before, after: x.sha256_after });
    } else if (typeof x.archive === 'string' && typeof x.sha256 === 'string') {
      changes.push({ kind: 'archive', dotId: e.dotId, index: x.index, name, path: x.archive, sha256: x.sha256 });
    }
  }
  return { action: d(start).action === 'rollback' ? 'rollback' : 'apply', start, xid, changes };
}

/** The last attempt on a proposal, as the ledger tells it. */
export async function lastAttempt(ledger: LedgerStore, id: string): Promise<Attempt | null> {
  return attemptFrom(await ledger.readEvents({ proposalId: id }));
}

/** Whether the process that started an attempt still runs. */
export type Liveness =
  | { readonly kind: 'alive'; readonly pid: number }
  | { readonly kind: 'dead'; readonly pid: number }
  /** started on another host (or with no pid recorded): cannot be checked from here */
  | { readonly kind: 'unknown' };

/** The one process-liveness check: a process we may not signal (EPERM) is alive. */
export function attemptLiveness(start: LogRow | undefined): Liveness {
  const x = start?.detail as { pid?: unknown; host?: unknown } | undefined;
  const pid = Number(x?.pid);
  if (!Number.isInteger(pid) || pid <= 0 || x?.host !== hostname()) return { kind: 'unknown' };
  if (pid === process.pid) return { kind: 'dead', pid };
  try {
    process.kill(pid, 0);
    return { kind: 'alive', pid };
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? { kind: 'alive', pid } : { kind: 'dead', pid };
  }
}

/** Evidence recorded when the proposal was made: `dot/section/index` → outcome. */
export async function proposedEvidence(ledger: LedgerStore, id: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const [ev] = await ledger.readEvents({ proposalId: id, event: 'proposed', limit: 1 });
  const list = (ev?.detail as { evidence?: { dot: string; section?: string; index?: number; outcome: string }[] } | undefined)?.evidence ?? [];
  for (const e of list) if (e.section !== undefined && e.index !== undefined) out.set(`${e.dot}/${e.section}/${e.index}`, e.outcome);
  return out;
}

async function revertOne(run: RunContext, ch: RecordedChange): Promise<CheckResult> {
  if (ch.kind === 'archive') return undoArchive(ch.path, ch.sha256);
  const dot = run.dots.find((d) => d.spec.id === ch.dotId);
  const step = dot?.spec.diff[ch.index];
  const b = step ? bound(run, step) : null;
  if (b?.kind !== 'patch') return { outcome: 'error', observed: `${ch.dotId} has no patch step ${ch.index} any more`, expected: '' };
  return undoPatch({ file: ch.file, diff: b.diff, reverse: b.reverse, before: ch.before, after: ch.after });
}

/**
 * Reverts the file changes an interrupted attempt recorded (its transaction did not commit):
 * patched files back to their recorded content, unused archives removed. Newest first.
 */
export async function revertRecorded(run: RunContext, changes: readonly RecordedChange[]): Promise<string[]> {
  const left: string[] = [];
  for (const ch of [...changes].reverse()) {
    const dot = run.dots.find((d) => d.spec.id === ch.dotId);
    if (!dot) continue;
    const started = Date.now();
    const r = await revertOne(run, ch);
    await run.journal.record(dot, 'undo', ch.index, `undo (interrupted apply): ${ch.name}`, 'undo', r, started);
    if (failed(r)) left.push(`${dot.spec.id}: could not undo "${ch.name}" of the interrupted apply (${r.observed})`);
  }
  return left;
}
