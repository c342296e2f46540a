/**
 * The DOT spec language and the law registry: zod is the one definition of their shape.
 * `DotInput`/`LawRegistryInput` are what an author writes (untrusted); `Dot`/`LawRegistry`
 * are what `validateCatalogue` hands on after every cross-file check has passed.
 */
import * as z from 'zod';
import type { SpecSection } from './sections.js';

/** Names usable as parameter names and `{{name}}` placeholders. */
export const PARAM_NAME = /^[a-z_][a-z0-9_]*$/;
/** DOT ids: DOT-UPPER-CASE. */
export const DOT_ID = /^DOT(-[A-Z0-9]+)+$/;

const name = z.string().min(1).max(120).describe('Short human name of the step, shown in proposals and the action log.');

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** What a check query must return. */
export const SqlExpect = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('rows'), count: z.number().int().min(0).describe('Exact row count expected.') }),
  z.strictObject({
    kind: z.literal('value'),
    equals: scalar.describe('The single value (first column of the single row) must equal this; {{param}} allowed.'),
  }),
  z.strictObject({ kind: z.literal('empty') }),
  z.strictObject({ kind: z.literal('non_empty') }),
  z.strictObject({
    kind: z.literal('every_row'),
    column: z.string().min(1),
    equals: scalar.optional(),
    pattern: z.string().optional().describe('Regular expression every value must match.'),
  }),
]);
export type SqlExpect = z.infer<typeof SqlExpect>;

/**
 * What `dotctl watch` drafts when a standing SQL check fails: a proposal of `dot` (default: the
 * DOT the check belongs to) for each
 * distinct combination of the named columns of the failing rows (column → parameter), the other
 * parameters taken from the proposal whose invariant failed. Drafted only; never approved or applied.
 */
export const Remedy = z.strictObject({
  dot: z.string().regex(DOT_ID, 'must look like DOT-PG-GRANT-SCHEMA').optional().describe('The DOT to propose when this check fails (default: this DOT itself).'),
  params_from_columns: z
    .record(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'parameter names are lower_snake_case'), z.string().min(1))
    .refine((m) => Object.keys(m).length > 0, 'name at least one parameter: column')
    .describe('Parameter of the drafted DOT → column of the failing rows that gives its value.'),
});
export type Remedy = z.infer<typeof Remedy>;

/** A SQL statement (diff/rollback) or check query (with `expect`). */
export const SqlStep = z.strictObject({
  kind: z.literal('sql'),
  name,
  sql: z.string().min(1).describe('SQL; parameters the psql way: :\'name\' literal, :"name" identifier.'),
  expect: SqlExpect.optional(),
  transactional: z.boolean().optional().describe('false for SQL that cannot run in a transaction block.'),
  standing: z
    .boolean()
    .optional()
    .describe('post_verify only: the check also serves as a standing invariant, run by dotctl watch for as long as the change stands (a command must then be read_only).'),
  remedy: Remedy.optional(),
});

/** A unified diff applied to a file (rollback: the same diff with reverse: true). */
export const PatchStep = z.strictObject({
  kind: z.literal('patch'),
  name,
  file: z.string().min(1).describe('Target file path; {{param}} allowed.'),
  diff: z.string().min(1).optional().describe('Inline unified diff.'),
  diff_file: z.string().min(1).optional().describe('Unified diff in a file beside the DOT spec.'),
  reverse: z.boolean().optional().describe('Apply the diff in reverse (rollback).'),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .describe('Pinned sha256 of the file before patching.'),
});

/** What a command must produce. */
export const CommandExpect = z.strictObject({
  exit_code: z.number().int().min(0).max(255).optional(),
  stdout_pattern: z.string().optional(),
  stdout_not_pattern: z.string().optional(),
  stderr_pattern: z.string().optional(),
});

/** A program run as argv, without a shell. */
export const CommandStep = z.strictObject({
  kind: z.literal('command'),
  name,
  argv: z.array(z.string()).min(1).describe('Program and arguments; {{param}} substituted per argument.'),
  env: z.record(z.string(), z.string()).optional(),
  timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
  expect: CommandExpect.optional(),
  rehearse: z.boolean().optional().describe('true when the command is safe to run during --dry-run (it changes nothing).'),
  read_only: z
    .boolean()
    .optional()
    .describe('Checks only: true when the command only reads, so it may run at propose time, before any approval, as evidence; otherwise it runs only once the proposal is approved.'),
  optional_tool: z
    .boolean()
    .optional()
    .describe('Checks only: when the program is not installed, the check is reported as not run (in the proposal evidence and the apply report) instead of failing.'),
  standing: z
    .boolean()
    .optional()
    .describe('post_verify only: the check also serves as a standing invariant, run by dotctl watch for as long as the change stands (a command must then be read_only).'),
});

/** pg_dump of a schema (custom format) to an archive file. */
export const ArchiveStep = z.strictObject({
  kind: z.literal('archive'),
  name,
  schema: z.string().min(1).describe('Schema to archive; {{param}} allowed.'),
  to: z.string().min(1).describe('Archive file path; {{param}} allowed.'),
});

/** pg_restore from an archive file. */
export const RestoreStep = z.strictObject({
  kind: z.literal('restore'),
  name,
  from: z.string().min(1).describe('Archive file path; {{param}} allowed.'),
});

/**
 * A restore drill: the newest good dump of a backup directory (judged as the backup audit
 * judges it) restored into a scratch database on the target's server, its per-table row counts
 * compared with the live database's, and the scratch database dropped. Reads the live database
 * only; what it proves is that the backups restore, and how long a restore takes.
 */
export const RestoreDrillStep = z.strictObject({
  kind: z.literal('restore_drill'),
  name,
  dir: z.string().min(1).describe('Directory of the *.sql.gz dumps (plain pg_dump output, gzip); {{param}} allowed.'),
  tolerance_pct: z
    .union([z.number().min(0).max(100), z.string().min(1)])
    .describe("How far a restored table's row count may be from the live one, in percent of the larger of the two; a number or {{param}} of an integer parameter."),
  min_payload_bytes: z
    .union([z.number().int().min(0), z.string().min(1)])
    .optional()
    .describe('A dump whose decompressed payload is smaller is not restored (default 1); a number or {{param}} of an integer parameter.'),
  exclude_schemas: z.array(z.string().min(1)).optional().describe('Schemas left out of the comparison (e.g. one the backup deliberately excludes); {{param}} allowed.'),
});

/** A file check: the seed's "scripts not world-writable" hard stop. */
export const FileStep = z.strictObject({
  kind: z.literal('file'),
  name,
  path: z.string().min(1),
  exists: z.boolean().optional(),
  type: z.enum(['file', 'directory']).optional(),
  not_world_writable: z.boolean().optional(),
  owner: z.string().optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  standing: z
    .boolean()
    .optional()
    .describe('post_verify only: the check also serves as a standing invariant, run by dotctl watch for as long as the change stands (a command must then be read_only).'),
});

/** Host name check: the seed's hostname verify. */
export const HostStep = z.strictObject({
  kind: z.literal('host'),
  name,
  equals: z.string().min(1).describe('Expected host name; {{param}} allowed.'),
});

/** Every step kind, tagged on `kind`. */
export const Step = z.discriminatedUnion('kind', [SqlStep, PatchStep, CommandStep, ArchiveStep, RestoreStep, RestoreDrillStep, FileStep, HostStep]);
export type StepInput = z.input<typeof Step>;
export type Step = z.output<typeof Step>;
export type StepKind = Step['kind'];

export const PARAM_TYPES = ['identifier', 'text', 'integer', 'boolean', 'path', 'secret'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

/** A typed parameter. */
export const Param = z.strictObject({
  type: z.enum(PARAM_TYPES),
  description: z.string().min(1),
  default: scalar.optional(),
  env: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional()
    .describe('secret: environment variable the value comes from at apply time.'),
});
export type Param = z.infer<typeof Param>;

/** Registry entry a DOT records for a new artefact (Đ37 §5). */
export const RegistryEntry = z.strictObject({
  artefact: z.enum(['role', 'schema', 'script', 'other']),
  name: z.string().min(1).describe('{{param}} allowed.'),
  purpose: z.string().min(1),
  owner: z.string().min(1).optional(),
});

/** Session timeouts on the target (defaults in README). */
export const Timeouts = z.strictObject({
  lock_timeout_ms: z.number().int().min(1).optional(),
  statement_timeout_ms: z.number().int().min(1).optional(),
});

const stepList = z.array(Step);

/** A DOT as written in `dots/<id>.yaml`. */
export const DotSchema = z.strictObject({
  id: z.string().regex(DOT_ID, 'must look like DOT-PG-GRANT-SCHEMA'),
  version: z.number().int().min(1),
  option: z
    .string()
    .regex(/^[A-Z][0-9]?$/, 'must be an option label like A, B, C1')
    .optional()
    .describe('Optional short label (A, B, C1) naming the DOT as one option of a fix plan; commands accept it in place of the id.'),
  title: z.string().min(1),
  summary: z.string().min(1),
  applies_when: z.string().min(1),
  risk: z.enum(['reversible', 'irreversible']),
  action_code: z.string().regex(/^DOT(-[A-Z0-9]+)+$/, 'must look like DOT-PG-GRANT-DIRECTUS'),
  laws: z.array(z.string().min(1)).min(1),
  companions: z.array(z.string().regex(DOT_ID)).default([]),
  params: z.record(z.string().regex(PARAM_NAME, 'parameter names are lower_snake_case'), Param).default({}),
  registry: RegistryEntry.optional(),
  timeouts: Timeouts.optional(),
  hard_stops: stepList.default([]),
  pre_check: stepList.default([]),
  diff: stepList.min(1),
  rollback: stepList.default([]),
  post_verify: stepList.default([]),
  invariants: stepList
    .optional()
    .describe('Standing invariants: read-only checks that must keep holding for as long as the change stands; dotctl watch runs them against the target of every applied proposal.'),
});
export type DotInput = z.input<typeof DotSchema>;
export type Dot = z.output<typeof DotSchema>;

// The sections live in sections.ts, which has no zod: rendering a cached catalogue needs them, not the schemas.
export { SECTIONS, SPEC_SECTIONS, stepsIn, type Section, type SpecSection } from './sections.js';

/** Step kinds allowed in each section. */
export const SECTION_KINDS: Readonly<Record<SpecSection, readonly StepKind[]>> = {
  hard_stops: ['host', 'file', 'sql', 'command'],
  pre_check: ['host', 'file', 'sql', 'command'],
  diff: ['archive', 'sql', 'patch', 'command', 'restore_drill'],
  rollback: ['restore', 'sql', 'patch', 'command'],
  post_verify: ['sql', 'command', 'file'],
  invariants: ['host', 'file', 'sql', 'command'],
};

/** Names of control groups (declared on identities, required by laws). */
export const GROUP_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** "At least `min` approvals from members of `group`" (a control group, as Vault's). */
export const GroupApproval = z.strictObject({
  group: z.string().regex(GROUP_NAME, 'group names are lower-case letters, digits, _ and -').describe('A group named in the identities file (groups: of an identity).'),
  min: z.number().int().min(1).max(10).describe('How many of the valid approvals must come from members of the group.'),
});
export type GroupApproval = z.infer<typeof GroupApproval>;

/** Machine-checkable requirements a law imposes. */
export const Requirements = z.strictObject({
  min_approvals: z.number().int().min(0).max(10).optional(),
  dual_control: z.boolean().optional(),
  separation_of_duties: z.boolean().optional(),
  archive_before_diff: z.boolean().optional(),
  rollback_required: z.boolean().optional(),
  pre_check_required: z.boolean().optional(),
  post_verify_required: z.boolean().optional(),
  action_log: z.boolean().optional(),
  registry_entry: z.boolean().optional(),
  companions_applied: z.boolean().optional(),
  approval_ttl_hours: z.number().int().min(1).max(720).optional(),
  /** distinct reviewers who must admit a DOT's content before it can be proposed (raises the default) */
  admission_approvals: z.number().int().min(1).max(10).optional(),
  /** control groups: approvals that must come from members of named groups (they count towards min_approvals too) */
  group_approvals: z.array(GroupApproval).optional(),
  /**
   * an irreversible DOT citing the law is applied only when a restore drill (a DOT whose diff is
   * a restore_drill step) was applied on the same target, and passed, within this many hours
   */
  restore_drill_hours: z
    .number()
    .int()
    .min(1)
    .max(720)
    .optional()
    .describe('An irreversible DOT citing this law is applied only after a restore drill passed on the same target within this many hours.'),
});
export type Requirements = z.infer<typeof Requirements>;

/** A law of the registry. */
export const Law = z.strictObject({
  id: z.string().min(1),
  title: z.string().min(1),
  text: z.string().min(1),
  requires: Requirements,
  reversible_commands: z
    .array(z.string().regex(/^[^/\s]+$/, 'a command name without a directory'))
    .optional()
    .describe('Commands (argv[0] base names) a diff of a DOT citing this law may run without making the DOT irreversible.'),
});
export type Law = z.infer<typeof Law>;

/** `dots/laws.yaml`. */
export const LawRegistrySchema = z.strictObject({
  laws: z.array(Law).min(1),
});
export type LawRegistry = z.infer<typeof LawRegistrySchema>;
