/**
 * The journal of a run: every step's report line and, when the run is live, its row in the
 * action log (which fails closed). Tests may inject `afterStep`, called at the boundary right
 * after a step was recorded (the kill-point suite stops the process there); the shipped CLI
 * injects nothing, and no environment variable can.
 */
import type { ValidDot } from '../../catalogue/validate.js';
import type { EffectResult } from '../../exec/effects.js';
import type { LedgerStore, NewLogEvent } from '../../ledger/port.js';
import { failed, type StepReport } from './report.js';
import { stepKey } from './plan.js';

/** Hooks a caller may inject into a run (tests only, by construction: nothing reads them from the environment). */
export interface RunHooks {
  /** called with the step's key (`<DOT>/<section>/<index>`) after the step was recorded */
  readonly afterStep?: (key: string) => Promise<void>;
}

/** Builds a log event of the run's proposal. */
export type EventOf = (kind: NewLogEvent['event'], outcome: string | null, detail: Record<string, unknown>, dot?: ValidDot) => NewLogEvent;

/**
 * One run's journal. A live run's rows are written in as few durable writes as the kill-point
 * guarantee allows: a step's row is durable before the next step's effect. Rows of steps that
 * change nothing outside an open transaction (hard stops, pre-checks, post-verify, SQL inside the
 * transaction, its COMMIT) are `deferred`: kept until `flush`, which the phases call before the
 * next effect (a step outside the transaction, the first SQL change, the witness and COMMIT, the
 * end of the run). Every other row is written at once, together with the rows deferred before it.
 */
export class Journal {
  readonly steps: StepReport[] = [];
  private pending: NewLogEvent[] = [];

  constructor(
    private readonly ledger: LedgerStore,
    /** live runs write every step to the action log; rehearsals only report */
    private readonly live: boolean,
    readonly event: EventOf,
    private readonly hooks: RunHooks = {},
  ) {}

  /**
   * Records a step that started at `started` (ms) and ended with `r`: written at once (with the
   * rows deferred before it), or kept until the next `flush` when `deferred`.
   */
  async record(dot: ValidDot, section: StepReport['section'], index: number, name: string, kind: string, r: EffectResult, started: number, deferred = false): Promise<StepReport> {
    const outcome: StepReport['outcome'] = r.skipped ? 'skipped' : r.alreadyApplied ? 'already_applied' : r.outcome;
    const rep: StepReport = { dotId: dot.spec.id, section, index, name, kind, outcome, observed: r.observed, expected: r.expected, ms: Date.now() - started };
    this.steps.push(rep);
    if (this.live) {
      this.pending.push(
        this.event(failed(rep) ? 'step_failed' : 'step_passed', outcome, { section, index, step: name, kind, observed: r.observed, expected: r.expected, ms: rep.ms, ...(r.detail ?? {}) }, dot),
      );
      if (!deferred) await this.flush();
    }
    await this.hooks.afterStep?.(stepKey(dot.spec.id, section, index));
    return rep;
  }

  /** Writes the deferred rows, in one transaction; a no-op when there are none. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    if (rows.length === 1) await this.ledger.appendEvent(rows[0]!);
    else await this.ledger.appendEvents(rows);
  }

  /** The last failed step, in words (for the run's message). */
  lastFailure(): string {
    const s = this.steps.filter((x) => failed(x)).at(-1);
    if (!s) return 'a step failed';
    if (s.section === 'transaction') return `the transaction of ${s.dotId} failed at ${s.name}: ${s.observed}`;
    const what = s.section === 'post_verify' ? 'post-verify' : 'diff step';
    return `${what} "${s.name}" of ${s.dotId} failed: ${s.observed}`;
  }
}
