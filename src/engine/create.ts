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
import { approveRegistryChange, proposeRegistryChange, readRegistryReport, type RegistryChangeResult, type RegistryReport } from './registry-changes.js';
import { applyProposal, rollbackProposal } from './apply/index.js';
import type { ApplyReport } from './apply/report.js';
import type { RunHooks } from './apply/journal.js';
import { listProposals, readLog, verifyLog, type LogOptions } from './audit.js';
import { admitDots, listAdmissionStatus, type AdmissionStatus, type AdmitResult } from './admission.js';
import { decideProposal, proposalStatus, proposeBundle, type DecisionResult, type ProposalStatus, type ProposeResult } from './governance.js';
import type { EngineOptions, Progress } from './options.js';
import type { ParamDefaults } from '../catalogue/params.js';
import { proveRollback, type ProofOptions, type RollbackProof } from './rollback-proof.js';
import { withdrawProposal, type WithdrawResult } from './withdraw.js';
import { crossCheck, makeCheckpoint, type Checkpoint, type CheckpointReport, type TargetReport } from './checkpoint.js';

/** What `verifyLog` cross-checks besides the chain. */
export interface VerifyLogOptions {
  /** the target whose witness to compare with the ledger: a postgres:// URL, or true for the engine's target */
  readonly target?: string | true;
  /** a checkpoint (or its file) the ledger must still contain */
  readonly checkpoint?: Checkpoint | string;
}

/** The chain's verdict and, when asked, what the target's witness and a checkpoint say. */
export type LogVerdict = SignedLogVerdict & { readonly target?: TargetReport; readonly checkpoint?: CheckpointReport };
import { createWatcher, type Watcher } from './watch/index.js';
import type { WatchSettings } from '../catalogue/watch-config.js';

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
  return {
    propose: (dots, params = [], opts = {}) => proposeBundle(o, dots, params, opts),
    approve: (id, comment) => decideProposal(o, id, 'approve', comment ?? null),
    reject: (id, reason) => decideProposal(o, id, 'reject', reason),
    apply: (id, opts = {}) => applyProposal(o, id, opts),
    rollback: (id) => rollbackProposal(o, id),
    status: (id) => proposalStatus(o, id),
    proposals: async (state) => (await listProposals(o.ledger, state)).list,
    log: (filter = {}) => readLog(o.ledger, filter),
    verifyLog: async (opts = {}) => {
      const chain = await verifyLog(o.ledger);
      return opts.target === undefined && opts.checkpoint === undefined ? chain : { ...chain, ...(await crossCheck(o, opts)) };
    },
    checkpoint: (opts = {}) => makeCheckpoint(o, opts.out),
    admit: (dots, comment) => admitDots(o, dots, comment ?? null),
    admissions: (dot) => listAdmissionStatus(o, dot),
    test: (dots, params = [], opts = {}) => proveRollback(o, dots, params, opts),
    withdraw: (id, reason, supersededBy) => withdrawProposal(o, id, reason, supersededBy ?? null),
    changeRegistry: (next) => proposeRegistryChange(o, next),
    approveRegistryChange: (id) => approveRegistryChange(o, id),
    registry: () => readRegistryReport(o),
    watch: (settings = { backupSets: [], alerts: [] }) => createWatcher(o, settings),
  };
}
