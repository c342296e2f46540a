/**
 * The stages of `dotctl demo`: the seed's incident (P9-G6) recreated on a scratch
 * database, the silent failed backup shown, and the fix taken through the governed pipeline
 * (propose → approve → apply → audit) with the real engine, real scripts and real tools.
 * Each stage asserts what it claims; the first claim that does not hold stops the demo.
 */
import { copyFile, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import { GateError, auditBackupDir, formatBackupAudit, formatBytes, generateKeyFile } from '../../engine.js';
import { buildIncident, SEED_ROWS, SEED_TABLES } from './incident.js';
import { KUMA_PATH } from './backup-script.js';
import { columns, firstLine, short } from './print.js';
import { check, PEOPLE, type Person, type Stage } from './stage.js';
import { addMemberByQuorum, initDemoLedger } from './registry-stage.js';
import { restoreDrill } from './drill-stage.js';
import { audit } from './audit-stage.js';
import { watchStage } from './watch-stage.js';

import { SCHEMA, VERIFY_PATH, runBackup, describePushes, tool, pairsFor, rowCounts, expectSeedRows, rowLine, schemaExists, summarizeSteps, stepObserved, applyAs } from './stage-tools.js';
const incident: Stage = {
  title: 'The incident: schema sandbox_tac, data, and a dump role without USAGE (seed §1)',
  async run(ctx) {
    const { database, ownerRole, dumpRole } = ctx;
    await ctx.scratch.createRole('owner');
    await ctx.scratch.createRole('dump', { login: true, password: ctx.dumpPassword });
    await ctx.scratch.createDatabase();
    await ctx.scratch.withClient(database, (c) => buildIncident(c, { database, schema: SCHEMA, ownerRole, dumpRole }));
    ctx.say(`database ${database} on ${ctx.server.display}`);
    ctx.say(`roles    ${ownerRole} (the seed's workflow_admin, owns ${SCHEMA}), ${dumpRole} (the seed's directus, the backup's DB_USER)`);

    const inv = await ctx.scratch.withClient(database, async (c) => {
      const r = await c.query(
        `SELECT pg_get_userbyid(n.nspowner) AS owner,
                (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'r')::int AS tables,
                (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'i')::int AS indexes,
                (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'S')::int AS sequences,
                (SELECT count(*) FROM pg_proc p WHERE p.pronamespace = n.oid)::int AS functions,
                (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = n.oid AND NOT t.tgisinternal)::int AS triggers
           FROM pg_namespace n WHERE n.nspname = $1`,
        [SCHEMA],
      );
      const p = await c.query(
        `SELECT r.name, has_schema_privilege(r.name, $1, 'USAGE') AS usage, has_schema_privilege(r.name, $1, 'CREATE') AS create
           FROM unnest($2::text[]) WITH ORDINALITY AS r(name, i) ORDER BY r.i`,
        [SCHEMA, [ownerRole, dumpRole]],
      );
      const row = r.rows[0] as { owner: string; tables: number; indexes: number; sequences: number; functions: number; triggers: number };
      return { ...row, privileges: p.rows as { name: string; usage: boolean; create: boolean }[] };
    });
    check(inv.owner === ownerRole, `${SCHEMA} is owned by ${String(inv.owner)}, not ${ownerRole}`);
    check(inv.tables === 8, `${SCHEMA} has ${String(inv.tables)} tables, the seed has 8`);
    ctx.say(`objects  ${SCHEMA}: ${inv.tables} tables, ${inv.indexes} indexes, ${inv.sequences} sequences, ${inv.functions} functions, ${inv.triggers} triggers`);

    const counts = await rowCounts(ctx, database);
    const total = expectSeedRows(counts, 'the incident');
    ctx.say(`rows     ${SEED_TABLES.map(([t]) => `${t} ${counts[t]}`).join(' · ')}`);
    ctx.say(`         = ${total} live rows (seed §1.4: 76/76/76/11/3/1/0/0 = 243)`);
    for (const p of inv.privileges) ctx.say(`USAGE/CREATE on ${SCHEMA}: ${p.name} ${p.usage ? 't' : 'f'}/${p.create ? 't' : 'f'}`);
    const dump = inv.privileges.find((p) => p.name === dumpRole);
    check(dump && !dump.usage && !dump.create, `${dumpRole} must have neither USAGE nor CREATE on ${SCHEMA} (seed §1.2)`);
    return {
      database,
      ownerRole,
      dumpRole,
      objects: { tables: inv.tables, indexes: inv.indexes, sequences: inv.sequences, functions: inv.functions, triggers: inv.triggers },
      rows: counts,
      totalRows: total,
    };
  },
};

const silentFailure: Stage = {
  title: 'The nightly backup before the fix: a 20-byte "valid" gzip and no alert (seed §2.1, §3.4)',
  async run(ctx) {
    await mkdir(ctx.paths.backups, { recursive: true, mode: 0o700 });
    await mkdir(join(ctx.paths.script, '..'), { recursive: true });
    await copyFile(join(ctx.examplesDir, 'pg-backup.sh'), ctx.paths.script);
    await chmod(ctx.paths.script, 0o755);
    ctx.say(`examples/pg-backup.sh (the script in place during the incident) copied to ${ctx.paths.script}`);
    ctx.say(`run as cron would, without Docker: PG_DUMP_CMD="pg_dump -h ${ctx.server.host} -p ${ctx.server.port}" DB_USER=${ctx.dumpRole} DB_NAME=${ctx.database}`);
    ctx.say(`  BACKUP_DIR=${ctx.paths.backups} KUMA_PUSH_URL=${ctx.listener.url}${KUMA_PATH}`);
    const b = await runBackup(ctx);
    const pgError = firstLine(b.run.stderr, /permission denied/);
    ctx.say(`exit ${b.run.exitCode}  stderr: ${pgError || firstLine(b.run.stderr)}`);
    check(b.run.exitCode !== 0, 'the pre-hardening script must fail: the dump role cannot read sandbox_tac');
    check(/permission denied for schema sandbox_tac/.test(b.run.stderr), `pg_dump must fail with "permission denied for schema sandbox_tac"; stderr was: ${b.run.stderr.trim()}`);

    const left = b.created;
    check(left.length === 1, `the script must leave exactly one artefact behind, found: ${left.join(', ') || 'none'}`);
    const name = left[0]!;
    const size = (await stat(join(ctx.paths.backups, name))).size;
    ctx.say(`left behind: ${name}, ${size} bytes`);
    check(size === 20, `the artefact must be the 20-byte gzip header of an empty stream, it is ${size} bytes`);

    const gz = await tool(ctx, ['gzip', '-t', join(ctx.paths.backups, name)], ctx.database);
    ctx.say(`gzip -t ${name}: exit ${gz.exitCode} — gzip calls it valid`);
    check(gz.exitCode === 0, `gzip -t must call the 20-byte artefact valid (that is the trap), it exited ${gz.exitCode}`);

    const audit = await auditBackupDir(ctx.paths.backups);
    const f = audit.files.find((x) => x.name === name);
    ctx.say(`backup audit: payload ${f?.payloadBytes} bytes → ${f?.verdict.toUpperCase()} (${f?.reasons[0] ?? ''})`);
    check(f?.verdict === 'broken' && f.payloadBytes === 0 && f.gzipValid === true, 'the audit must call a gzip-valid file with an empty payload a failed backup');
    check(audit.status === 'broken', 'the audit must report the newest backup as broken');

    ctx.say(`heartbeat listener: ${describePushes(b.pushes)} — no UP, and no DOWN either: only the absence of a push hints at the failure`);
    check(b.pushes.length === 0, `the pre-hardening script must push nothing on failure, it pushed: ${describePushes(b.pushes)}`);
    return { exitCode: b.run.exitCode, artefact: name, bytes: size, gzipTest: gz.exitCode, payloadBytes: f.payloadBytes, verdict: f.verdict, pushes: b.pushes.length };
  },
};

const identities: Stage = {
  title: 'Identities: four people with fresh Ed25519 keys, the ledger registry signed by all, a fifth added by quorum; the catalogue admitted',
  async run(ctx) {
    let yaml = '# dotctl identities of the demo (written by dotctl demo)\nidentities:\n';
    const rows: string[][] = [['NAME', 'ROLE', 'KEY FILE', 'MODE', 'PUBLIC KEY']];
    for (const p of Object.values(ctx.people)) {
      const k = await generateKeyFile(p.name, ctx.paths.keys);
      check(k.file === p.key, `the key of ${p.name} was written to ${k.file}, expected ${p.key}`);
      const mode = (await stat(k.file)).mode & 0o777;
      check(mode === 0o600, `the key file ${k.file} must be 0600, it is ${mode.toString(8)}`);
      yaml += `  - name: ${p.name}\n    roles: [${p.role}]\n    public_key: ${k.publicKey}\n`;
      rows.push([p.name, p.role, k.file.split(ctx.paths.work).join('$WORK'), mode.toString(8), short(k.publicKey, 24)]);
    }
    await writeFile(ctx.paths.identities, yaml);
    for (const l of columns(rows, '')) ctx.say(l);
    ctx.say(`identities file: ${ctx.paths.identities}`);
    ctx.say('the engine derives who is acting from the key that signs, never from a flag');
    const genesis = await initDemoLedger(ctx);
    // a DOT is code that runs with the target's privileges: nothing of it runs until reviewers admit its exact files
    const { reviewer1, reviewer2 } = ctx.people;
    await ctx.as(reviewer1).admit('all', 'read every line of the seed fixes');
    const admitted = await ctx.as(reviewer2).admit('all', 'second reader of the seed fixes');
    const pending = admitted.filter((a) => a.decision.kind !== 'admitted');
    check(pending.length === 0, `after two reviewers, ${pending.map((a) => a.dotId).join(', ')} is still not admitted`);
    ctx.say(`${reviewer1.name} and ${reviewer2.name} admit the ${admitted.length} seed DOTs (Ed25519 signatures over each DOT's content hash: YAML, diffs, laws)`);
    const change = await addMemberByQuorum(ctx);
    return { identities: Object.values(ctx.people).map((p) => ({ name: p.name, role: p.role })), admitted: admitted.map((a) => a.dotId), ...genesis, ...change };
  },
};

const grantAndHarden: Stage = {
  title: 'Fix now (seed §5 recommendation): A GRANT + D harden — propose, approve, apply, prove',
  async run(ctx) {
    const { operator, reviewer1 } = ctx.people;
    const p = await ctx.as(operator).propose(['A', 'D'], pairsFor(ctx, ['A', 'D']));
    ctx.say(`${operator.name} proposes ${p.dots.join(' + ')}: ${p.id}, hash ${short(p.hash)}`);
    ctx.say(`  evidence: ${p.evidence.length} read-only hard stops and pre-checks passed on ${p.target}, e.g.`);
    for (const name of ['Dump role has no USAGE on the schema yet', 'Broken artefacts in the backup directory', 'Script is not hardened yet']) {
      const e = p.evidence.find((x) => x.name === name);
      if (e) ctx.say(`    ${e.dotId} · ${e.name}: ${e.observed}`);
    }
    ctx.say(`  gate: ${p.requirements.minApprovals} approval(s) from a reviewer other than the proposer; rendered to ${p.markdownPath}`);

    const d = await ctx.as(reviewer1).approve(p.id, 'A + D per seed §5: restore the backup now');
    ctx.say(
      `${reviewer1.name} approves (Ed25519 signature over ${short(d.hash)}): gate ${d.gate.kind === 'allow' ? 'ready to apply' : `not ready — ${d.gate.unmet.map((u) => u.message).join('; ')}`}`,
    );
    check(d.gate.kind === 'allow', `after one approval A + D must be ready to apply: ${d.gate.unmet.map((u) => u.message).join('; ')}`);

    const mark = ctx.listener.pushes.length;
    const r = await applyAs(ctx, operator, p.id);
    ctx.say(`${operator.name} applies ${p.id}: ${r.outcome}, ${r.steps.length} steps logged`);
    for (const l of summarizeSteps(r)) ctx.say(l);
    ctx.say(`    patch: ${stepObserved(r, 'Add error trap, pg_dump isolation and USAGE pre-flight')}`);
    const trap = r.steps.find((s) => s.name === 'A failing pg_dump fires the trap');
    ctx.say(
      `    post-verify "${trap?.name}": ${trap?.outcome} — ${/^exit \d+/.exec(trap?.observed ?? '')?.[0] ?? '?'}, ${/backup failed \(rc=\d+\)/.exec(trap?.observed ?? '')?.[0] ?? 'no trap message'}`,
    );
    const verifyPushes = ctx.listener.since(mark).filter((x) => x.path === VERIFY_PATH);
    ctx.say(`    the post-verify's rehearsed failure pushed ${describePushes(verifyPushes)}`);
    check(
      verifyPushes.some((x) => x.status === 'down'),
      "D's post-verify must see the patched script push DOWN on a failing pg_dump",
    );
    const script = await readFile(ctx.paths.script, 'utf8');
    check(script.includes('trap cleanup_on_error ERR'), 'the applied script must install the ERR trap');

    ctx.say('');
    ctx.say('the nightly backup again, with the hardened script and the grants:');
    const good = await runBackup(ctx);
    const made = good.created;
    const goodName = made[0] ?? '';
    const goodPath = join(ctx.paths.backups, goodName);
    const size = goodName ? (await stat(goodPath)).size : 0;
    ctx.say(`exit ${good.run.exitCode}  ${firstLine(good.run.stdout, /OK size=/)}`);
    check(good.run.exitCode === 0, `the hardened script must back up after the grants; exit ${good.run.exitCode}: ${good.run.stderr.trim()}`);
    check(made.length === 1 && goodPath === good.file, `exactly the new backup must appear, found: ${made.join(', ') || 'none'}`);
    check(size > 1024, `a real dump is larger than 1 KiB, ${goodName} is ${size} bytes`);
    const gz = await tool(ctx, ['gzip', '-t', goodPath], ctx.database);
    const audited = (await auditBackupDir(ctx.paths.backups)).files.find((f) => f.name === goodName);
    ctx.say(`backup: ${goodName}, ${formatBytes(size)} (${size} bytes), gzip -t exit ${gz.exitCode}, payload ${formatBytes(audited?.payloadBytes ?? 0)} → ${audited?.verdict.toUpperCase()}`);
    check(gz.exitCode === 0 && audited?.verdict === 'good', `the new backup must pass gzip -t and the audit: ${audited?.reasons.join('; ')}`);
    ctx.say(`heartbeat: ${describePushes(good.pushes)}`);
    check(good.pushes.length === 1 && good.pushes[0]?.status === 'up' && good.pushes[0].path === KUMA_PATH, `a good backup must push UP once, pushes: ${describePushes(good.pushes)}`);

    // Restorable: replay the plain SQL dump into a fresh database and count the seed's rows there.
    const restoreDb = await ctx.scratch.createDatabase('restore');
    const restore = await tool(ctx, ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', restoreDb], restoreDb, createReadStream(goodPath).pipe(createGunzip()));
    check(restore.exitCode === 0, `restoring ${goodName} with psql failed (exit ${restore.exitCode}): ${firstLine(restore.stderr)}`);
    const restored = await rowCounts(ctx, restoreDb);
    expectSeedRows(restored, `the restore of ${goodName}`);
    ctx.say(`restore: gunzip | psql -v ON_ERROR_STOP=1 into ${restoreDb} → exit 0, ${SCHEMA} rows ${rowLine(restored)}`);

    ctx.say('');
    ctx.say('a forced dump failure (the next auth failure, full disk, missing GRANT…):');
    const fail = await runBackup(ctx, { PG_DUMP_CMD: 'false' });
    ctx.say(
      `exit ${fail.run.exitCode}  stderr: ${fail.run.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('[ERROR]'))
        .join(' · ')}`,
    );
    const newFiles = fail.created;
    ctx.say(`new files in the backup directory: ${newFiles.length === 0 ? 'none' : newFiles.join(', ')}`);
    ctx.say(`heartbeat: ${describePushes(fail.pushes)}`);
    check(fail.run.exitCode !== 0, 'the hardened script must exit non-zero when pg_dump fails');
    check(newFiles.length === 0, `a failed run must leave no artefact, found: ${newFiles.join(', ')}`);
    check(fail.removed.length === 0, `the failed run must not touch earlier backups, it removed ${fail.removed.join(', ')}`);
    check(fail.pushes.length === 1 && fail.pushes[0]?.status === 'down' && fail.pushes[0].path === KUMA_PATH, `a failed backup must push DOWN once, pushes: ${describePushes(fail.pushes)}`);

    const audit = await auditBackupDir(ctx.paths.backups);
    ctx.say('');
    ctx.say('backup audit of the directory now:');
    for (const l of formatBackupAudit(audit)) ctx.say(`  ${l}`);
    check(audit.status === 'good' && audit.lastGood?.name === goodName, 'after the fix the newest backup must be good');
    return {
      proposal: p.id,
      hash: p.hash,
      approvedBy: d.actor,
      steps: r.steps.length,
      goodBackup: { file: goodName, bytes: size, payloadBytes: audited.payloadBytes, restoredRows: SEED_ROWS, push: 'up' },
      forcedFailure: { exitCode: fail.run.exitCode, artefacts: newFiles.length, push: fail.pushes[0]?.status },
      audit: { status: audit.status, lastGood: audit.lastGood?.name, latestBroken: audit.latestBroken?.name },
    };
  },
};

const dropWithDualControl: Stage = {
  title: 'The root cause removed: C2 archive + DROP SCHEMA, irreversible, dual control (seed §4.3)',
  async run(ctx) {
    const { operator, reviewer1, reviewer2 } = ctx.people;
    await mkdir(ctx.paths.archive, { recursive: true, mode: 0o700 });
    const p = await ctx.as(operator).propose(['C2'], pairsFor(ctx, ['C2']));
    ctx.say(`${operator.name} proposes ${p.dots.join(' + ')}: ${p.id}, hash ${short(p.hash)}`);
    for (const name of ['No outside object depends on the schema', 'Schema is not exposed through Directus', 'Row inventory of the schema']) {
      const e = p.evidence.find((x) => x.name === name);
      if (e) ctx.say(`  evidence: ${e.name}: ${e.observed}`);
    }
    ctx.say(
      `  gate: ${p.requirements.minApprovals} approvals${p.requirements.dualControl ? ' from two distinct reviewers (dual control)' : ''}, archive before the diff: ${p.requirements.archiveBeforeDiff ? 'yes' : 'no'}, approvals valid ${p.requirements.approvalTtlHours} h`,
    );
    check(p.requirements.dualControl && p.requirements.minApprovals >= 2 && p.requirements.archiveBeforeDiff, 'C2 must require dual control and an archive before the diff');

    // D is not in this bundle: the companion rule is met by the A + D proposal applied on this target.
    const status = await ctx.as(operator).status(p.id);
    const applied = (await ctx.as(operator).proposals('applied')).filter((x) => x.dotIds.includes('DOT-BACKUP-SCRIPT-HARDEN') && x.targetFingerprint === status.proposal.targetFingerprint);
    const companions = { status: status.companions, by: applied.map((x) => x.id) };
    for (const c of companions.status) ctx.say(`  companion ${c.dotId} (required by ${c.requiredBy}): ${c.status}${c.status === 'applied' ? ` on this target by ${companions.by.join(', ')}` : ''}`);
    check(companions.status.length > 0 && companions.status.every((c) => c.status === 'applied'), 'the companion D must count as applied through the ledger');

    const first = await ctx.as(reviewer1).approve(p.id, 'P7/C2 owner confirmed the pilot is abandoned');
    ctx.say(`${reviewer1.name} approves: gate ${first.gate.kind === 'allow' ? 'ready' : `not ready — ${first.gate.unmet.map((u) => u.message).join('; ')}`}`);
    check(first.gate.kind === 'refuse', 'one approval must not be enough for an irreversible DOT');

    let refusal: GateError | null = null;
    try {
      await ctx.as(operator).apply(p.id);
    } catch (err) {
      if (!(err instanceof GateError)) throw err;
      refusal = err;
    }
    check(refusal, `apply of ${p.id} with one approval must be refused by the gate`);
    ctx.say(`${operator.name} applies with one approval → refused, exit ${refusal.exitCode} (GateError):`);
    ctx.say(`  dotctl: ${refusal.message}`);
    check(refusal.exitCode === 3, `a gate refusal exits 3, this one ${refusal.exitCode}`);
    const still = await ctx.scratch.withClient(ctx.database, schemaExists);
    check(still, `${SCHEMA} must still exist after the refused apply`);
    ctx.say(`  ${SCHEMA} still exists; the refusal is in the action log`);

    const second = await ctx.as(reviewer2).approve(p.id, 'second reviewer: archive first, then drop');
    ctx.say(
      `${reviewer2.name} approves: gate ${second.gate.kind === 'allow' ? `ready to apply (approvals: ${second.gate.approvers.join(', ')})` : `not ready — ${second.gate.unmet.map((u) => u.message).join('; ')}`}`,
    );
    check(second.gate.kind === 'allow', `two approvals must pass the gate: ${second.gate.unmet.map((u) => u.message).join('; ')}`);

    const r = await applyAs(ctx, operator, p.id);
    ctx.say(`${operator.name} applies ${p.id}: ${r.outcome}, ${r.steps.length} steps logged`);
    for (const l of summarizeSteps(r)) ctx.say(l);
    const order = r.steps.filter((s) => s.section === 'diff').map((s) => s.name);
    ctx.say(`    diff in order: ${order.join(' → ')}`);
    check(order[0] === 'Pre-archive the schema' && order.indexOf('Drop the schema') > 0, `the archive must run before the DROP, the diff ran: ${order.join(', ')}`);
    const gone = !(await ctx.scratch.withClient(ctx.database, schemaExists));
    check(gone, `${SCHEMA} must be gone after the apply`);
    ctx.say(`    ${SCHEMA} is gone from ${ctx.database}`);

    // The archive, verified independently of the engine: bytes, sha256 against the action log, TOC, restore.
    const archive = join(ctx.paths.archive, `${SCHEMA}_archive.dump`);
    const st = await stat(archive);
    const sha = createHash('sha256')
      .update(await readFile(archive))
      .digest('hex');
    const logged = await ctx.as(ctx.people.auditor).log({ proposal: p.id, event: 'step_passed' });
    const archiveEvent = logged.find((e) => (e.detail as { step?: string }).step === 'Pre-archive the schema');
    const loggedSha = String((archiveEvent?.detail as { sha256?: unknown } | undefined)?.sha256 ?? '');
    ctx.say(`archive ${archive}: ${st.size} bytes, mode ${(st.mode & 0o777).toString(8)}, sha256 ${short(sha, 16)} (action log row ${archiveEvent?.seq ?? '?'}: ${short(loggedSha, 16)})`);
    check(st.size > 0 && sha === loggedSha, `the archive's sha256 ${sha} must match the one in the action log (${loggedSha || 'none'})`);
    const toc = await tool(ctx, ['pg_restore', '--list', archive], ctx.database);
    const entries = toc.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
    const tableData = entries.filter((l) => / TABLE DATA /.test(l)).length;
    ctx.say(`pg_restore --list: exit ${toc.exitCode}, ${entries.length} entries, ${tableData} TABLE DATA (one per table)`);
    check(toc.exitCode === 0 && tableData === SEED_TABLES.length, `the archive must list the data of all ${SEED_TABLES.length} tables, it lists ${tableData}`);
    const checkDb = await ctx.scratch.createDatabase('archive_check');
    const restore = await tool(ctx, ['pg_restore', '--exit-on-error', '--single-transaction', '-d', checkDb, archive], checkDb);
    check(restore.exitCode === 0, `pg_restore of the archive failed (exit ${restore.exitCode}): ${firstLine(restore.stderr)}`);
    const restored = await rowCounts(ctx, checkDb);
    expectSeedRows(restored, 'the restored archive');
    ctx.say(`pg_restore into ${checkDb} → exit 0, ${SCHEMA} rows ${rowLine(restored)}: the data survives the drop`);
    return {
      proposal: p.id,
      hash: p.hash,
      refusedExitCode: refusal.exitCode,
      approvedBy: second.gate.approvers,
      steps: r.steps.length,
      archive: { bytes: st.size, sha256: sha, entries: entries.length, tableData, restoredRows: SEED_ROWS },
    };
  },
};

/** The stages, in order. */
export const STAGES: readonly Stage[] = [incident, silentFailure, identities, grantAndHarden, watchStage, restoreDrill, dropWithDualControl, audit];

/** The people of the demo with their key files under `keysDir`. */
export function demoPeople(keysDir: string): Record<keyof typeof PEOPLE, Person> {
  const out = {} as Record<keyof typeof PEOPLE, Person>;
  for (const [k, p] of Object.entries(PEOPLE) as [keyof typeof PEOPLE, (typeof PEOPLE)[keyof typeof PEOPLE]][]) {
    out[k] = { name: p.name, role: p.role, key: join(keysDir, `${p.name}.key`) };
  }
  return out;
}
