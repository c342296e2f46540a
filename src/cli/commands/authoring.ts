import type { Command } from 'commander';
import { action, collect, engineFor, globalOptions, out, outJson, ExitSignal } from '../context.js';
import { writeDotSkeleton, makePatchStep } from '../../engine.js';

/** Registers the authoring commands: `new`, `patch make`, `test`. */
export function registerAuthoringCommands(program: Command): void {
  program
    .command('new <dot-id>')
    .description('write a commented skeleton DOT (dots/<DOT-ID>.yaml) to fill in; validate tells what is left')
    .option('--force', 'overwrite an existing file')
    .action(
      action(async (id: string, opts: { force?: boolean }, cmd: Command) => {
        const r = await writeDotSkeleton((await globalOptions(cmd)).dots, id, { force: opts.force === true });
        out(`wrote ${r.file}`);
        out(`fill in every TODO, then: dotctl validate && dotctl test ${id} -p …`);
      }),
    );

  const patch = program.command('patch').description('patch steps: make the diff of an edited file');
  patch
    .command('make <original> <edited>')
    .description('write the unified diff from ORIGINAL to EDITED beside the DOTs and print the diff and rollback steps to paste')
    .option('--name <name>', 'diff file name stem (default: the edited file name); written as <name>.diff')
    .option('--file <path>', 'the path the step patches on the target host (default: ORIGINAL)')
    .action(
      action(async (original: string, edited: string, opts: { name?: string; file?: string }, cmd: Command) => {
        const r = await makePatchStep((await globalOptions(cmd)).dots, original, edited, opts);
        process.stderr.write(`wrote ${r.diffPath} (${r.hunks} hunk(s)); paste into the DOT:\n`);
        process.stdout.write(r.yaml);
      }),
    );

  program
    .command('test <dot...>')
    .description("prove a DOT's rollback on a scratch copy of the target: apply, post-verify, rollback, compare with before, apply again")
    .option('-p, --param <name=value>', 'parameter value (repeatable)', collect, [])
    .option('--fixture <file>', 'SQL file run in the scratch copy after the schema and rows are copied')
    .option('--json', 'machine-readable output')
    .action(
      action(async (refs: string[], opts: { param: string[]; fixture?: string; json?: boolean }, cmd: Command) => {
        const engine = await engineFor(cmd);
        const proof = await engine.test(refs, opts.param, { fixture: opts.fixture });
        if (opts.json) outJson(proof);
        else {
          out(`dotctl test ${proof.dots.map((d) => d.id).join(' + ')} on ${proof.scratch}, a scratch copy of ${proof.target} (dropped afterwards)`);
          for (const s of proof.stages) {
            out(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.stage}: ${s.message}`);
            if (s.stage === 'compare') for (const d of proof.differences) out(`         ${d.replace(/\n/g, '\n         ')}`);
          }
          for (const n of proof.notCovered) out(`  note: not run, so not covered by the proof: ${n}`);
          out(proof.passed ? 'PASSED: the rollback restores exactly the state before the DOT, and the DOT applies again' : 'FAILED: the rollback does not prove out; see above');
          out('recorded' in proof && 'by' in proof.recorded ? `recorded in the action log as "tested" by ${proof.recorded.by}` : `note: ${'not' in proof.recorded ? proof.recorded.not : ''}`);
        }
        if (!proof.passed) throw new ExitSignal(4);
      }),
    );
}
