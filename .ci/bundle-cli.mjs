// Build step: bundles the CLI program (src/cli/program.ts and everything it loads, npm packages
// included) into dist/cli/program.js and the ESM chunks beside it, so a command loads a few
// modules instead of hundreds, and only those it runs (see `split` below). dist/cli/main.js (the
// bin) stays tiny and imports program.js only when the pre-rendered --help does not answer.
// Packages that cannot be bundled stay in node_modules and are required where they are first
// used (not at start-up): better-sqlite3 (native addon found relative to its own files),
// libpg-query (loads its WASM relative to its own files), and pg-native (pg's optional native
// binding). The library entry (dist/index.js) is tsc's output.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const nodeRequire = createRequire(import.meta.url);

const LAZY_EXTERNAL = /^(better-sqlite3|libpg-query|pg-native)$/;

/** Each of these becomes a CommonJS stub requiring the real package when the importer is initialised. */
const lazyExternals = {
  name: 'lazy-externals',
  setup(b) {
    b.onResolve({ filter: LAZY_EXTERNAL }, (args) => ({ path: args.path, namespace: 'lazy-external' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-external' }, (args) => ({
      contents: `module.exports = __dotctlRequire(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/** Built-ins a read-only command never calls: each is required on first use of one of its exports. */
const LAZY_BUILTINS = /^node:(child_process|zlib|http|https|net|tls|dns|worker_threads|readline)$/;

/**
 * Node built-ins through require(), not import: importing a built-in from ESM builds its ESM
 * facade, which reads every export once (node:fs's ReadStream getter alone loads all of
 * node:stream); require() hands over the module as it is. The LAZY_BUILTINS become an object of
 * getters that requires the module on first use (commander requires node:child_process only to
 * spawn executable subcommands, which dotctl has none of; zlib is for backup audits).
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'import-statement' || LAZY_BUILTINS.test(args.path) ? { path: args.path, namespace: 'builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
      const name = JSON.stringify(args.path);
      if (!LAZY_BUILTINS.test(args.path)) return { contents: `module.exports = __dotctlRequire(${name});`, loader: 'js' };
      const keys = JSON.stringify(Object.keys(nodeRequire(args.path)));
      return {
        contents: `let m;\nfor (const k of ${keys}) Object.defineProperty(exports, k, { enumerable: true, get: () => (m ??= __dotctlRequire(${name}))[k] });`,
        loader: 'js',
      };
    });
  },
};

// Bundled CommonJS packages (pg, commander) call require() for Node built-ins, and the lazy
// externals above require their package. Only a file that says `require` (or __dotctlRequire) gets this banner:
// createRequire and import.meta cost something in every module that runs them.
const REQUIRE_BANNER = "import { createRequire as __dotctlCreateRequire } from 'node:module';\nconst require = __dotctlCreateRequire(import.meta.url);\nconst __dotctlRequire = require;\n";

/** What both bundles share: ESM for Node 20, lazy natives; written by `write` below. */
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  allowOverwrite: true,
  legalComments: 'none',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  write: false,
};

/** Writes a build's files, the require() banner on those that use it. */
function write(result) {
  for (const f of result.outputFiles) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, /require/i.test(f.text) ? REQUIRE_BANNER + f.text : f.text);
  }
}

// Split into ESM chunks: what a command runs is loaded through dynamic import() from its own
// chunks, so `list` never compiles (let alone runs) the gate, the executor, pg, zod, yaml or the
// SQL parser. Chunks are written beside program.js (dist/cli/chunk-*.js): modules that find files
// relative to themselves (../build-id, ../../dots, ./verify-worker.js) see the same directory as
// in one bundle.
const split = { entryPoints: { program: 'src/cli/program.ts' }, outdir: 'dist/cli', splitting: true, chunkNames: 'chunk-[hash]' };

// esbuild makes one chunk per set of entry points (dynamic import() targets included) that share
// a module, so the modules program.js loads statically would come in a dozen or more small
// chunks, each one more file for Node's ESM loader to resolve, read and link at every start-up.
// Every module program.js loads statically is loaded before any dynamic import() can run, so
// nothing is lost by making each dynamically imported module of ours import all of them: they
// then share one set, and one chunk. A first pass finds them; the second adds the import.
const first = await build({ ...common, ...split, plugins: [lazyExternals, builtinsByRequire], metafile: true });
const inputs = first.metafile.inputs;
const core = new Set(['src/cli/program.ts']);
for (const queue = [...core]; queue.length > 0; ) {
  for (const i of inputs[queue.shift()]?.imports ?? []) {
    if (i.kind !== 'dynamic-import' && !core.has(i.path)) {
      core.add(i.path);
      queue.push(i.path);
    }
  }
}
const ours = (p) => p.startsWith('src/') && p.endsWith('.ts');
const dynamicEntries = new Set(
  Object.values(inputs)
    .flatMap((m) => m.imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path))
    .filter((p) => ours(p) && !core.has(p))
    .map((p) => resolve(p)),
);
const barrel = [...core]
  .filter((p) => ours(p) && p !== 'src/cli/program.ts')
  .map((p) => `import ${JSON.stringify(resolve(p))};`)
  .join('\n');
const sharedCore = {
  name: 'shared-core',
  setup(b) {
    b.onResolve({ filter: /^dotctl:core$/ }, () => ({ path: 'core', namespace: 'dotctl-core' }));
    b.onLoad({ filter: /.*/, namespace: 'dotctl-core' }, () => ({ contents: barrel, loader: 'js', resolveDir: process.cwd() }));
    b.onLoad({ filter: /\.ts$/ }, (args) => (dynamicEntries.has(args.path) ? { contents: `import 'dotctl:core';\n${readFileSync(args.path, 'utf8')}`, loader: 'ts' } : undefined));
  },
};
write(await build({ ...common, ...split, plugins: [lazyExternals, builtinsByRequire, sharedCore] }));

// The worker threads of a parallel `log verify` (SQLite, PostgreSQL), each bundled on its own next to program.js: the
// bundled verify finds it as ./verify-worker.js beside itself (new URL(..., import.meta.url)).
write(await build({ ...common, plugins: [lazyExternals, builtinsByRequire], entryPoints: ['src/ledger/verify-worker.ts'], outfile: 'dist/cli/verify-worker.js' }));
write(await build({ ...common, plugins: [lazyExternals, builtinsByRequire], entryPoints: ['src/ledger/verify-pg-worker.ts'], outfile: 'dist/cli/verify-pg-worker.js' }));

// The build's identity: SHA-256 over every file of dist/ (code only) and package.json. The
// catalogue cache keys its entries by it, so a catalogue validated by another build (or another
// version) of dotctl is never taken as validated by this one.
{
  const { createHash } = await import('node:crypto');
  const { readdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const h = createHash('sha256');
  h.update(readFileSync('package.json'));
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.js')) h.update(`${p}\0`).update(readFileSync(p));
    }
  };
  walk('dist');
  writeFileSync('dist/build-id', `${h.digest('hex')}\n`);
}
