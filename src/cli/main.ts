#!/usr/bin/env node
/**
 * dotctl entry point. `dotctl --help` is answered from the help text the build wrote
 * (dist/cli/help.txt, commander's own output), so it does not pay for loading commander and
 * the commands; everything else loads the program.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
let answered = false;
if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
  try {
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
