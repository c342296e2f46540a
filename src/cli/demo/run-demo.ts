/**
 * `dotctl demo`: the seed's incident reproduced and fixed end to end on the local PostgreSQL,
 * through the real engine (in process), with an embedded SQLite ledger in a temporary work
 * directory. It touches nothing it did not create: one scratch prefix for its databases and
 * roles, one temporary directory, one loopback heartbeat listener — all removed at the end,
 * on failure and on interrupt, unless `keep` is set.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckError, DotctlError, baseEnv, createEngine, loadCatalogue, runProgram, shippedDotsDir, shippedExamplesDir, type Engine } from '../../engine.js';
import { startHeartbeatListener, type HeartbeatListener } from './heartbeat.js';
import { Scratch, resolveAdminUrl, serverInfo, urlForDatabase } from './scratch.js';
import { seconds, stageHeading } from './print.js';
import { DemoFailure, type DemoContext, type DemoPaths } from './stage.js';
import { STAGES, demoPeople } from './stages.js';

/** Options of `runDemo`. */
export interface DemoOptions {
  /** admin connection (--target / DOTCTL_TARGET); else libpq env; else postgres://postgres@127.0.0.1:5432/postgres */
  readonly target: string | undefined;
  /** keep the scratch databases, roles and work directory for inspection */
  readonly keep: boolean;
  /** where the human-readable sections go (a no-op for --json) */
  readonly print: (line: string) => void;
  /** aborting stops the demo at the next step and cleans up */
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
}

/** What one stage did. */
export interface StageResult {
  readonly n: number;
  readonly title: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly facts: Readonly<Record<string, unknown>>;
  readonly error: string | null;
}

/** What the demo did. */
export interface DemoResult {
  readonly ok: boolean;
  /** 0 when every stage did what it claims; the failing error's exit code, 1 for a failed claim, 130 when interrupted */
  readonly exitCode: number;
  readonly prefix: string;
  readonly workDir: string;
  readonly kept: boolean;
  readonly totalMs: number;
  readonly stages: readonly StageResult[];
  readonly failure: string | null;
  /** what could not be cleaned up (empty when everything was dropped or kept on purpose) */
  readonly leftovers: readonly string[];
}

/** Tools the stages run; checked before anything is created. */
const TOOLS: readonly (readonly string[])[] = [
  ['bash', '--version'],
  ['gzip', '--version'],
  ['curl', '--version'],
  ['pg_dump', '--version'],
  ['pg_restore', '--version'],
  ['psql', '--version'],
  ['find', '--version'],
];

/** Tools whose absence a DOT declares it can live with (`optional_tool`): the demo runs without them and says so. */
const OPTIONAL_TOOLS: readonly { readonly argv: readonly string[]; readonly without: string }[] = [
  {
    argv: ['shellcheck', '--version'],
    without: `shellcheck is not installed: D's shellcheck checks will be reported "not run" (never passed); to run them, install it (apt-get install -y shellcheck, brew install shellcheck) and run the demo again`,
  },
];

const works = async (argv: readonly string[], signal: AbortSignal | undefined): Promise<boolean> => {
  const r = await runProgram(argv, { env: baseEnv(), timeoutMs: 10_000, signal });
  return r.spawnError === null && r.exitCode === 0;
};

/** Tools and a superuser, before anything is created: the server line and what runs without an optional tool. */
async function preflight(scratch: Scratch, signal: AbortSignal | undefined): Promise<{ version: string; notes: string[] }> {
  const missing: string[] = [];
  for (const argv of TOOLS) if (!(await works(argv, signal))) missing.push(argv[0]!);
  if (missing.length > 0) {
    throw new CheckError(`the demo needs ${missing.join(', ')} on PATH; install them (e.g. apt-get install -y postgresql-client curl) and run it again; nothing was created`);
  }
  const notes: string[] = [];
  for (const t of OPTIONAL_TOOLS) if (!(await works(t.argv, signal))) notes.push(t.without);
  const version = await scratch.withClient(null, async (c) => {
    const r = await c.query(`SELECT current_user AS who, rolsuper, current_setting('server_version') AS version FROM pg_roles WHERE rolname = current_user`);
    const row = r.rows[0] as { who: string; rolsuper: boolean; version: string } | undefined;
    if (!row?.rolsuper) {
      throw new CheckError(
        `the demo creates databases and roles and needs a superuser, and ${row?.who ?? 'this user'} is not one; point --target (or DOTCTL_TARGET, PGUSER) at a superuser; nothing was created`,
      );
    }
    return `PostgreSQL ${row.version}, connected as ${row.who} (superuser)`;
  });
  return { version, notes };
}

/** Runs the demo; never throws once the scratch exists (a failure is in the result), always cleans up unless kept. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const env = o.env ?? process.env;
  const say = o.print;
  const adminUrl = resolveAdminUrl(o.target, env);
  const server = serverInfo(adminUrl, env);
  const scratch = new Scratch(adminUrl);
  const dotsDir = shippedDotsDir();
  const catalogue = await loadCatalogue(dotsDir);
  const { version, notes } = await preflight(scratch, o.signal);

  const work = await mkdtemp(join(tmpdir(), `${scratch.prefix.replace(/_/g, '-')}-`));
  const paths: DemoPaths = {
    work,
    script: join(work, 'scripts', 'pg-backup.sh'),
    backups: join(work, 'backups', 'pg'),
    archive: join(work, 'backups', 'archive'),
    keys: join(work, 'keys'),
    identities: join(work, 'identities.yaml'),
    ledger: join(work, 'ledger.db'),
    proposals: join(work, 'proposals'),
  };
  const stages: StageResult[] = [];
  let failure: string | null = null;
  let exitCode = 0;
  let listener: HeartbeatListener | null = null;
  const leftovers: string[] = [];
  const signal = o.signal ?? new AbortController().signal;

  say(`dotctl demo — incident P9-G6 (seed/000_e31d228d724c2267.txt) reproduced and fixed end to end`);
  say(`  server    ${server.display}: ${version}`);
  say(`  scratch   databases and roles named ${scratch.prefix}*, ${o.keep ? 'kept at the end (--keep)' : 'dropped at the end (--keep keeps them)'}`);
  say(`  work dir  $WORK = ${work} (ledger, keys, identities, script, backups, archive)`);
  for (const n of notes) say(`  note      ${n}`);
  try {
    listener = await startHeartbeatListener();
    say(`  heartbeat ${listener.url} stands in for Uptime Kuma (loopback only)`);
    const database = scratch.name();
    const targetUrl = urlForDatabase(adminUrl, database);
    const people = demoPeople(paths.keys);
    const ctx: DemoContext = {
      scratch,
      server,
      dotsDir,
      examplesDir: shippedExamplesDir(),
      catalogue,
      paths,
      database,
      ownerRole: scratch.name('owner'),
      dumpRole: scratch.name('dump'),
      dumpPassword: randomBytes(18).toString('base64url'),
      targetUrl,
      listener,
      params: {
        expected_host: hostname(),
        schema: 'sandbox_tac',
        database,
        owner_role: scratch.name('owner'),
        dump_role: scratch.name('dump'),
        script_path: paths.script,
        backup_dir: paths.backups,
        archive_dir: paths.archive,
        verify_push_url: `${listener.url}/api/push/dotctl-post-verify`,
      },
      people,
      signal,
      // paths under the work dir are shown as $WORK (named in the header), so lines stay short
      say: (line = '') => say(`  ${line.split(work).join('$WORK')}`.trimEnd()),
      as: (who): Engine => createEngine({ catalogue, ledger: paths.ledger, target: targetUrl, identities: paths.identities, signer: who.key, proposalsDir: paths.proposals, env }),
    };
    for (const [i, stage] of STAGES.entries()) {
      if (signal.aborted) break;
      say('');
      say(stageHeading(i + 1, STAGES.length, stage.title));
      const t0 = Date.now();
      try {
        const facts = await stage.run(ctx);
        stages.push({ n: i + 1, title: stage.title, ok: true, ms: Date.now() - t0, facts, error: null });
        say(`  ✓ stage ${i + 1} did what it claims (${seconds(Date.now() - t0)})`);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        stages.push({ n: i + 1, title: stage.title, ok: false, ms: Date.now() - t0, facts: {}, error: msg });
        if (signal.aborted) break;
        failure = `stage ${i + 1} (${stage.title.split(':')[0]}) did not do what it claims: ${msg}`;
        exitCode = err instanceof DotctlError ? err.exitCode : 1;
        say(`  ✗ ${failure}`);
        if (env.DOTCTL_DEBUG === '1' && err instanceof Error && !(err instanceof DemoFailure) && err.stack) say(err.stack);
        break;
      }
    }
  } finally {
    await listener?.close();
    if (signal.aborted && failure === null) {
      failure = 'interrupted';
      exitCode = 130;
      say('');
      say(`  ✗ interrupted after ${stages.filter((s) => s.ok).length} of ${STAGES.length} stages`);
    }
    say('');
    const made = scratch.created;
    if (o.keep) {
      const psql = `psql -h ${server.host} -p ${server.port} -U ${server.user} -d postgres`;
      say(`kept for inspection (--keep): databases ${made.databases.join(', ') || '-'}; roles ${made.roles.join(', ') || '-'}; work dir ${work}`);
      say(`  inspect: dotctl --ledger ${paths.ledger} log    ·    psql -h ${server.host} -p ${server.port} -U ${server.user} -d ${scratch.name()}`);
      const drops = [...made.databases.map((d) => `-c 'DROP DATABASE IF EXISTS ${d}'`), ...made.roles.map((r) => `-c 'DROP ROLE IF EXISTS ${r}'`)];
      say(`  remove:  ${psql} ${drops.join(' ')} && rm -r ${work}`);
    } else {
      leftovers.push(...(await scratch.dropAll()));
      await rm(work, { recursive: true, force: true }).catch((err: Error) => leftovers.push(`work dir ${work}: ${err.message}`));
      if (leftovers.length === 0) say(`cleaned up: ${made.databases.length} database(s), ${made.roles.length} role(s) and the work dir removed`);
      else say(`could not clean up everything, remove by hand: ${leftovers.join('; ')}`);
    }
  }
  const totalMs = Date.now() - started;
  const allClaimsHeld = failure === null && stages.length === STAGES.length && stages.every((st) => st.ok);
  if (!allClaimsHeld) say(`the demo stopped: ${failure ?? 'not every stage ran'} — total ${seconds(totalMs)}`);
  else if (leftovers.length > 0) say(`every stage did what it claims, but the clean-up did not — total ${seconds(totalMs)}`);
  else say(`every stage did what it claims — total ${seconds(totalMs)}`);
  const code = allClaimsHeld ? (leftovers.length > 0 ? 1 : 0) : exitCode || 1;
  return { ok: code === 0, exitCode: code, prefix: scratch.prefix, workDir: work, kept: o.keep, totalMs, stages, failure, leftovers };
}
