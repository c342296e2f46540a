/**
 * The demo's restore drill: before C2 may drop anything, CONST-IRREVERSIBLE asks for proof that
 * the backups restore — DOT-PG-RESTORE-DRILL, proposed, approved and applied like any change. It
 * restores the newest good dump (the one stage 4 made; the 20-byte file of stage 2 is passed
 * over) into a scratch database, compares the row counts with the live database and drops it.
 */
import { formatBytes } from '../../engine.js';
import { short } from './print.js';
import { check, type Stage } from './stage.js';
import { applyAs, pairsFor } from './stage-tools.js';

const DRILL = 'DOT-PG-RESTORE-DRILL';

export const restoreDrill: Stage = {
  title: 'A restore drill: the newest good backup restored and compared, as C2 requires (CONST-IRREVERSIBLE)',
  async run(ctx) {
    const { operator, reviewer1, auditor } = ctx.people;
    const hours = ctx.catalogue.laws.get('CONST-IRREVERSIBLE')?.requires.restore_drill_hours;
    ctx.say(`CONST-IRREVERSIBLE: no irreversible change (C2) unless a restore drill passed on the same target within ${hours ?? '?'} h`);
    check(hours !== undefined, 'CONST-IRREVERSIBLE must name the hours within which a restore drill passed');
    const p = await ctx.as(operator).propose([DRILL], pairsFor(ctx, [DRILL]));
    ctx.say(`${operator.name} proposes ${DRILL}: ${p.id}, hash ${short(p.hash)} (risk ${p.requirements.dualControl ? 'irreversible' : 'reversible'}: it only reads the live database)`);
    check(!p.requirements.dualControl, 'a restore drill changes nothing of the target: one approval must do');
    const d = await ctx.as(reviewer1).approve(p.id, 'drill before C2');
    ctx.say(`${reviewer1.name} approves: gate ${d.gate.kind === 'allow' ? 'ready to apply' : `not ready — ${d.gate.unmet.map((u) => u.message).join('; ')}`}`);
    const r = await applyAs(ctx, operator, p.id);
    const step = r.steps.find((s) => s.kind === 'restore_drill');
    ctx.say(`${operator.name} applies ${p.id}: ${r.outcome}`);
    ctx.say(`  ${step?.observed ?? 'no drill step'}`);
    const logged = await ctx.as(auditor).log({ proposal: p.id, event: 'step_passed' });
    const detail = (logged.find((e) => (e.detail as { kind?: unknown }).kind === 'restore_drill')?.detail ?? {}) as Record<string, unknown>;
    const scratch = String(detail.scratch_database ?? '');
    const left = await ctx.scratch.withClient(null, async (c) => Number((await c.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [scratch])).rows[0]?.n ?? -1));
    ctx.say(
      `  recovery time ${Number(detail.restore_ms)} ms for ${String(detail.dump)} (${formatBytes(Number(detail.dump_bytes))}, ${formatBytes(Number(detail.restored_bytes))} restored); ${scratch} dropped: ${left === 0 ? 'yes' : 'NO'}`,
    );
    check(detail.rows === 243 && typeof detail.restore_ms === 'number', `the drill must restore the seed's 243 rows and log its duration: ${JSON.stringify(detail)}`);
    check(scratch !== '' && left === 0, `the drill's scratch database ${scratch || '(unnamed)'} must be dropped`);
    return { proposal: p.id, dump: detail.dump, restoreMs: detail.restore_ms, restoredBytes: detail.restored_bytes, rows: detail.rows, scratchDropped: left === 0 };
  },
};
