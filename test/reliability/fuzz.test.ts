/**
 * Fuzzed input through the real CLI: generated malformed DOT files, parameter values, identities
 * files and key files. Each must give exit 2 with a one-line message (or `file:line:col:` lines
 * and a summary), no stack trace, nothing sent to the target (--target points at a listener that
 * records every connection) and the ledger untouched (absent, or byte-identical).
 *
 * Seeded: the seed is printed; rerun a failure with DOTCTL_FUZZ_SEED=<seed>. Malformed DOT files
 * are batched into one catalogue checked by one `validate` run (and `render`, `list`, `propose`
 * runs), each file asserted to get its own problem line; the rest run one process per input, three
 * at a time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyFile } from '../../src/gate/keys.js';
import { Prng, badParamValues, malformedDots, malformedIdentities, markdownStructure, redirectingUrls, type Mutant } from './fuzz-gen.js';
import { ADMIN_URL } from '../helpers/pg.js';
import { sectionHeadings, structuralProblems } from '../render/markdown-structure.js';
import { assertBadInput, dirDigest, dotctl, pool, startRecorder, type Recorder } from './run.js';

const SEED = Number(process.env.DOTCTL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`# fuzz seed ${SEED} (reproduce with DOTCTL_FUZZ_SEED=${SEED})`);
const DOTS = resolve('dots');
const N_DOTS = 160;
const N_IDENTITIES = 24;

const dir = mkdtempSync(join(tmpdir(), 'dotctl-fuzz-'));
const ledgerDir = join(dir, 'ledger');
const ledger = join(ledgerDir, 'ledger.db');
let recorder: Recorder;
let identities = '';
let key = '';
let validIdentities = '';
let reviewer = '';
let ledgerBefore = '';
/** inputs run, by kind (the suite asserts at least 200 in all) */
const counted = { dots: 0, params: 0, identities: 0, keys: 0 };

/** Global flags of every run: the catalogue, a ledger, and a target that records connections. */
function flags(dots = DOTS): string[] {
  return ['--dots', dots, '--ledger', ledger, '--target', recorder.url];
}

before(async () => {
  recorder = await startRecorder();
  const k = await generateKeyFile('olga', join(dir, 'keys'));
  key = k.file;
  validIdentities = `identities:\n  - name: olga\n    roles: [operator]\n    public_key: ${k.publicKey}\n`;
  identities = join(dir, 'identities.yaml');
  const reviewers = [await generateKeyFile('rita', join(dir, 'keys')), await generateKeyFile('raj', join(dir, 'keys'))];
  validIdentities += `  - name: rita\n    roles: [reviewer]\n    public_key: ${reviewers[0]?.publicKey}\n  - name: raj\n    roles: [reviewer]\n    public_key: ${reviewers[1]?.publicKey}\n`;
  writeFileSync(identities, validIdentities);
  const init = await dotctl([...flags(), '--identities', identities, '--key', key, ...reviewers.flatMap((r) => ['--key', r.file]), 'ledger', 'init'], { cwd: dir });
  assert.equal(init.code, 0, `ledger init: ${init.stderr}`);
  reviewer = reviewers[0]!.file;
  for (const r of reviewers) {
    const a = await dotctl([...flags(), '--identities', identities, '--key', r.file, 'admit', '--all'], { cwd: dir });
    assert.equal(a.code, 0, `admitting the catalogue: ${a.stderr}`);
  }
  // A ledger that exists before the fuzzing, so "untouched" means byte-identical, not just absent.
  // Even --offline reads the server's identity, so the seed proposal needs a real server.
  const r = await dotctl([...flags(), '--target', ADMIN_URL, '--identities', identities, '--key', key, 'propose', '--offline', 'D', '--out', join(dir, 'seed.md')], { cwd: dir });
  assert.equal(r.code, 0, `seeding the ledger: ${r.stderr}`);
  ledgerBefore = dirDigest(ledgerDir);
});

after(async () => {
  await recorder?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** After every fuzzed run: no connection reached the target, the ledger is as it was. */
function assertUntouched(what: string): void {
  assert.equal(recorder.connections(), 0, `a connection reached the target during ${what}`);
  assert.equal(dirDigest(ledgerDir), ledgerBefore, `the ledger changed during ${what}`);
}

/** A catalogue of malformed DOT files beside valid companions and controls. */
function writeCatalogue(name: string, mutants: readonly Mutant[]): { dir: string; files: string[]; controls: string[] } {
  const cat = join(dir, name);
  mkdirSync(cat);
  for (const f of readdirSync(DOTS)) {
    if (f === 'laws.yaml' || f.endsWith('.diff') || f === 'DOT-BACKUP-SCRIPT-HARDEN.yaml') copyFileSync(join(DOTS, f), join(cat, f));
  }
  const files = mutants.map((m, k) => {
    const file = join(cat, `DOT-FUZZ-${k}.yaml`);
    writeFileSync(file, m.text);
    return file;
  });
  // Unmutated copies: they must get no problem, so the problems above come from the mutations.
  const controls = ['DOT-PG-GRANT-SCHEMA', 'DOT-PG-DROP-SCHEMA', 'DOT-PG-NEW-ROLE'].map((id, k) => {
    const file = join(cat, `DOT-FUZZ-CTRL-${k}.yaml`);
    writeFileSync(file, readFileSync(join(DOTS, `${id}.yaml`), 'utf8').replace(/^id: .*$/m, `id: DOT-FUZZ-CTRL-${k}`));
    return file;
  });
  return { dir: cat, files, controls };
}

describe('fuzzed DOT files', () => {
  const p = new Prng(SEED);
  const bases = ['DOT-PG-GRANT-SCHEMA', 'DOT-PG-NEW-ROLE', 'DOT-PG-BACKUP-EXCLUDE-SCHEMA', 'DOT-PG-DROP-SCHEMA', 'DOT-BACKUP-SCRIPT-HARDEN'].map((id) =>
    readFileSync(join(DOTS, `${id}.yaml`), 'utf8'),
  );
  const mutants = malformedDots(p, bases, N_DOTS, (k) => `DOT-FUZZ-${k}`);
  let cat: ReturnType<typeof writeCatalogue>;
  before(() => {
    cat = writeCatalogue('catalogue', mutants);
  });

  test(`validate names every one of ${N_DOTS} malformed DOT files as file:line:col, and no control`, async () => {
    const r = await dotctl([...flags(cat.dir), 'validate'], { viaFiles: true });
    const problems = assertBadInput(r, 'validate of the fuzzed catalogue');
    const missed = cat.files.filter((f) => !problems.some((l) => l.startsWith(`${f}:`)));
    assert.deepEqual(
      missed.map((f) => `${f}: ${mutants[cat.files.indexOf(f)]?.label}`),
      [],
      'malformed DOT files validate did not report',
    );
    for (const c of cat.controls) assert.equal(problems.filter((l) => l.startsWith(`${c}:`)).length, 0, `a problem in the unmutated ${c}: ${problems.find((l) => l.startsWith(c))}`);
    counted.dots += N_DOTS;
    assertUntouched('validate');
  });

  test('validate --json lists the same problems as JSON', async () => {
    const r = await dotctl([...flags(cat.dir), 'validate', '--json'], { viaFiles: true });
    assert.equal(r.code, 2, r.stderr);
    const j = JSON.parse(r.stdout) as { valid: boolean; problems: { file: string; line: number; col: number; message: string }[] };
    assert.equal(j.valid, false);
    for (const f of cat.files)
      assert.ok(
        j.problems.some((x) => x.file === f && x.line >= 1 && x.col >= 1),
        `no JSON problem for ${f}`,
      );
  });

  for (const command of [['list'], ['render', 'DOT-FUZZ-CTRL-0'], ['propose', '--offline', 'DOT-FUZZ-CTRL-0']] as const) {
    test(`${command[0]} over the fuzzed catalogue refuses with every problem and touches nothing`, async () => {
      const r = await dotctl([...flags(cat.dir), '--identities', identities, '--key', key, ...command], { cwd: dir, viaFiles: true });
      const problems = assertBadInput(r, command.join(' '));
      assert.ok(problems.length >= N_DOTS, `${problems.length} problem lines for ${N_DOTS} malformed files`);
      assertUntouched(command.join(' '));
    });
  }

  test('a DOT file larger than 1 MiB is refused in one line naming it', async () => {
    const big = join(dir, 'catalogue-big');
    mkdirSync(big);
    copyFileSync(join(DOTS, 'laws.yaml'), join(big, 'laws.yaml'));
    const file = join(big, 'DOT-FUZZ-BIG.yaml');
    writeFileSync(file, `${bases[0]}\n# ${'x'.repeat(1024 * 1024)}\n`);
    for (const command of [['validate'], ['list'], ['render', 'A']]) {
      const r = await dotctl([...flags(big), ...command]);
      assertBadInput(r, `${command[0]} with a 1 MiB DOT`);
      assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is larger than 1 MiB`));
    }
    counted.dots += 1;
    assertUntouched('a huge DOT file');
  });

  test('the whole problem list arrives through a pipe too (more than a pipe buffer of output)', async () => {
    // many DOTs with many unknown keys each: far more problem lines than a pipe buffer holds
    const a = bases[0] ?? '';
    const junk = Array.from({ length: 40 }, (_, k) => `unknown_key_number_${k}_with_a_long_name: x`).join('\n');
    const many: Mutant[] = Array.from({ length: 60 }, (_, k) => ({ label: `junk ${k}`, text: `${a.replace(/^id: .*$/m, `id: DOT-PIPE-${k}`)}\n${junk}\n` }));
    const big = writeCatalogue('catalogue-pipe', many);
    const viaPipe = await dotctl([...flags(big.dir), 'validate']);
    const viaFile = await dotctl([...flags(big.dir), 'validate'], { viaFiles: true });
    assert.ok(viaFile.stderr.length > 64 * 1024, `the problem list is ${viaFile.stderr.length} bytes; the finding needs more than a pipe buffer`);
    assert.equal(viaPipe.stderr.length, viaFile.stderr.length, 'stderr through a pipe is shorter than through a file');
  });

  test('NUL and control characters in a DOT file are refused, each at its position', async () => {
    const ctl = join(dir, 'catalogue-ctl');
    const a = bases[0] ?? '';
    const cases: Mutant[] = [
      { label: 'NUL inside SQL', text: a.replace('SELECT 1 FROM pg_namespace', 'SELECT 1\u0000 FROM pg_namespace') },
      {
        label: 'escaped NUL in a double-quoted SQL',
        text: a.replace(/^ {4}sql: SELECT 1 FROM pg_namespace WHERE nspname = :'schema'$/m, `    sql: "SELECT 1 FROM pg_namespace WHERE nspname = :'schema'\\0"`),
      },
      { label: 'C0 control character in the title', text: a.replace(/^title: /m, 'title: \u0007') },
      { label: 'ESC sequence in a step name', text: a.replace(/^( {4}name: )(.*)$/m, '$1\u001b[2J$2') },
    ].map((m, k) => ({ ...m, text: m.text.replace(/^id: .*$/m, `id: DOT-FUZZ-${k}`) }));
    for (const m of cases) assert.notEqual(m.text, a.replace(/^id: .*$/m, `id: DOT-FUZZ-${cases.indexOf(m)}`), `the ${m.label} mutation applied`);
    const c = writeCatalogue(ctl.split('/').pop() ?? 'catalogue-ctl', cases);
    const r = await dotctl([...flags(c.dir), 'validate'], { viaFiles: true });
    const problems = assertBadInput(r, 'validate with control characters');
    for (const [k, f] of c.files.entries())
      assert.ok(
        problems.some((l) => l.startsWith(`${f}:`)),
        `${cases[k]?.label} was not reported`,
      );
  });
});

describe('fuzzed parameter values', () => {
  const p = new Prng(SEED ^ 0x5bd1e995);
  let typed = '';
  before(() => {
    typed = join(dir, 'typed');
    mkdirSync(typed);
    writeFileSync(
      join(typed, 'laws.yaml'),
      'laws:\n  - id: L1\n    title: Gate\n    text: Every change is approved.\n    requires: { min_approvals: 1, rollback_required: true, post_verify_required: true }\n',
    );
    writeFileSync(
      join(typed, 'DOT-FZ-TYPED.yaml'),
      `id: DOT-FZ-TYPED
version: 1
option: T
title: Every parameter type
summary: A fixture for the fuzz suite.
applies_when: Never; a test fixture.
risk: reversible
action_code: DOT-FZ-TYPED
laws: [L1]
params:
  ident: { type: identifier, default: sandbox_tac, description: An identifier }
  txt: { type: text, default: hello, description: A text }
  n: { type: integer, default: 3, description: An integer }
  flag: { type: boolean, default: true, description: A boolean }
  p: { type: path, default: /tmp, description: A path }
  pw: { type: secret, description: A secret }
hard_stops:
  - kind: file
    name: path exists
    path: "{{p}}"
    exists: true
  - kind: sql
    name: values
    sql: SELECT :'txt', :'n', :'flag', :'pw'
    expect: { kind: rows, count: 1 }
diff:
  - kind: sql
    name: grant
    sql: GRANT USAGE ON SCHEMA :"ident" TO CURRENT_USER
rollback:
  - kind: sql
    name: revoke
    sql: REVOKE USAGE ON SCHEMA :"ident" FROM CURRENT_USER
post_verify:
  - kind: sql
    name: check
    sql: SELECT 1
    expect: { kind: rows, count: 1 }
`,
    );
  });

  test('the typed fixture renders with its defaults (the control)', async () => {
    const r = await dotctl([...flags(typed), 'render', 'T']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('render refuses every malformed value in one line naming the parameter', async () => {
    const cases = badParamValues(p);
    const results = await pool(cases.map((c) => () => dotctl([...flags(typed), 'render', 'T', '-p', `${c.param}=${c.value}`])));
    results.forEach((r, i) => {
      const c = cases[i];
      if (!c) return;
      assertBadInput(r, `render -p ${c.label}`);
      if (c.param !== '') assert.match(r.stderr, new RegExp(`parameter "?${c.param}`), `the message names ${c.param}: ${r.stderr}`);
    });
    counted.params += cases.length;
    assertUntouched('render with fuzzed parameters');
  });

  test('propose --offline refuses malformed values before writing anything', async () => {
    const cases: string[][] = [
      ['-p', 'schema=sandbox"tac'],
      ['-p', "schema=x'; DROP SCHEMA public; --"],
      ['-p', `schema=${'s'.repeat(64)}`],
      ['-p', 'backup_dir=/opt/../etc'],
      ['-p', 'backup_dir=-delete'],
      ['-p', 'script_path=--help'],
      ['-p', `expected_host=${'h'.repeat(5000)}`],
      ['-p', 'expected_host=a\u0007b'],
      ['-p', 'nope=1'],
      ['-p', 'schema=a', '-p', 'schema=b'],
      ['-p', 'noequals'],
      ['-p', 'password=hunter2'],
    ];
    const results = await pool(cases.map((c) => () => dotctl([...flags(), '--identities', identities, '--key', key, 'propose', '--offline', 'A', 'D', ...c], { cwd: dir })));
    for (const [i, r] of results.entries()) assertBadInput(r, `propose ${cases[i]?.join(' ')}`);
    counted.params += cases.length;
    assertUntouched('propose with fuzzed parameters');
  });
});

describe('fuzzed structure in valid values and target URLs', () => {
  const p = new Prng(SEED ^ 0x5bd1e995);

  test('text values carrying Markdown or HTML render inert: every section, none forged', async () => {
    const normal = await dotctl([...flags(), 'render', 'D']);
    assert.equal(normal.code, 0, normal.stderr);
    const want = sectionHeadings(normal.stdout);
    const authored = structuralProblems(normal.stdout);
    const values = markdownStructure(p, 24);
    const results = await pool(values.map((v) => () => dotctl([...flags(), 'render', 'D', '-p', `verify_push_url=${v}`, '-p', `expected_host=${v}`])));
    results.forEach((r, i) => {
      const v = JSON.stringify(values[i]);
      assert.equal(r.code, 0, `render with ${v}: ${r.stderr}`);
      assert.deepEqual(sectionHeadings(r.stdout), want, `sections with ${v}`);
      assert.deepEqual(structuralProblems(r.stdout), authored, `structure with ${v}`);
    });
    counted.params += values.length;
    assertUntouched('render with structured text');
  });

  test('a target URL whose query redirects the connection is refused before any connection', async () => {
    const cases = redirectingUrls(p, recorder.url);
    const results = await pool(
      cases.map((c) => () => dotctl(['--dots', DOTS, '--ledger', ledger, '--target', c.url, '--identities', identities, '--key', key, 'propose', '--offline', 'D'], { cwd: dir })),
    );
    results.forEach((r, i) => {
      assertBadInput(r, `--target ${cases[i]?.url}`);
      assert.match(r.stderr, new RegExp(`query parameter ${cases[i]?.param}`), r.stderr);
    });
    counted.params += cases.length;
    assertUntouched('propose with redirecting URLs');
  });
});

describe('fuzzed identities and key files', () => {
  const p = new Prng(SEED ^ 0x27d4eb2f);

  test(`a registry change refuses ${N_IDENTITIES} malformed identities files with file:line:col problems`, async () => {
    const mutants = malformedIdentities(p, validIdentities, N_IDENTITIES);
    const files = mutants.map((m, i) => {
      const f = join(dir, `identities-${i}.yaml`);
      writeFileSync(f, m.text);
      return f;
    });
    // the identities file is the import format of the ledger's registry: read by ledger init and identities change
    const results = await pool(files.map((f) => () => dotctl([...flags(), '--key', reviewer, 'identities', 'change', f], { cwd: dir })));
    results.forEach((r, i) => {
      const problems = assertBadInput(r, `identities: ${mutants[i]?.label}\n${mutants[i]?.text.slice(0, 300)}`);
      const f = files[i] ?? '';
      assert.ok(problems.length === 0 ? r.stderr.includes(f) : problems.every((l) => l.startsWith(`${f}:`)), `the message names ${f}: ${r.stderr}`);
    });
    counted.identities += mutants.length;
    assertUntouched('identities change with fuzzed identities');
  });

  test('propose refuses malformed key files in one line', async () => {
    const keys = join(dir, 'bad-keys');
    mkdirSync(keys);
    const pem = readFileSync(key, 'utf8');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const cases: [string, string, number?][] = [
      ['empty', ''],
      ['truncated PEM', pem.slice(0, Math.floor(pem.length / 2))],
      ['not PEM', 'hunter2\n'],
      ['an RSA key', rsa],
      ['garbage after the header', '-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n'],
      ['readable by others', pem, 0o644],
      ['a key of nobody in the registry', generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string],
    ];
    const files = cases.map(([label, text, mode], i) => {
      const f = join(keys, `k${i}.key`);
      writeFileSync(f, text, { mode: 0o600 });
      if (mode !== undefined) chmodSync(f, mode);
      return { f, label };
    });
    files.push({ f: join(keys, 'missing.key'), label: 'missing' }, { f: keys, label: 'a directory' });
    const results = await pool(
      files.map(
        ({ f }) =>
          () =>
            dotctl([...flags(), '--identities', identities, '--key', f, 'propose', '--offline', 'D'], { cwd: dir }),
      ),
    );
    results.forEach((r, i) => {
      const label = files[i]?.label ?? '';
      if (label === 'a key of nobody in the registry') {
        // a well-formed key the ledger's registry does not know is a gate refusal, not bad input
        assert.equal(r.code, 3, `${label}: ${r.stderr}`);
        assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
      } else assertBadInput(r, `key file: ${label}`);
    });
    counted.keys += files.length;
    assertUntouched('propose with fuzzed key files');
  });
});

test('at least 200 malformed inputs went through the CLI, none reached the target or the ledger', () => {
  const total = counted.dots + counted.params + counted.identities + counted.keys;
  console.log(`# fuzzed inputs: ${JSON.stringify(counted)} = ${total} (seed ${SEED})`);
  assert.ok(total >= 200, `only ${total} fuzzed inputs ran`);
  assertUntouched('the whole suite');
  assert.ok(existsSync(ledger));
});
