/**
 * The package as a user gets it: `npm pack` of this repository, installed from the tarball into
 * a fresh project (its dependencies from the npm registry) and globally under a temporary
 * prefix, then used the way the README says — the CLI through npx, the library through
 * `import('dotctl')`, its types through tsc, and `dotctl demo` from a directory far from any
 * checkout. Slow by nature (registry downloads; better-sqlite3 is compiled when its prebuilt
 * binary cannot be downloaded): the project install is done once and every check reuses it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasStackTrace } from '../helpers/cli.js';
import { ADMIN_URL } from '../helpers/pg.js';

const REPO = resolve('.');
const TSC = join(REPO, 'node_modules', '.bin', 'tsc');
const SEED_OPTIONS = ['A', 'B', 'C1', 'C2', 'D'];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment of a user's shell: nothing npm set for the process running this test (an
 * `npm test` exports npm_config_* and npm_package_* that would point npm back at this repository).
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'DOTCTL_DEBUG' && !k.startsWith('DOTCTL_')) env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = userEnv(), timeoutMs = 600_000): Run {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`);
  return r;
}

const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

let tmp = '';
let tarball = '';
let project = '';
let entries: string[] = [];

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dotctl-pack-'));
  const packDir = join(tmp, 'pack');
  mkdirSync(packDir);
  // prepack removes dist/ and prepare builds it, so the tarball holds exactly what this source compiles to.
  const packed = ok(run('npm', ['pack', '--json', '--pack-destination', packDir, ...NPM_QUIET], REPO), 'npm pack');
  const name = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[])[0]?.filename ?? '';
  tarball = join(packDir, name);
  entries = ok(run('tar', ['-tzf', tarball], tmp), 'tar -t')
    .stdout.trim()
    .split('\n');

  project = join(tmp, 'project');
  mkdirSync(project);
  ok(run('npm', ['init', '-y', ...NPM_QUIET], project), 'npm init -y');
  ok(run('npm', ['pkg', 'set', 'type=module'], project), 'npm pkg set type');
  // npm runs install scripts only as the project's allowScripts policy says; better-sqlite3 needs its own.
  ok(run('npm', ['pkg', 'set', 'allowScripts.better-sqlite3=true', '--json'], project), 'npm pkg set allowScripts');
  ok(run('npm', ['install', tarball, ...NPM_QUIET], project), 'npm install <tarball>');
});

after(() => {
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

describe('the tarball', () => {
  test('ships dist (with declarations and the pre-rendered help), dots, schemas, examples and README, but no sources, tests or benches', () => {
    for (const f of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/cli/help.txt',
      'dots/laws.yaml',
      'dots/DOT-PG-DROP-SCHEMA.yaml',
      'schemas/dot.schema.json',
      'examples/pg-backup.sh',
      'README.md',
      'package.json',
    ]) {
      assert.ok(entries.includes(`package/${f}`), `${f} missing from the tarball`);
    }
    const unwanted = entries.filter((e) => /^package\/(test|bench|src|proposals|node_modules)\//.test(e) || /^package\/(tsconfig.*\.json|\.)/.test(e));
    assert.deepEqual(unwanted, []);
  });
});

describe('installed into a project', () => {
  test('npx dotctl --help prints the usage and exits 0', () => {
    const r = ok(run('npx', ['--no-install', 'dotctl', '--help'], project), 'npx dotctl --help');
    assert.match(r.stdout, /^Usage: dotctl \[options\] \[command\]/);
    assert.match(r.stdout, /\bdemo\b/);
  });

  test('npx dotctl lists the five seed DOTs of the installed catalogue', () => {
    const r = ok(run('npx', ['--no-install', 'dotctl', '--dots', 'node_modules/dotctl/dots', 'list'], project), 'npx dotctl list');
    const options = r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(options, SEED_OPTIONS);
    assert.match(r.stdout, /DOT-PG-DROP-SCHEMA +irreversible +2 \(dual\)/);
  });

  test("import('dotctl') gives the engine's API, which works from the installed package", () => {
    const r = ok(run('node', ['-e', "import('dotctl').then(m => console.log(typeof m.createEngine, typeof m.listDots))"], project), 'import dotctl');
    assert.equal(r.stdout, 'function function\n');
    const script = "import('dotctl').then(async (m) => console.log((await m.listDots('node_modules/dotctl/dots')).map((d) => d.option).join(' ')))";
    assert.equal(ok(run('node', ['-e', script], project), 'listDots').stdout, `${SEED_OPTIONS.join(' ')}\n`);
  });

  test("the types of 'dotctl' resolve and type-check a user's TypeScript, and catch a misuse", () => {
    // The user's own @types/node, as any Node project has; dotctl's declarations need nothing else.
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          typeRoots: [join(REPO, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    );
    const good = [
      "import { createEngine, listDots, loadCatalogue, type DotSummary, type Engine, type LogRow } from 'dotctl';",
      "const dots: readonly DotSummary[] = await listDots('node_modules/dotctl/dots');",
      "const engine: Engine = createEngine({ catalogue: await loadCatalogue('node_modules/dotctl/dots'), ledger: 'memory:check' });",
      'const rows: readonly LogRow[] = await engine.log();',
      'const seqs: number[] = rows.map((r) => r.seq);',
      "console.log(dots.map((d) => d.option).join(' '), seqs.length);",
    ].join('\n');
    writeFileSync(join(project, 'index.ts'), `${good}\n`);
    ok(run(TSC, ['-p', 'tsconfig.json'], project), 'tsc on a correct use');
    // If the declarations were missing or `any`, this would type-check too.
    writeFileSync(join(project, 'index.ts'), `${good}\nconst wrong: number = dots[0]!.option;\nconsole.log(wrong);\n`);
    const bad = run(TSC, ['-p', 'tsconfig.json'], project);
    assert.equal(bad.code, 2, `tsc accepted a misuse: ${bad.stdout}`);
    assert.match(bad.stdout, /index\.ts\(\d+,7\): error TS2322: Type 'string( \| null)?' is not assignable to type 'number'/);
  });
});

describe('installed globally (npm install -g under a temporary prefix)', () => {
  let prefix = '';
  let bin = '';
  let elsewhere = '';

  before(() => {
    prefix = join(tmp, 'global');
    elsewhere = mkdtempSync(join(tmpdir(), 'dotctl-elsewhere-'));
    // Saves compiling better-sqlite3 a second time: the project's build, handed to its installer
    // through prebuild-install's own offline mechanism (local prebuilds). Named wrong, it compiles.
    const sqlite = join(project, 'node_modules', 'better-sqlite3');
    const version = (JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as { version: string }).version;
    const prebuilds = join(tmp, 'prebuilds');
    mkdirSync(prebuilds);
    const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    ok(run('tar', ['-czf', join(prebuilds, name), '-C', sqlite, 'build/Release/better_sqlite3.node'], tmp), 'tar prebuild');
    const env = userEnv({ npm_config_better_sqlite3_local_prebuilds: prebuilds });
    ok(run('npm', ['install', '-g', '--prefix', prefix, '--allow-scripts=better-sqlite3', tarball, ...NPM_QUIET], elsewhere, env), 'npm install -g');
    bin = join(prefix, 'bin', 'dotctl');
  });
  after(() => {
    if (elsewhere !== '') rmSync(elsewhere, { recursive: true, force: true });
  });

  test('dotctl --help works from any directory', () => {
    assert.ok(existsSync(bin), `${bin} was not linked`);
    const r = ok(run(bin, ['--help'], elsewhere), 'dotctl --help');
    assert.match(r.stdout, /^Usage: dotctl \[options\] \[command\]/);
  });

  test('dotctl demo runs from a directory with no catalogue, using the files the package ships', () => {
    assert.deepEqual(readdirSync(elsewhere), []);
    const r = run(bin, ['demo'], elsewhere, userEnv({ DOTCTL_TARGET: ADMIN_URL }), 300_000);
    ok(r, 'dotctl demo');
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    assert.match(r.stdout, /── 7\/7 · The auditor reads dot_action_log/);
    assert.match(r.stdout, /examples\/pg-backup\.sh \(the script in place during the incident\) copied/);
    assert.deepEqual(readdirSync(elsewhere), [], 'the demo wrote into the directory it was run from');
  });
});
