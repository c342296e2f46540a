/**
 * The public API of dotctl, the one composition: loads the catalogue, binds parameters, renders,
 * proposes, gates, applies, rolls back and reads the action log. The CLI calls only this module's
 * exports (and `demo/run-demo.ts`, the incident demo, which is itself built on this API).
 */
import { checkCatalogue, loadCatalogue } from './catalogue/load.js';
import type { Catalogue, ValidDot, ValidationResult } from './catalogue/validate.js';
import { bindParams, parseParamPairs, withParamDefaults, type ParamDefaults } from './catalogue/params.js';
import { gateRequirements, type GateRequirements } from './catalogue/laws.js';
import { effectiveRisk } from './catalogue/risk.js';
import { renderProposal, type RenderedProposal } from './render/proposal.js';
import { findDot, resolveBundle } from './catalogue/bundle.js';

// This module is what every command loads first, so it imports statically only what reading a
// (cached) catalogue and rendering need; every operation that reaches the gate, the executor,
// a database driver, yaml, zod or the SQL parser is loaded on its first call (`lazy` below).

/** `load`'s function, loaded on first call: the same parameters, its result as a promise. */
function lazy<A extends unknown[], R>(load: () => Promise<(...args: A) => R | PromiseLike<R>>): (...args: A) => Promise<R> {
  return async (...args) => (await load())(...args);
}

export { findDot, resolveBundle };
export { createEngine, type Engine, type EngineDeps, type VerifyLogOptions, type LogVerdict } from './engine/create.js';
export type { Checkpoint, CheckpointProblem, CheckpointReport, TargetReport } from './engine/checkpoint.js';
export type { WitnessProblem } from './engine/witness.js';
export { ledgerIdOf } from './ledger/ledger-id.js';
export { loadCatalogue } from './catalogue/load.js';
export type { ParamDefaults } from './catalogue/params.js';
export { GENERIC_LAWS_YAML } from './catalogue/generic-laws.js';
export { shippedSchemasDir } from './model/package-paths.js';
export { WORKSPACE_FILE } from './catalogue/workspace-file.js';
export type { WorkspaceConfig, ResolvedWorkspace, ResolvedEnvironment } from './catalogue/workspace.js';
/** Parses a workspace file's text (yaml and zod, loaded on first call). */
export const parseWorkspace = lazy(async () => (await import('./catalogue/workspace.js')).parseWorkspace);
/** Resolves a parsed workspace: its paths against its directory, the chosen environment. */
export const resolveWorkspace = lazy(async () => (await import('./catalogue/workspace.js')).resolveWorkspace);
export { openLedger } from './ledger/open.js';
export type { LedgerRoles, LedgerRolesReport } from './ledger/postgres-roles.js';
export type { LedgerStore, ChainVerdict } from './ledger/port.js';
export type { SigningKey } from './gate/keys.js';
/** Reads an identities file. */
export const loadIdentities = lazy(async () => (await import('./gate/keys.js')).loadIdentities);
/** Reads a private key file. */
export const loadSigningKey = lazy(async () => (await import('./gate/keys.js')).loadSigningKey);
/** Writes a new Ed25519 key pair. */
export const generateKeyFile = lazy(async () => (await import('./gate/keys.js')).generateKeyFile);
export { ROLES, DEFAULT_QUORUM, type Role } from './gate/roles.js';
export type { Identity } from './gate/identities.js';
export type { ProposeResult, DecisionResult, ProposalStatus } from './engine/governance.js';
/** Proposes a bundle of DOTs. */
export const proposeBundle = lazy(async () => (await import('./engine/governance.js')).proposeBundle);
/** Approves or rejects a proposal. */
export const decideProposal = lazy(async () => (await import('./engine/governance.js')).decideProposal);
/** A proposal's state and what its gate still needs. */
export const proposalStatus = lazy(async () => (await import('./engine/governance.js')).proposalStatus);
export type { EngineOptions, Progress } from './engine/options.js';
export type { RunHooks } from './engine/apply/journal.js';
export type { AdmitResult, AdmissionStatus, Unadmitted } from './engine/admission.js';
/** Admits DOT content. */
export const admitDots = lazy(async () => (await import('./engine/admission.js')).admitDots);
/** Who admitted which content, and whether it may be proposed. */
export const listAdmissionStatus = lazy(async () => (await import('./engine/admission.js')).listAdmissionStatus);
/** The DOTs among `dots` whose content is not admitted. */
export const checkAdmitted = lazy(async () => (await import('./engine/admission.js')).checkAdmitted);
/** A proposal's frozen DOTs and catalogue, validated again. */
export const loadFrozen = lazy(async () => (await import('./engine/admission.js')).loadFrozen);
export type { LogOptions, ProposalPage, ProposalPageOptions, LedgerOverview } from './engine/audit.js';
/** Reads the action log. */
export const readLog = lazy(async () => (await import('./engine/audit.js')).readLog);
/** Re-proves the ledger's chain. */
export const verifyLog = lazy(async () => (await import('./engine/audit.js')).verifyLog);
/** Lists proposals, optionally in one state. */
export const listProposals = lazy(async () => (await import('./engine/audit.js')).listProposals);
/** A page of proposals (the latest ones), without their frozen content. */
export const listProposalPage = lazy(async () => (await import('./engine/audit.js')).listProposalPage);
/** Proposals counted per state, the latest few and the log's head. */
export const ledgerOverview = lazy(async () => (await import('./engine/audit.js')).ledgerOverview);
export type { LogVerdict as SignedLogVerdict, Signing } from './engine/signed-history.js';
export type { LedgerInitOptions, LedgerInitResult, RegistryChangeResult, RegistryReport } from './engine/registry-changes.js';
/** Creates a ledger with its genesis identity registry. */
export const initLedger = lazy(async () => (await import('./engine/registry-changes.js')).initLedger);
/** Upgrades a ledger to the signed identity registry. */
export const upgradeLedger = lazy(async () => (await import('./engine/registry-changes.js')).upgradeLedger);
export type { AdmissionRecord, DecisionRecord, LogRow, ProposalRecord, ProposalState } from './model/records.js';
export type { ProposalSummary, ProposalCounts } from './ledger/port.js';
export { DotctlError, InputError, LedgerError, formatProblem } from './model/errors.js';
export { describeRequirements } from './render/proposal.js';
export type { ApplyReport, ApplyOutcome, StepReport } from './engine/apply/index.js';
/** Applies (or rehearses) an approved proposal. */
export const applyProposal = lazy(async () => (await import('./engine/apply/index.js')).applyProposal);
/** Rolls back an applied proposal. */
export const rollbackProposal = lazy(async () => (await import('./engine/apply/index.js')).rollbackProposal);
export { auditBackupDir, formatBackupAudit, formatBytes, type BackupAudit } from './exec/backup-audit.js';
/** Runs a program without a shell (timeout, bounded output, abort signal): what command steps use. */
export { runProgram, baseEnv, type CommandRun as ProgramRun } from './exec/command.js';
export { CheckError, GateError, TargetUnreachableError, TargetBusyError } from './model/errors.js';
export { shippedDotsDir, shippedExamplesDir } from './model/package-paths.js';
export type { PatchMade } from './engine/authoring.js';
/** Writes a new DOT's skeleton. */
export const writeDotSkeleton = lazy(async () => (await import('./engine/authoring.js')).writeDotSkeleton);
/** Turns an edited copy of a file into a patch step. */
export const makePatchStep = lazy(async () => (await import('./engine/authoring.js')).makePatchStep);
export type { RollbackProof, ProofStage, ProofOptions } from './engine/rollback-proof.js';
/** Proves DOTs' rollback on a scratch copy of the target. */
export const proveRollback = lazy(async () => (await import('./engine/rollback-proof.js')).proveRollback);
/** The last rollback proof recorded for a DOT's content. */
export const lastRollbackProof = lazy(async () => (await import('./engine/rollback-proof.js')).lastRollbackProof);
export type { Watcher, WatchReport, WatchCheck, WatchChange, WatchDraft, WatchStatus, WatchCheckKind } from './engine/watch/index.js';
export type { WatchSettings, BackupSetConfig, AlertConfig } from './catalogue/watch-config.js';
export type { Delivery as AlertDelivery } from './exec/alert.js';

export type { Catalogue, ValidDot, ValidationResult, GateRequirements, RenderedProposal };

/** Validates the catalogue in `dir`, returning every problem. */
export async function validateDots(dir: string): Promise<ValidationResult & { readonly dotCount: number; readonly lawCount: number }> {
  const result = await checkCatalogue(dir);
  return result.kind === 'valid' ? { ...result, dotCount: result.catalogue.dots.size, lawCount: result.catalogue.laws.size } : { ...result, dotCount: 0, lawCount: 0 };
}

/** One line of the catalogue. */
export interface DotSummary {
  readonly id: string;
  /** the option label (A, C1), or null when the DOT has none */
  readonly option: string | null;
  readonly title: string;
  readonly risk: 'reversible' | 'irreversible';
  readonly actionCode: string;
  readonly approvalsRequired: number;
  readonly dualControl: boolean;
  readonly laws: readonly string[];
  readonly companions: readonly string[];
  readonly file: string;
}

function summarize(d: ValidDot, cat: Catalogue): DotSummary {
  const req = gateRequirements([d.spec], cat.laws);
  return {
    id: d.spec.id,
    option: d.spec.option ?? null,
    title: d.spec.title,
    risk: effectiveRisk(d.spec, cat.laws).risk,
    actionCode: d.spec.action_code,
    approvalsRequired: req.minApprovals,
    dualControl: req.dualControl,
    laws: d.spec.laws,
    companions: d.spec.companions,
    file: d.file,
  };
}

/** The catalogue, ordered by option label (DOTs without one last, by id). */
export async function listDots(dir: string, cacheDir?: string): Promise<DotSummary[]> {
  const cat = await loadCatalogue(dir, cacheDir);
  const key = (d: DotSummary): string => (d.option !== null ? `0${d.option}` : `1${d.id}`);
  return [...cat.dots.values()].map((d) => summarize(d, cat)).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** One DOT in full: its summary, its spec and its gate requirements. */
export async function showDot(dir: string, ref: string, cacheDir?: string): Promise<{ summary: DotSummary; dot: ValidDot; requirements: GateRequirements }> {
  const cat = await loadCatalogue(dir, cacheDir);
  const dot = findDot(cat, ref);
  return { summary: summarize(dot, cat), dot, requirements: gateRequirements([dot.spec], cat.laws) };
}

/** Pure render of a bundle with `name=value` parameter pairs: no database, no ledger. */
export async function renderDots(
  dir: string,
  refs: readonly string[],
  pairs: readonly string[],
  defaults?: ParamDefaults,
  cacheDir?: string,
): Promise<RenderedProposal & { readonly dots: readonly string[] }> {
  const cat = await loadCatalogue(dir, cacheDir);
  const dots = resolveBundle(cat, refs);
  const specs = dots.map((d) => d.spec);
  const params = bindParams(specs, withParamDefaults(specs, defaults, parseParamPairs(pairs)));
  const rendered = renderProposal({ dots, laws: cat.laws, params, target: null, evidence: null });
  return { ...rendered, dots: dots.map((d) => d.spec.id) };
}

/**
 * `dotctl ledger roles`: a NOLOGIN owner role owns the PostgreSQL ledger and a writer role may
 * only read and append (src/ledger/postgres-roles.ts). Loads the driver only when called.
 */
export async function provisionLedgerRoles(adminUrl: string, roles: import('./ledger/postgres-roles.js').LedgerRoles): Promise<import('./ledger/postgres-roles.js').LedgerRolesReport> {
  const { provisionLedgerRoles: provision } = await import('./ledger/postgres-roles.js');
  return provision(adminUrl, roles);
}
