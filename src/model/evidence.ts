/** Result of one read-only check run at propose time, recorded as evidence in the proposal. */
export interface CheckEvidence {
  readonly dotId: string;
  readonly section: 'hard_stops' | 'pre_check';
  readonly index: number;
  readonly name: string;
  /** `not_run`: the check's program is not installed and the DOT marks it optional_tool */
  readonly outcome: 'passed' | 'failed' | 'error' | 'not_run';
  /** what was observed (row count, value, exit code…), never a secret */
  readonly observed: string;
}

/** What the proposer's read-only run saw on the target. */
export interface Evidence {
  readonly collectedAt: string;
  readonly target: string; // fingerprint
  readonly checks: readonly CheckEvidence[];
}
