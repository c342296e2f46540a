// Build step: bundles the CLI program (src/cli/program.ts and everything it loads, npm packages
// included) into one file, dist/cli/program.js, so a command loads one module instead of
// hundreds. dist/cli/main.js (the bin) stays tiny and imports it only when the pre-rendered
// --help does not answer. Packages that cannot be bundled stay in node_modules and are
// required where they are first used (not at start-up): better-sqlite3 (native addon found
// relative to its own files), libpg-query (loads its WASM relative to its own files), and
// pg-native (pg's optional native binding). The library entry (dist/index.js) is tsc's output.
import { build } from 'esbuild';

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

/** What both bundles share: one ESM file for Node 20, lazy natives, require() for bundled CommonJS. */
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
  plugins: [lazyExternals],
  // Bundled CommonJS packages (pg, commander) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __dotctlCreateRequire } from 'node:module';\nconst require = __dotctlCreateRequire(import.meta.url);\nconst __dotctlRequire = require;",
  },
};

// Split into ESM chunks: program.js holds commander and the commands' registration; what a
// command runs is loaded through dynamic import() from its own chunk, so `list` never compiles
// (let alone runs) the gate, the executor, pg, zod, yaml or the SQL parser. Chunks are written
// beside program.js (dist/cli/chunk-*.js): modules that find files relative to themselves
// (../build-id, ../../dots, ./verify-worker.js) see the same directory as in one bundle.
await build({ ...common, entryPoints: { program: 'src/cli/program.ts' }, outdir: 'dist/cli', splitting: true, chunkNames: 'chunk-[hash]' });

// The worker thread of a parallel `log verify`, bundled on its own next to program.js: the
// bundled verify finds it as ./verify-worker.js beside itself (new URL(..., import.meta.url)).
await build({ ...common, entryPoints: ['src/ledger/verify-worker.ts'], outfile: 'dist/cli/verify-worker.js' });

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
