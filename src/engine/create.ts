/**
 * `createEngine`: the library's entry. It takes the parts as objects — a validated catalogue
 * (`loadCatalogue`), an open ledger store (`openLedger`), the identities, the acting key, a clock —
 * and returns the operations bound to them. The CLI builds the same engine from flags and the
 * environment (giving paths, loaded on first use).
 */
import type { Catalogue } from '../catalogue/validate.js';
import type { SigningKey } from '../gate/keys.js';
import type { Identity } from '../gate/identities.js';
import type { LedgerStore, LogRow, ProposalRecord, ProposalState } from '../ledger/port.js';
import type { LogVerdict as SignedLogVerdict } from './signed-history.js';
import type { RegistryChangeResult, RegistryReport } from './registry-changes.js';
import type { ApplyReport } from './apply/report.js';
import type { RunHooks } from './apply/journal.js';
import type { LogOptions } from './audit.js';
import type { AdmissionStatus, AdmitResult } from './admission.js';
import type { DecisionResult, ProposalStatus, ProposeResult } from './governance.js';
import type { EngineOptions, Progress } from './options.js';
import type { ParamDefaults } from '../catalogue/params.js';
import type { ProofOptions, RollbackProof } from './rollback-proof.js';
import type { WithdrawResult } from './withdraw.js';
import type { Checkpoint, CheckpointReport, TargetReport } from './checkpoint.js';
import type { Watcher } from './watch/index.js';
import type { WatchSettings } from '../catalogue/watch-config.js';

/** What `verifyLog` cross-checks besides the chain. */
export interface VerifyLogOptions {
  /** the target whose witness to compare with the ledger: a postgres:// URL, or true for the engine's target */
  readonly target?: string | true;
  /** a checkpoint (or its file) the ledger must still contain */
  readonly checkpoint?: Checkpoint | string;
}

/** The chain's verdict and, when asked, what the target's witness and a checkpoint say. */
export type LogVerdict = SignedLogVerdict & { readonly target?: TargetReport; readonly checkpoint?: CheckpointReport };

/** The parts an engine is made of. */
export interface EngineDeps {
  /** the validated catalogue (or its directory) */
  readonly catalogue: Catalogue | string;
  /** an open ledger store, closed by the caller (or its path / postgres:// URL) */
  readonly ledger: LedgerStore | string;
  /** ignored: who may act is the ledger's identity registry (initLedger, changeRegistry); accepted so callers need not change */
  readonly identities?: readonly Identity[] | string;
  /** the key the engine acts with (or its file); the acting identity is derived from it */
  readonly signer?: SigningKey | string;
  /** the target's postgres:// URL (else libpq's PG* variables in `env`) */
  readonly target?: string;
  /** the clock the engine stamps and judges with (default: the system clock) */
  readonly clock?: () => Date;
  /** progress of long steps (archives) */
  readonly onProgress?: (p: Progress) => void;
  /** environment for libpq variables and secret parameters (default: process.env) */
  readonly env?: NodeJS.ProcessEnv;
  /** where rendered proposals are written (default ./proposals) */
  readonly proposalsDir?: string;
  /** how long an apply waits for another apply on the same target, in ms */
  readonly lockWaitMs?: number;
  /** parameter values an environment knows (a workspace's `environments.<name>.params`); `-p` wins */
  readonly paramDefaults?: ParamDefaults;
  /** test hooks (the kill-point suite); leave unset */
  readonly hooks?: RunHooks;
  /** a private directory caching validated catalogues loaded from `catalogue` (see catalogue/cache.ts); unset: none */
  readonly catalogueCache?: string;
}

/** The operations of an engine. */
export interface Engine {
  /** Proposes a bundle of DOTs (ids or option labels) with `name=value` parameters. */
  propose(dots: readonly string[], params?: readonly string[], opts?: { offline?: boolean; out?: string }): Promise<ProposeResult>;
  approve(id: string, comment?: string): Promise<DecisionResult>;
  reject(id: string, reason: string): Promise<DecisionResult>;
  /** Applies (or with `dryRun` rehearses) an approved proposal. */
  apply(id: string, opts?: { dryRun?: boolean }): Promise<ApplyReport>;
  rollback(id: string): Promise<ApplyReport>;
  status(id: string): Promise<ProposalStatus>;
  proposals(state?: ProposalState): Promise<readonly ProposalRecord[]>;
  log(filter?: LogOptions): Promise<readonly LogRow[]>;
  /** Re-proves the chain; with `target` / `checkpoint`, also cross-checks the target's witness and a checkpoint (their problems listed, none thrown). */
  verifyLog(opts?: VerifyLogOptions): Promise<LogVerdict>;
  /** Exports a signed checkpoint of the ledger's head with the signer's key (any known identity); `out` also writes it to that new file. */
  checkpoint(opts?: { out?: string }): Promise<Checkpoint>;
  /** Proposes a new identity registry (an identities file, or identities and a quorum) as the signer, an admin (a reviewer when there is none). */
  changeRegistry(next: string | { readonly identities: readonly Identity[]; readonly quorum?: number }): Promise<RegistryChangeResult>;
  /** Signs a proposed registry change; the signature that reaches the quorum puts it in force. */
  approveRegistryChange(changeId: string): Promise<RegistryChangeResult>;
  /** The identity registry in force (also as an identities file) and the changes waiting for signatures. */
  registry(): Promise<RegistryReport>;
  /** Admits DOT content as the signer (a reviewer): the named DOTs, or every DOT with 'all'. */
  admit(dots: readonly string[] | 'all', comment?: string): Promise<AdmitResult[]>;
  /** Who admitted which content of a DOT (or of every DOT), and whether its current content may be proposed. */
  admissions(dot?: string): Promise<{ statuses: AdmissionStatus[]; note: string | null }>;
  /** Proves DOTs' rollback on a scratch copy of the target (`dotctl test`); recorded as `tested` when a signer is given. */
  test(dots: readonly string[], params?: readonly string[], opts?: ProofOptions): Promise<RollbackProof>;
  /** Withdraws a proposal that was never applied (an operator; signed and logged), optionally naming the one that supersedes it. */
  withdraw(id: string, reason: string, supersededBy?: string): Promise<WithdrawResult>;
  /** A watcher acting as the signer (an automation identity): each `cycle()` runs every standing check (`dotctl watch`). */
  watch(settings?: WatchSettings): Promise<Watcher>;
}

/** Builds an engine from its parts. */
export function createEngine(deps: EngineDeps): Engine {
  const o: EngineOptions = {
    dots: deps.catalogue,
    ledger: deps.ledger,
    target: deps.target,
    identities: deps.identities,
    key: deps.signer,
    env: deps.env,
    now: deps.clock,
    proposalsDir: deps.proposalsDir,
    lockWaitMs: deps.lockWaitMs,
    catalogueCache: deps.catalogueCache,
    onProgress: deps.onProgress,
    hooks: deps.hooks,
    paramDefaults: deps.paramDefaults,
  };
  // Each operation loads its module on first call (dynamic import): building an engine, and a
  // command that uses one operation, never loads the others (the gate, the executor, pg, zod, yaml).
  return {
    propose: async (dots, params = [], opts = {}) => (await import('./governance.js')).proposeBundle(o, dots, params, opts),
    approve: async (id, comment) => (await import('./governance.js')).decideProposal(o, id, 'approve', comment ?? null),
    reject: async (id, reason) => (await import('./governance.js')).decideProposal(o, id, 'reject', reason),
    apply: async (id, opts = {}) => (await import('./apply/index.js')).applyProposal(o, id, opts),
    rollback: async (id) => (await import('./apply/index.js')).rollbackProposal(o, id),
    status: async (id) => (await import('./governance.js')).proposalStatus(o, id),
    proposals: async (state) => (await (await import('./audit.js')).listProposals(o.ledger, state)).list,
    log: async (filter = {}) => (await import('./audit.js')).readLog(o.ledger, filter),
    verifyLog: async (opts = {}) => {
      const chain = await (await import('./audit.js')).verifyLog(o.ledger);
      return opts.target === undefined && opts.checkpoint === undefined ? chain : { ...chain, ...(await (await import('./checkpoint.js')).crossCheck(o, opts)) };
    },
    checkpoint: async (opts = {}) => (await import('./checkpoint.js')).makeCheckpoint(o, opts.out),
    admit: async (dots, comment) => (await import('./admission.js')).admitDots(o, dots, comment ?? null),
    admissions: async (dot) => (await import('./admission.js')).listAdmissionStatus(o, dot),
    test: async (dots, params = [], opts = {}) => (await import('./rollback-proof.js')).proveRollback(o, dots, params, opts),
    withdraw: async (id, reason, supersededBy) => (await import('./withdraw.js')).withdrawProposal(o, id, reason, supersededBy ?? null),
    changeRegistry: async (next) => (await import('./registry-changes.js')).proposeRegistryChange(o, next),
    approveRegistryChange: async (id) => (await import('./registry-changes.js')).approveRegistryChange(o, id),
    registry: async () => (await import('./registry-changes.js')).readRegistryReport(o),
    watch: async (settings = { backupSets: [], alerts: [] }) => (await import('./watch/index.js')).createWatcher(o, settings),
  };
}
