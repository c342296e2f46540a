/**
 * The demo's watch stage: the incident's real lesson — nobody noticed for 40 hours. After A + D,
 * a watcher (an automation identity) holds their standing invariants, the governed script and
 * the backup directory; the next schema created without grants fails A's invariant at once: the
 * watch pushes DOWN, logs `invariant_failed` and drafts A for the new schema, which it may not
 * approve; a reviewer approves, the operator applies, and the next cycle pushes UP.
 */
import { GateError, type WatchReport } from '../../engine.js';
import { registerAutomation } from './registry-stage.js';
import { short } from './print.js';
import { check, type Stage } from './stage.js';
import { applyAs, SCHEMA } from './stage-tools.js';

const NEXT_SCHEMA = 'sandbox_next';
const WATCH_PATH = '/api/push/dotctl-watch';

function summary(r: WatchReport): string {
  const failing = r.checks.filter((c) => c.status === 'failing');
  return `${r.checks.length} standing checks, ${failing.length} failing${failing.length > 0 ? `: ${failing.map((c) => `"${c.name}" (${c.observed})`).join('; ')}` : ''}`;
}

export const watchStage: Stage = {
  title: 'The watch: the next schema without grants is caught at once, not 40 hours later (seed §3.6)',
  async run(ctx) {
    const { operator, reviewer1 } = ctx.people;
    const watcherPerson = await registerAutomation(ctx, 'wally');
    ctx.say(`wally: an automation identity (dotctl watch), registered by a registry change both reviewers signed; it logs and drafts, never approves or applies`);
    const watcher = await ctx.as(watcherPerson).watch({
      backupSets: [{ name: 'pg-local', dir: ctx.paths.backups, pattern: '*.sql.gz', maxAgeHours: 26, minPayloadBytes: 1024, requireComplete: true, timeFrom: 'mtime' }],
      alerts: [{ kind: 'kuma_push', url: `${ctx.listener.url}${WATCH_PATH}`, timeoutMs: 5000, retries: 2 }],
    });

    const calm = await watcher.cycle();
    ctx.say(`cycle 1: ${summary(calm)}; ${calm.changes.length} event(s) logged`);
    for (const c of calm.checks) ctx.say(`  ${c.status.padEnd(8)} ${c.kind.padEnd(13)} ${c.name}`);
    check(
      calm.failing === 0 && calm.checks.some((c) => c.kind === 'backup_set') && calm.checks.some((c) => c.kind === 'governed_file'),
      `after A + D every standing check must hold: ${summary(calm)}`,
    );

    await ctx.scratch.withClient(ctx.database, async (c) => {
      await c.query(`CREATE SCHEMA ${NEXT_SCHEMA} AUTHORIZATION "${ctx.ownerRole}"`);
      await c.query(`CREATE TABLE ${NEXT_SCHEMA}.notes (id int PRIMARY KEY, body text)`);
      await c.query(`ALTER TABLE ${NEXT_SCHEMA}.notes OWNER TO "${ctx.ownerRole}"`);
    });
    ctx.say('');
    ctx.say(`${ctx.ownerRole} creates schema ${NEXT_SCHEMA}, without a GRANT to ${ctx.dumpRole} (as ${SCHEMA} was)`);
    const mark = ctx.listener.pushes.length;
    const caught = await watcher.cycle();
    ctx.say(`cycle 2: ${summary(caught)}`);
    for (const ch of caught.changes) ctx.say(`  logged ${ch.event} (seq ${ch.seq}) by ${caught.actor}`);
    const down = ctx.listener.since(mark).filter((p) => p.path === WATCH_PATH);
    ctx.say(`  pushed ${down.map((p) => p.status?.toUpperCase()).join(', ') || 'nothing'} to the monitor: ${short(down[0]?.msg ?? '', 120)}`);
    const draft = caught.drafted.find((d) => d.proposalId !== null);
    ctx.say(`  drafted ${draft?.proposalId ?? 'nothing'}: ${draft?.dotId ?? ''} schema=${draft?.params.schema ?? '?'} owner_role=${draft?.params.owner_role ?? '?'}`);
    check(caught.failing === 1 && caught.changes.some((c) => c.event === 'invariant_failed'), `the new schema must fail A's invariant: ${summary(caught)}`);
    check(
      down.some((p) => p.status === 'down'),
      'the watch must push DOWN on the failure',
    );
    check(draft?.proposalId && draft.params.schema === NEXT_SCHEMA, `the watch must draft A for ${NEXT_SCHEMA}: ${caught.drafted.map((d) => d.error).join('; ')}`);

    let refused: GateError | null = null;
    try {
      await ctx.as(watcherPerson).approve(draft.proposalId);
    } catch (err) {
      if (!(err instanceof GateError)) throw err;
      refused = err;
    }
    check(refused, 'the automation identity must not approve its own draft');
    ctx.say(`wally approves its draft → refused, exit ${refused.exitCode}: ${refused.message}`);
    await ctx.as(reviewer1).approve(draft.proposalId, `grant ${NEXT_SCHEMA} to the dump role, as the watch drafted`);
    const applied = await applyAs(ctx, operator, draft.proposalId);
    ctx.say(`${reviewer1.name} approves, ${operator.name} applies ${draft.proposalId}: ${applied.outcome}`);
    check(applied.outcome === 'applied', `the drafted proposal must apply: ${applied.message}`);

    const mark2 = ctx.listener.pushes.length;
    const healed = await watcher.cycle();
    const up = ctx.listener.since(mark2).filter((p) => p.path === WATCH_PATH);
    ctx.say(`cycle 3: ${summary(healed)}; logged ${healed.changes.map((c) => c.event).join(', ') || 'nothing'}; pushed ${up.map((p) => p.status?.toUpperCase()).join(', ') || 'nothing'}`);
    check(healed.failing === 0 && up.some((p) => p.status === 'up'), `after the drafted A every check must hold and UP be pushed: ${summary(healed)}`);
    const quiet = await watcher.cycle();
    ctx.say(`cycle 4: nothing changed → ${quiet.changes.length} event(s) logged, ${quiet.alerts.length} alert(s) sent`);
    check(quiet.changes.length === 0 && quiet.alerts.length === 0, 'a cycle where nothing changes must log and push nothing');
    return { watcher: 'wally', drafted: draft.proposalId, schema: NEXT_SCHEMA, pushed: [...down, ...up].map((p) => p.status) };
  },
};
