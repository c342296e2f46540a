/**
 * The demo's last stage: the auditor reads dot_action_log (compacted), proves its chain and signed
 * heads, cross-checks the target's witness and proves a signed checkpoint.
 */
import type { LogRow } from '../../engine.js';
import { auditWitness } from './audit-witness.js';
import { columns, short } from './print.js';
import { check, type Person, type Stage } from './stage.js';

function compactLog(rows: readonly LogRow[], people: readonly Person[]): string[] {
  const roleOf = (actor: string): string => people.find((p) => p.name === actor)?.role ?? '';
  const out: string[][] = [['SEQ', 'TIME', 'ACTOR', 'EVENT', 'PROPOSAL', 'ACTION CODE', 'OUTCOME']];
  let i = 0;
  while (i < rows.length) {
    const r = rows[i]!;
    if (r.event === 'step_passed' || r.event === 'step_failed') {
      let j = i;
      while (j + 1 < rows.length && rows[j + 1]!.proposalId === r.proposalId && (rows[j + 1]!.event === 'step_passed' || rows[j + 1]!.event === 'step_failed')) j += 1;
      const run = rows.slice(i, j + 1);
      const failed = run.filter((x) => x.event === 'step_failed').length;
      out.push([
        `${r.seq}–${rows[j]!.seq}`,
        r.at.slice(11, 19),
        `${r.actor}${roleOf(r.actor) ? ` (${roleOf(r.actor)})` : ''}`,
        `${run.length} × step`,
        r.proposalId ?? '-',
        [...new Set(run.map((x) => x.actionCode))].join(', '),
        failed ? `${failed} failed` : 'all passed',
      ]);
      i = j + 1;
      continue;
    }
    out.push([String(r.seq), r.at.slice(11, 19), `${r.actor}${roleOf(r.actor) ? ` (${roleOf(r.actor)})` : ''}`, r.event, r.proposalId ?? '-', r.actionCode ?? '-', r.outcome ?? '-']);
    i += 1;
  }
  return columns(out, '');
}

export const audit: Stage = {
  title: 'The auditor reads dot_action_log, re-proves its hash chain, cross-checks the target and signs a checkpoint',
  async run(ctx) {
    const { auditor } = ctx.people;
    // the same reads as `dotctl log`, `dotctl log verify` and `dotctl proposals`
    const engine = ctx.as(auditor);
    const rows = await engine.log();
    const verdict = await engine.verifyLog();
    const proposals = await engine.proposals();
    ctx.say(`${auditor.name} (auditor) reads ${ctx.paths.ledger} — ${rows.length} rows (consecutive step rows folded):`);
    for (const l of compactLog(rows, Object.values(ctx.people))) ctx.say(`  ${l}`);
    ctx.say('');
    for (const p of proposals) ctx.say(`proposal ${p.id}: ${p.dotIds.join(' + ')} — ${p.state}`);
    check(
      proposals.length === 4 && proposals.every((p) => p.state === 'applied'),
      `all four proposals (A + D, the watch's drafted A, the restore drill, C2) must be applied: ${proposals.map((p) => `${p.id} ${p.state}`).join(', ')}`,
    );
    for (const e of ['proposed', 'approved', 'refused', 'apply_started', 'step_passed', 'applied'] as const) {
      check(
        rows.some((r) => r.event === e),
        `the action log must hold a ${e} event`,
      );
    }
    check(verdict.kind === 'intact', verdict.kind === 'broken' ? `log verify: the chain is broken at seq ${verdict.seq}: ${verdict.message}` : '');
    check(verdict.rows === rows.length, `log verify saw ${verdict.rows} rows, the log has ${rows.length}`);
    ctx.say(`log verify: dot_action_log intact — ${verdict.rows} rows, every row's hash re-computed and linked, head ${short(verdict.headHash, 16)}`);
    ctx.say(`  ${verdict.heads} heads, each signed by the member who acted, cover every row through seq ${verdict.signedThrough}; unsigned tail: ${verdict.unsignedTail}`);
    const witness = await auditWitness(ctx);
    return { rows: verdict.rows, headHash: verdict.headHash, proposals: proposals.map((p) => ({ id: p.id, dots: p.dotIds, state: p.state })), witness };
  },
};
