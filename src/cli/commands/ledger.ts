/**
 * Ledger read commands: `log`, `log verify`, `proposals`, `status`. They open the ledger in
 * read mode (a missing ledger is reported, never created) and load the ledger modules lazily.
 */
import type { Command } from 'commander';
import type { DecisionRecord, LogRow, ProposalRecord, ProposalSummary, LogOptions, Signing } from '../../engine.js';
import { action, alignColumns, engineFor, globalOptions, out, outJson, outJsonLine } from '../context.js';
import { crossCheckOptions, registerCheckpointCommand, reportCrossCheck } from './witness.js';
import { provisionLedgerRoles, readLog, verifyLog, LedgerError, listProposalPage, ledgerOverview } from '../../engine.js';

/** Registers `log`, `log verify`, `proposals`, `status` (ledger issue) and `ledger roles`. */
export function registerLedgerCommands(program: Command): void {
  const ledgerCmd = program.commands.find((c) => c.name() === 'ledger') ?? program.command('ledger');
  ledgerCmd
    .command('roles')
    .description('PostgreSQL ledger: make a NOLOGIN owner role own it and give a writer role only SELECT and INSERT (run with a superuser --ledger URL)')
    .requiredOption('--owner-role <name>', 'the role that owns the ledger schema (created NOLOGIN when absent)')
    .requiredOption('--writer-role <name>', 'the login operators use (created when absent): it may read and append, nothing else')
    .option('--json', 'print what was done as JSON')
    .action(
      action(async (opts: { ownerRole: string; writerRole: string; json?: boolean }, cmd: Command) => {
        const r = await provisionLedgerRoles((await globalOptions(cmd)).ledger, { owner: opts.ownerRole, writer: opts.writerRole });
        if (opts.json === true) {
          return outJson({
            database: r.database,
            owner_role: r.owner,
            writer_role: r.writer,
            created_owner: r.createdOwner,
            created_writer: r.createdWriter,
            found_version: r.foundVersion,
            schema_version: r.schemaVersion,
            reowned: r.reowned,
          });
        }
        const made = (created: boolean): string => (created ? 'created' : 'existing');
        out(
          `ledger ${r.database}: owned by ${r.owner} (${made(r.createdOwner)}, NOLOGIN), schema version ${r.schemaVersion}${r.foundVersion === null ? ' (created)' : r.foundVersion < r.schemaVersion ? ` (upgraded from ${r.foundVersion})` : ''}${r.reowned > 0 ? `, ${r.reowned} object(s) taken over` : ''}`,
        );
        out(`writer ${r.writer} (${made(r.createdWriter)}): CONNECT, USAGE, SELECT, INSERT only; connect dotctl as it: --ledger postgres://${r.writer}@HOST/${r.database}`);
      }),
    );

  const log = program
    .command('log')
    .description('show dot_action_log (oldest first); `log verify` re-proves its hash chain')
    .option('--proposal <id>', 'only events of this proposal')
    .option('--dot <id>', 'only events of this DOT')
    .option('--actor <name>', 'only events by this actor')
    .option('--event <kind>', 'only events of this kind (proposed, approved, applied, …)')
    .option('--since <iso>', 'only events at or after this time (e.g. 2024-05-01 or 2024-05-01T08:00:00Z)')
    .option('--limit <n>', 'only the latest N matching events')
    .option('--json', 'one JSON object per line (JSON Lines)')
    .action(
      action(async (opts: LogOptions, cmd: Command) => {
        const rows = await readLog((await globalOptions(cmd)).ledger, opts);
        if (opts.json === true) {
          for (const r of rows) outJsonLine(r);
        } else if (rows.length === 0) {
          out('no events match');
        } else {
          for (const line of formatLogTable(rows)) out(line);
        }
      }),
    );

  log
    .command('verify')
    .description(
      "re-prove the hash chain of dot_action_log, every signed head and the identity registry; with --target, cross-check the target's witness; with --checkpoint, a signed checkpoint; exit 7 naming what is wrong",
    )
    .option('--checkpoint <file>', 'prove the ledger still contains the head this checkpoint (dotctl log checkpoint) signed')
    .option('--json', 'print the verdict as JSON')
    .action(
      action(async (opts: { checkpoint?: string }, cmd: Command) => {
        const json = cmd.optsWithGlobals<{ json?: boolean }>().json === true;
        const cross = crossCheckOptions(cmd, opts.checkpoint);
        const verdict = cross ? await (await engineFor(cmd)).verifyLog(cross) : await verifyLog((await globalOptions(cmd)).ledger);
        if (json) outJson(verdict);
        switch (verdict.kind) {
          case 'intact':
            if (!json) out(`dot_action_log intact: ${verdict.rows} rows, head ${verdict.headHash}; ${describeSigning(verdict)}`);
            return reportCrossCheck(verdict, json);
          case 'broken':
            throw new LedgerError(`dot_action_log is broken at seq ${verdict.seq}: ${verdict.message}; restore the ledger from a backup and find out who changed it before trusting it`, {
              code: 'LEDGER_BROKEN',
              context: { ...verdict },
            });
          default:
            return assertNever(verdict);
        }
      }),
    );

  registerCheckpointCommand(log);

  program
    .command('proposals')
    .description(`list stored proposals, oldest first: the latest ${DEFAULT_PAGE} unless told (--limit N, --all)`)
    .option('--state <state>', 'only proposals in this state (proposed, applying, applied, …)')
    .option('--limit <n>', `only the latest N (default ${DEFAULT_PAGE})`)
    .option('--all', 'every proposal (on a big ledger, a long list)')
    .option('--json', 'print a JSON array of the full records (frozen content included)')
    .action(
      action(async (opts: { state?: string; limit?: string; all?: boolean; json?: boolean }, cmd: Command) => {
        const page = await listProposalPage((await globalOptions(cmd)).ledger, { ...opts, full: opts.json === true });
        if (opts.json === true) return outJson(page.list);
        if (page.list.length === 0) return out(page.state === undefined ? 'no proposals' : `no proposals in state ${page.state}`);
        for (const line of formatProposalTable(page.list)) out(line);
        if (page.more) out(`(the latest ${page.limit} shown; older ones exist: --limit N shows more, --all every one)`);
      }),
    );

  program
    .command('status')
    .description('show one proposal: its fields, the gate decision with every unmet requirement, decisions and events; without one, the ledger: proposals per state and the latest few')
    .argument('[proposal]', 'proposal id')
    .option('--json', 'print {proposal, decisions, events, gate, …} (without a proposal: {counts, total, latest, head}) as JSON')
    .action(
      action(async (id: string | undefined, opts: { json?: boolean }, cmd: Command) => {
        if (id === undefined) return ledgerStatus(cmd, opts.json === true);
        const st = await (await engineFor(cmd)).status(id);
        if (opts.json === true) return outJson(st);
        const lines = formatStatus(st.proposal, st.decisions, st.events);
        const at = lines.indexOf('');
        const gate: string[] = ['', 'gate'];
        if (st.liveness) gate.push(`  ${st.liveness}`);
        if (st.currentHash !== st.proposal.hash) gate.push(`  the hash recomputed from today's DOT files is ${st.currentHash.slice(0, 16)}…: approvals of the stored hash are void`);
        const settled = SETTLED[st.proposal.state];
        if (settled) gate.push(`  ${settled.replace(/<P>/g, id)}`);
        else if (st.gate) {
          gate.push(`  ${st.gate.kind === 'allow' ? 'ready to apply' : 'not ready to apply'}${st.gate.approvers.length > 0 ? `; valid approvals: ${st.gate.approvers.join(', ')}` : ''}`);
          for (const u of st.gate.unmet) gate.push(`  - ${u.message}`);
          for (const d of st.gate.discounted) gate.push(`  - not counted: ${d.reason}`);
        }
        if (st.note) gate.push(`  ${st.note}`);
        lines.splice(at, 0, ...gate);
        for (const line of lines) out(line);
      }),
    );
}

/** How many proposals `proposals` lists when not told (the engine's DEFAULT_PROPOSAL_PAGE, kept here so help loads no engine). */
const DEFAULT_PAGE = 50;

/** `dotctl status` without a proposal: proposals per state, the latest few and the log's head, read through indexes. */
async function ledgerStatus(cmd: Command, json: boolean): Promise<void> {
  const o = await ledgerOverview((await globalOptions(cmd)).ledger);
  if (json) return outJson(o);
  const states = Object.entries(o.counts).map(([state, n]) => `${state} ${n}`);
  out(`proposals  ${o.total}${states.length > 0 ? ` (${states.join(', ')})` : ''}`);
  out(o.head === null ? 'action log  empty' : `action log  ${o.head.seq} rows, the last at ${o.head.at} (${o.head.event}); dotctl log verify re-proves it`);
  if (o.latest.length === 0) return;
  out();
  out(`latest ${o.latest.length}`);
  for (const line of formatProposalTable(o.latest)) out(`  ${line}`);
}

/** What `log verify` says of an intact log's signatures. */
export function describeSigning(v: Signing & { readonly rows: number }): string {
  if (!v.registry) return `no identity registry: all ${v.rows} rows are legacy, unsigned (dotctl ledger upgrade signs from then on)`;
  const legacy = v.legacyRows > 0 ? `${v.legacyRows} legacy rows (unsigned, before the upgrade), ` : '';
  const tail =
    v.unsignedTail > 0
      ? `, unsigned tail ${v.unsignedTail} rows by ${v.tailActors.join(', ')} (commands still running, or one that stopped before it signed; the next command's head covers them)`
      : ', unsigned tail 0 rows';
  return `${legacy}signed through seq ${v.signedThrough} (${v.heads} signed heads)${tail}`;
}

/** What the gate section says of a proposal that is past applying: no "not ready to apply" for what was applied. */
const SETTLED: Readonly<Record<string, string>> = {
  applied: 'applied: the gate was passed when it was applied; dotctl rollback <P> undoes it (an operator who did not approve it)',
  rolled_back: 'rolled back: nothing of it is left to apply or undo',
  failed: 'failed and rolled back: propose again to retry; dotctl rollback <P> runs its rollback again if something was left',
  needs_attention: 'needs attention: see the last event and its left_to_do; dotctl rollback <P> cleans up what the apply left',
  withdrawn: 'withdrawn: it can never be applied',
  rejected: 'rejected: it can never be applied',
  expired: 'expired: propose again',
};

const DETAIL_WIDTH = 60;

/** Short one-line form of an event's detail, truncated to DETAIL_WIDTH characters. */
export function summarizeDetail(detail: Readonly<Record<string, unknown>>): string {
  // the state a row sets is the ledger's own bookkeeping (the EVENT column says it); --json shows it
  const { proposal_state: _state, prev_state_seq: _prev, ...shown } = detail;
  if (Object.keys(shown).length === 0) return '-';
  const text = JSON.stringify(shown);
  return text.length <= DETAIL_WIDTH ? text : `${text.slice(0, DETAIL_WIDTH - 1)}…`;
}

const dash = (v: string | null): string => (v === null || v === '' ? '-' : v);

/** The `dotctl log` table: one line per event under a header. */
export function formatLogTable(rows: readonly LogRow[]): string[] {
  return alignColumns([
    ['SEQ', 'TIME', 'ACTOR', 'EVENT', 'PROPOSAL', 'DOT', 'ACTION CODE', 'OUTCOME', 'DETAIL'],
    ...rows.map((r) => [String(r.seq), r.at, r.actor, r.event, dash(r.proposalId), dash(r.dotId), dash(r.actionCode), dash(r.outcome), summarizeDetail(r.detail)]),
  ]);
}

/** The `dotctl proposals` table. */
export function formatProposalTable(list: readonly (ProposalSummary | ProposalRecord)[]): string[] {
  return alignColumns([['ID', 'STATE', 'DOTS', 'CREATED BY', 'CREATED AT', 'EXPIRES AT'], ...list.map((p) => [p.id, p.state, p.dotIds.join(','), p.createdBy, p.createdAt, dash(p.expiresAt)])]);
}

/** The `dotctl status` report: fields, then decisions, then events. */
export function formatStatus(p: ProposalRecord, decisions: readonly DecisionRecord[], events: readonly LogRow[]): string[] {
  const lines = alignColumns([
    ['proposal', p.id],
    ['state', p.state],
    ['DOTs', p.dotIds.join(', ')],
    ['hash', p.hash],
    ['created', `${p.createdAt} by ${p.createdBy}`],
    ['expires', dash(p.expiresAt)],
    ['target', dash(p.targetFingerprint)],
    ['params', JSON.stringify(p.params)],
  ]);
  lines.push('', `decisions (${decisions.length})`);
  if (decisions.length > 0) {
    const table = alignColumns([
      ['AT', 'DECISION', 'BY', 'COVERS', 'EXPIRES AT', 'COMMENT'],
      ...decisions.map((d) => [d.at, d.kind, d.actor, d.hashSigned === p.hash ? 'this hash' : `other hash ${d.hashSigned.slice(0, 12)}`, dash(d.expiresAt), dash(d.comment)]),
    ]);
    lines.push(...table.map((l) => `  ${l}`));
  }
  lines.push('', `events (${events.length})`);
  if (events.length > 0) lines.push(...formatLogTable(events).map((l) => `  ${l}`));
  return lines;
}

function assertNever(x: never): never {
  throw new Error(`unexpected verdict ${JSON.stringify(x)}`);
}
