/** Build step: prints commander's `--help` for dist/cli/help.txt (see main.ts). */
import { run } from './program.js';

run([process.argv[0] ?? 'node', 'dotctl', '--help']);
