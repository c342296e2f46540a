#!/usr/bin/env node
/**
 * dotctl entry point. `dotctl --help` is answered from the help text the build wrote
 * (dist/cli/help.txt, commander's own output), so it does not pay for loading commander and
 * the commands; everything else loads the program.
 */
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
let answered = false;
if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
  try {
    // node:fs through require(): an ESM import of it builds its facade, which loads node:stream.
    const { readFileSync } = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
    process.stdout.write(readFileSync(new URL('./help.txt', import.meta.url), 'utf8'));
    answered = true;
  } catch {
    // no pre-rendered help (a build without it): commander answers below
  }
}
if (!answered) {
  const { run } = await import('./program.js');
  run(process.argv);
}
