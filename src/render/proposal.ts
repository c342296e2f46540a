/**
 * Rendering of a proposal: a bundle of validated DOTs bound to parameter values and a target,
 * as Markdown in the seed's fix-plan shape plus canonical JSON and its SHA-256. Pure: same
 * input ⇒ byte-identical output.
 */
import { CheckError } from '../model/errors.js';
import { canonicalJson, sha256Hex } from '../model/canonical.js';
import type { Evidence } from '../model/evidence.js';
import type { Law, SpecSection, Step } from '../catalogue/schema.js';
import { SPEC_SECTIONS, stepsIn } from '../catalogue/sections.js';
import type { ValidDot } from '../catalogue/validate.js';
import { gateRequirements, type GateRequirements } from '../catalogue/laws.js';
import { effectiveRisk } from '../catalogue/risk.js';
import { displayValue, paramsForRecord, type BoundParams } from '../catalogue/params.js';
import { bindStep, bindTemplate, type BoundStep } from '../catalogue/steps.js';
import { codeBlock, codeSpan, escapeText, tableCell } from './markdown.js';

/** Format tag inside the canonical content; bump when its shape changes. */
export const PROPOSAL_FORMAT = 'dotctl-proposal/1';

/** Everything a proposal is rendered from. */
export interface ProposalInput {
  readonly dots: readonly ValidDot[]; // in apply order (see orderBundle)
  readonly laws: ReadonlyMap<string, Law>;
  readonly params: BoundParams;
  /** target fingerprint, or null for an offline render */
  readonly target: string | null;
  readonly evidence?: Evidence | null;
}

/** A rendered proposal. */
export interface RenderedProposal {
  readonly hash: string;
  readonly canonical: string;
  readonly markdown: string;
  readonly requirements: GateRequirements;
}

const SECTION_TITLES: Readonly<Record<SpecSection, string>> = {
  hard_stops: 'Hard stops',
  pre_check: 'Pre-check',
  diff: 'Diff',
  rollback: 'Rollback',
  post_verify: 'Post-verify',
  invariants: 'Invariants (standing: dotctl watch keeps checking them while the change stands)',
};

/**
 * The content the hash is computed over: specs and each DOT's content hash (its exact files, as
 * reviewers admitted them), params, target, rendered steps, gate.
 */
export function proposalContent(
  input: ProposalInput,
  requirements: GateRequirements = gateRequirements(
    input.dots.map((d) => d.spec),
    input.laws,
  ),
): Record<string, unknown> {
  return {
    format: PROPOSAL_FORMAT,
    dots: input.dots.map((d) => ({ id: d.spec.id, version: d.spec.version, content_hash: d.content.hash, spec: d.spec })),
    params: paramsForRecord(input.params),
    target: input.target,
    steps: input.dots.flatMap((d) => SPEC_SECTIONS.flatMap((section) => stepsIn(d.spec, section).map((step, index) => ({ dot: d.spec.id, section, index, step: bindStep(step, input.params) })))),
    gate: { ...requirements, sources: requirements.sources },
  };
}

/** Patterns that look like a secret in rendered text (the seed's secret hygiene scan). */
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/PASSWORD\s+(E?'(?!<secret from )[^']+')/i, 'a password literal'],
  [/postgres(?:ql)?:\/\/[^\s:/@]+:[^\s@]+@/i, 'a connection URL with a password'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/\b(?:token|api[_-]?key|secret|passwd|password)=[A-Za-z0-9_-]{8,}/i, 'a token in a URL or assignment'],
];

/** Names what looks like a leaked secret in `text`, or null. */
export function findSecretLeak(text: string): string | null {
  for (const [re, what] of SECRET_PATTERNS) if (re.test(text)) return what;
  return null;
}

const fence = codeBlock;
const code = codeSpan;

/** A table cell of plain text (a description, a check's name, what it observed). */
function cell(s: string): string {
  return tableCell(escapeText(s));
}

function shellWord(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function describeExpect(step: Extract<BoundStep, { kind: 'sql' }>): string {
  const e = step.expect;
  if (!e) return '';
  switch (e.kind) {
    case 'rows':
      return `expect exactly ${e.count} row(s)`;
    case 'value':
      return `expect the value ${code(String(e.equals))}`;
    case 'empty':
      return 'expect no rows';
    case 'non_empty':
      return 'expect at least one row';
    case 'every_row':
      return `expect every row's ${code(e.column)} ${e.equals !== undefined ? `= ${code(String(e.equals))}` : ''}${e.pattern !== undefined ? ` to match ${code(e.pattern)}` : ''}`.trim();
    default: {
      const never: never = e;
      return never;
    }
  }
}

function renderBoundStep(i: number, s: BoundStep): string {
  const head = `${i + 1}. **${escapeText(s.name)}**`;
  switch (s.kind) {
    case 'sql': {
      const tags = [describeExpect(s), s.transactional ? '' : 'runs outside the transaction'].filter(Boolean).join('; ');
      return `${head}${tags ? ` — ${tags}` : ''}\n\n${fence('sql', s.sql)}`;
    }
    case 'patch':
      return `${head} — ${s.reverse ? 'reverse-apply' : 'apply'} the patch${s.diffFile ? ` ${code(s.diffFile)}` : ''} to ${code(s.file)}${s.sha256 ? ` (file sha256 must be ${code(s.sha256)})` : ''}\n\n${fence('diff', s.diff)}`;
    case 'command': {
      const env = Object.entries(s.env)
        .map(([k, v]) => `${k}=${shellWord(v)} `)
        .join('');
      const ex = s.expect ?? {};
      const parts = [
        `exit code ${ex.exit_code ?? 0}`,
        ex.stdout_pattern !== undefined ? `stdout matches ${code(ex.stdout_pattern)}` : '',
        ex.stdout_not_pattern !== undefined ? `stdout does not match ${code(ex.stdout_not_pattern)}` : '',
        ex.stderr_pattern !== undefined ? `stderr matches ${code(ex.stderr_pattern)}` : '',
      ].filter(Boolean);
      return `${head} — run without a shell, timeout ${s.timeoutMs / 1000} s${s.rehearse ? ', also run by --dry-run' : ''}${s.optionalTool ? `; if ${s.argv[0] ?? 'its program'} is not installed it is reported not run (optional_tool)` : ''}; expect ${parts.join(', ')}\n\n${fence('sh', `${env}${s.argv.map(shellWord).join(' ')}`)}`;
    }
    case 'archive':
      return `${head} — archive schema ${code(s.schema)} (pg_dump custom format, sha256 recorded, verified non-empty with pg_restore --list) to ${code(s.to)}`;
    case 'restore':
      return `${head} — restore from the archive ${code(s.from)} with pg_restore`;
    case 'restore_drill':
      return `${head} — restore the newest good dump of ${code(s.dir)} (gzip intact, pg_dump's "dump complete" line, payload ≥ ${s.minPayloadBytes} bytes) into a scratch database on the target's server, compare every table's row count with the live database (within ${s.tolerancePct} %${s.excludeSchemas.length > 0 ? `, schemas ${s.excludeSchemas.map(code).join(', ')} left out` : ''}), record the restore's duration and size, drop the scratch database; the live database is only read`;
    case 'file': {
      const c = s.checks;
      const parts = [
        c.exists === false ? 'does not exist' : 'exists',
        c.type ? `is a ${c.type}` : '',
        c.not_world_writable ? 'is not world-writable' : '',
        c.owner ? `is owned by ${code(c.owner)}` : '',
        c.sha256 ? `has sha256 ${code(c.sha256)}` : '',
      ].filter(Boolean);
      return `${head} — ${code(s.path)} ${parts.join(', ')}`;
    }
    case 'host':
      return `${head} — host name equals ${code(s.equals)}`;
    default: {
      const never: never = s;
      return never;
    }
  }
}

function renderSection(section: SpecSection, steps: readonly Step[], params: BoundParams): string {
  const title = `#### ${SECTION_TITLES[section]}`;
  if (steps.length === 0) return `${title}\n\n_None._`;
  return `${title}\n\n${steps.map((s, i) => renderBoundStep(i, bindStep(s, params)) + standingNote(s)).join('\n\n')}`;
}

/** What a reviewer admits with a standing check: that dotctl watch keeps running it, and what it drafts when it fails. */
function standingNote(s: Step): string {
  const standing = 'standing' in s && s.standing === true ? '\n\n   _Standing: dotctl watch keeps running this check for as long as the change stands._' : '';
  const r = s.kind === 'sql' ? s.remedy : undefined;
  const cols = r ? Object.entries(r.params_from_columns).map(([p, c]) => `${code(p)} from column ${code(c)}`) : [];
  return `${standing}${r ? `\n\n   _When it fails, dotctl watch drafts a proposal of ${r.dot ? code(r.dot) : 'this DOT'} per failing row (${cols.join(', ')}); it never approves or applies it._` : ''}`;
}

/** Plain-language lines for gate requirements. */
export function describeRequirements(r: GateRequirements): string[] {
  const src = (k: string): string => {
    const s = r.sources[k];
    return s && s.length > 0 ? ` (${s.join(', ')})` : '';
  };
  const lines = [
    `Approvals: at least ${r.minApprovals} valid approval(s) from reviewers${src('min_approvals')}.`,
    r.dualControl ? `Dual control: ${r.minApprovals} distinct reviewers must approve${src('dual_control')}.` : 'Dual control: not required.',
    `Separation of duties: the proposer never approves; whoever applies is an operator who did not approve${src('separation_of_duties')}.`,
    `Approvals expire after ${r.approvalTtlHours} h${src('approval_ttl_hours')}; any change to the DOT, its parameters or the target voids them.`,
    'Any rejection blocks the proposal.',
    ...(r.groupApprovals ?? []).map((g) => `Control group ${g.group}: at least ${g.min} of the approvals from its members (${g.sources.join(', ')}).`),
  ];
  if (r.archiveBeforeDiff) lines.push(`Archive before the diff: mandatory${src('archive_before_diff')}.`);
  if (r.rollbackRequired) lines.push(`Rollback: required${src('rollback_required')}.`);
  if (r.preCheckRequired) lines.push(`Pre-check: required${src('pre_check_required')}.`);
  if (r.postVerifyRequired) lines.push(`Post-verify: required${src('post_verify_required')}.`);
  if (r.restoreDrillHours !== undefined)
    lines.push(`Restore drill: applied only when a restore drill passed on the same target within ${r.restoreDrillHours} h before the apply${src('restore_drill_hours')}.`);
  if (r.registryEntry) lines.push(`Registry entry: recorded in the action log on apply${src('registry_entry')}.`);
  if (r.actionLog) lines.push(`Action log: every step is written to dot_action_log${src('action_log')}.`);
  if (r.companionsApplied) lines.push(`Companions: must be in the same bundle or already applied on the target${src('companions_applied')}.`);
  return lines;
}

function describeLawRequires(law: Law): string {
  const q = law.requires;
  const parts: string[] = [];
  if (q.min_approvals !== undefined) parts.push(`≥ ${q.min_approvals} approval(s)`);
  if (q.dual_control) parts.push('dual control');
  if (q.separation_of_duties) parts.push('separation of duties');
  if (q.archive_before_diff) parts.push('archive before diff');
  if (q.rollback_required) parts.push('rollback');
  if (q.pre_check_required) parts.push('pre-check');
  if (q.post_verify_required) parts.push('post-verify');
  if (q.action_log) parts.push('action log');
  if (q.registry_entry) parts.push('registry entry');
  if (q.companions_applied) parts.push('companions applied');
  if (q.approval_ttl_hours !== undefined) parts.push(`approval TTL ≤ ${q.approval_ttl_hours} h`);
  if (q.admission_approvals !== undefined) parts.push(`admission by ≥ ${q.admission_approvals} reviewer(s)`);
  for (const g of q.group_approvals ?? []) parts.push(`≥ ${g.min} approval(s) from group ${g.group}`);
  if (q.restore_drill_hours !== undefined) parts.push(`for an irreversible DOT, a restore drill passed on the target within ${q.restore_drill_hours} h`);
  return parts.join(', ') || 'nothing machine-checkable';
}

function renderDot(d: ValidDot, params: BoundParams): string {
  const s = d.spec;
  const out: string[] = [];
  out.push(`## ${s.option !== undefined ? `Option ${s.option} — ` : ''}${s.id} (v${s.version}): ${s.title}`);
  out.push(
    [
      `- **Action code:** ${code(s.action_code)}`,
      `- **Risk:** ${s.risk}`,
      `- **Laws:** ${s.laws.join(', ')}`,
      `- **Companions:** ${s.companions.length > 0 ? s.companions.join(', ') : 'none'}`,
      `- **Spec:** ${code(d.file.split('/').pop() ?? d.file)}`,
      `- **Content (SHA-256 of ${Object.keys(d.content.files).sort().map(code).join(', ')}):** ${code(d.content.hash)}`,
    ].join('\n'),
  );
  out.push(`### Summary\n\n${s.summary.trim()}`);
  out.push(`### When it applies\n\n${s.applies_when.trim()}`);
  const names = Object.keys(s.params).sort();
  if (names.length > 0) {
    const rows = names.map((n) => {
      const p = s.params[n];
      const v = params[n];
      return `| ${tableCell(code(n))} | ${p?.type ?? ''} | ${v ? tableCell(code(displayValue(v))) : ''} | ${cell(p?.description ?? '')} |`;
    });
    out.push(`### Parameters\n\n| name | type | value | description |\n|---|---|---|---|\n${rows.join('\n')}`);
  }
  if (s.registry) {
    const r = s.registry;
    out.push(`### Registry entry\n\n- artefact: ${r.artefact}\n- name: ${code(bindTemplate(r.name, params))}\n- purpose: ${r.purpose}${r.owner ? `\n- owner: ${r.owner}` : ''}`);
  }
  if (s.timeouts) {
    out.push(
      `### Session timeouts\n\n${s.timeouts.lock_timeout_ms ? `- lock_timeout: ${s.timeouts.lock_timeout_ms} ms\n` : ''}${s.timeouts.statement_timeout_ms ? `- statement_timeout: ${s.timeouts.statement_timeout_ms} ms` : ''}`.trimEnd(),
    );
  }
  out.push(
    `### Steps\n\n${SPEC_SECTIONS.filter((sec) => sec !== 'invariants' || s.invariants !== undefined)
      .map((sec) => renderSection(sec, stepsIn(s, sec), params))
      .join('\n\n')}`,
  );
  return out.join('\n\n');
}

function renderEvidence(e: Evidence | null | undefined): string {
  if (!e) return '## Evidence\n\n_Absent: rendered without a target (offline). `dotctl propose` runs the hard stops and pre-checks read-only and records what they saw here._';
  const rows = e.checks.map((c) => `| ${cell(c.dotId)} | ${c.section} | ${cell(c.name)} | ${c.outcome} | ${cell(c.observed)} |`);
  return `## Evidence\n\nCollected read-only at ${e.collectedAt} on ${code(e.target)}.\n\n| DOT | section | check | outcome | observed |\n|---|---|---|---|---|\n${rows.join('\n')}`;
}

/** Renders a proposal. Throws CheckError (the seed's secret-hygiene hard stop) if the text leaks a secret. */
export function renderProposal(input: ProposalInput): RenderedProposal {
  const requirements = gateRequirements(
    input.dots.map((d) => d.spec),
    input.laws,
  );
  const canonical = canonicalJson(proposalContent(input, requirements));
  const hash = sha256Hex(canonical);
  const ids = input.dots.map((d) => d.spec.id);
  const labels = input.dots.map((d) => d.spec.option);
  const options = labels.every((l) => l !== undefined) ? `Option ${labels.join(' + ')} — ` : '';
  const labelled = input.dots.some((d) => d.spec.risk === 'irreversible') ? 'irreversible' : 'reversible';
  // the label can only tighten: a DOT labelled reversible whose diff destroys is irreversible
  const derived = input.dots.flatMap((d) => (d.spec.risk === 'reversible' ? effectiveRisk(d.spec, input.laws).reasons.map((r) => `${d.spec.id} ${r}`) : []));
  const risk = derived.length > 0 ? 'irreversible (derived from the diff; labelled reversible)' : labelled;
  const lawIds = [...new Set(input.dots.flatMap((d) => d.spec.laws))];

  const parts: string[] = [];
  parts.push(`# Proposal: ${options}${ids.join(' + ')}`);
  parts.push(
    [
      '| | |',
      '|---|---|',
      `| Hash (SHA-256) | ${code(hash)} |`,
      `| DOTs (apply order) | ${ids.join(' → ')} |`,
      `| Action codes | ${input.dots.map((d) => code(d.spec.action_code)).join(', ')} |`,
      `| Risk | ${risk} |`,
      `| Laws | ${lawIds.join(', ')} |`,
      `| Target | ${input.target ? tableCell(code(input.target)) : 'none (offline render)'} |`,
      `| Gate | ${requirements.minApprovals} approval(s)${requirements.dualControl ? ', dual control' : ''}, TTL ${requirements.approvalTtlHours} h |`,
    ].join('\n'),
  );
  parts.push(...input.dots.map((d) => renderDot(d, input.params)));
  const lawSections = lawIds.map((id) => {
    const law = input.laws.get(id);
    if (!law) return `### ${id}\n\n_Unknown law._`;
    return `### ${law.id} — ${law.title}\n\n${law.text.trim()}\n\nRequires: ${describeLawRequires(law)}.`;
  });
  parts.push(`## Laws\n\n${lawSections.join('\n\n')}`);
  const companionsOutside = [...new Set(input.dots.flatMap((d) => d.spec.companions))].filter((c) => !ids.includes(c));
  parts.push(
    `## Gate requirements\n\n${describeRequirements(requirements)
      .map((l) => `- ${l}`)
      .join(
        '\n',
      )}\n- Companions outside this bundle that must already be applied on the target: ${companionsOutside.length > 0 ? companionsOutside.join(', ') : 'none'}.\n- Built-in hard stop: no secret appears in this proposal (checked when it is rendered).${derived.length > 0 ? `\n- Risk derived from the content (stricter than the label):\n${derived.map((r) => `  - ${r}`).join('\n')}` : ''}`,
  );
  parts.push(renderEvidence(input.evidence));
  parts.push(
    `## Canonical JSON\n\nThe hash above is the SHA-256 of this exact text (UTF-8, no trailing newline). Approvals sign that hash; any change to a DOT, a parameter or the target gives another hash and voids them.\n\n<details><summary>canonical JSON (${canonical.length} bytes)</summary>\n\n${fence('json', canonical)}\n\n</details>`,
  );
  const markdown = `${parts.join('\n\n')}\n`;
  const leak = findSecretLeak(markdown);
  if (leak) {
    throw new CheckError(`hard stop: the rendered proposal for ${ids.join(' + ')} contains ${leak}; move it into a secret parameter (type: secret) and render again`, { context: { dots: ids } });
  }
  return { hash, canonical, markdown, requirements };
}
