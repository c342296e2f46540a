import type { Command } from 'commander';
import { action, alignColumns, collect, globalOptions, out, outJson, ExitSignal } from '../context.js';
import { validateDots, formatProblem, listDots, showDot, describeRequirements, renderDots } from '../../engine.js';

/** Registers `validate`, `list`, `show`, `render`. */
export function registerSpecCommands(program: Command): void {
  program
    .command('validate')
    .description('validate every DOT spec and the law registry; every problem as file:line:col: message')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const g = await globalOptions(cmd);
        const result = await validateDots(g.dots);
        if (opts.json) {
          outJson(result.kind === 'valid' ? { valid: true, dots: result.dotCount, laws: result.lawCount } : { valid: false, problems: result.problems });
        } else if (result.kind === 'valid') {
          out(`${g.dots}: ${result.dotCount} DOT(s) and ${result.lawCount} law(s) are valid`);
        } else {
          for (const p of result.problems) process.stderr.write(`${formatProblem(p)}\n`);
          process.stderr.write(`dotctl: ${result.problems.length} problem(s) in ${g.dots}; fix them and run validate again.\n`);
        }
        if (result.kind === 'invalid') throw new ExitSignal(2);
      }),
    );

  program
    .command('list')
    .description('list the DOT catalogue')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const g = await globalOptions(cmd);
        const dots = await listDots(g.dots, g.catalogueCache);
        if (opts.json) return outJson(dots);
        const rows = dots.map((d) => [d.option ?? '-', d.id, d.risk, `${d.approvalsRequired}${d.dualControl ? ' (dual)' : ''}`, d.laws.join(' '), d.title]);
        for (const line of alignColumns([['OPTION', 'DOT', 'RISK', 'APPROVALS', 'LAWS', 'TITLE'], ...rows])) out(line);
      }),
    );

  program
    .command('show <dot>')
    .description('show one DOT: summary, parameters, sections and gate requirements')
    .option('--json', 'machine-readable output')
    .action(
      action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
        const g = await globalOptions(cmd);
        const { summary, dot, requirements } = await showDot(g.dots, ref, g.catalogueCache);
        if (opts.json) return outJson({ ...summary, requirements, spec: dot.spec });
        const s = dot.spec;
        out(`${s.id} (${s.option !== undefined ? `option ${s.option}, ` : ''}v${s.version}): ${s.title}`);
        out(`  risk: ${s.risk}    action code: ${s.action_code}    file: ${dot.file}`);
        out(`  laws: ${s.laws.join(', ')}    companions: ${s.companions.join(', ') || 'none'}`);
        out();
        out(`  ${s.summary.trim().replace(/\n/g, '\n  ')}`);
        out();
        out('  parameters:');
        for (const [n, p] of Object.entries(s.params)) {
          out(`    ${n} (${p.type})${p.default !== undefined ? ` = ${String(p.default)}` : p.type === 'secret' ? ' from the environment' : ' (required)'}: ${p.description}`);
        }
        out();
        for (const sec of ['hard_stops', 'pre_check', 'diff', 'rollback', 'post_verify', 'invariants'] as const) {
          if (sec === 'invariants' && s.invariants === undefined) continue;
          const steps = s[sec] ?? [];
          out(`  ${sec}: ${steps.length === 0 ? 'none' : steps.map((st) => `${st.kind}: ${st.name}`).join('; ')}`);
        }
        out();
        out('  gate:');
        for (const l of describeRequirements(requirements)) out(`    - ${l}`);
      }),
    );

  program
    .command('render <dot...>')
    .description('render a proposal (Markdown, canonical JSON, hash) without database or ledger')
    .option('-p, --param <name=value>', 'parameter value (repeatable)', collect, [])
    .option('--out <file>', 'write the Markdown to FILE and the canonical JSON beside it: p.md → p.json, any other FILE → FILE.json')
    .option('--json', 'print {hash, dots, canonical, markdown} as JSON')
    .action(
      action(async (refs: string[], opts: { param: string[]; out?: string; json?: boolean }, cmd: Command) => {
        const g = await globalOptions(cmd);
        const r = await renderDots(g.dots, refs, opts.param, g.paramDefaults, g.catalogueCache);
        if (opts.out) {
          const { writeFile } = await import('node:fs/promises');
          const jsonPath = `${opts.out.replace(/\.md$/, '')}.json`;
          await writeFile(opts.out, r.markdown);
          await writeFile(jsonPath, r.canonical); // no newline: sha256sum of the file is the hash
          out(`${r.dots.join(' + ')}: ${r.hash}`);
          out(`wrote ${opts.out} and ${jsonPath}`);
        } else if (opts.json) {
          outJson({ hash: r.hash, dots: r.dots, canonical: JSON.parse(r.canonical), markdown: r.markdown });
        } else {
          process.stdout.write(r.markdown);
        }
      }),
    );
}
