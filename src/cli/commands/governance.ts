import type { Command } from 'commander';
import { action, collect, engineFor, globalOptions, out, outJson } from '../context.js';
import { basename } from 'node:path';
import { generateKeyFile, loadSigningKey, InputError, ROLES } from '../../engine.js';

/** Registers `keygen`, `propose`, `admit`, `admissions`, `approve`, `reject`. */
export function registerGovernanceCommands(program: Command): void {
  program
    .command('keygen [name]')
    .description('create an Ed25519 key pair (private key 0600) and print its identities entry; --show KEY prints the entry of an existing key')
    .option('--dir <dir>', "where to write NAME.key (default: the workspace's keys directory, else .dotctl/keys)")
    .option('--role <role>', 'role(s) for the printed entry: operator, reviewer, auditor, automation (repeatable)', collect, [])
    .option('--show <keyfile>', 'print the public key and identities entry of an existing private key (writes nothing)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (nameArg: string | undefined, opts: { dir?: string; role: string[]; show?: string; json?: boolean }, cmd: Command) => {
        const roles = opts.role.length > 0 ? opts.role : ['operator'];
        const bad = roles.find((r) => !(ROLES as readonly string[]).includes(r));
        if (bad) throw new InputError(`--role ${JSON.stringify(bad)} is not a role; use ${ROLES.join(', ')}`);
        let name: string;
        let k: { file: string; publicKey: string };
        if (opts.show !== undefined) {
          k = await loadSigningKey(opts.show);
          name = nameArg ?? basename(opts.show).replace(/\.key$/, '');
        } else {
          if (nameArg === undefined) throw new InputError('name the identity (dotctl keygen NAME), or pass --show KEYFILE to print the entry of an existing key');
          name = nameArg;
          k = await generateKeyFile(name, opts.dir ?? (await globalOptions(cmd)).keys);
        }
        if (opts.json) return outJson({ name, roles, key_file: k.file, public_key: k.publicKey });
        out(opts.show !== undefined ? `# public key of ${k.file}` : `# private key written to ${k.file} (mode 0600); keep it secret, pass it with --key`);
        out('# a complete identities file with this entry; to add it to an existing one, copy the "- name" item under identities:');
        out('identities:');
        out(`  - name: ${name}`);
        out(`    roles: [${roles.join(', ')}]`);
        out(`    public_key: ${k.publicKey}`);
      }),
    );

  program
    .command('propose <dot...>')
    .description('bind parameters, run read-only checks as evidence, sign, store and render a proposal')
    .option('-p, --param <name=value>', 'parameter value (repeatable)', collect, [])
    .option('--offline', 'run no hard stops or pre-checks (evidence marked absent); still connects once to read the server identity')
    .option('--out <file>', 'write the Markdown here (default proposals/<id>.md)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (refs: string[], opts: { param: string[]; offline?: boolean; out?: string; json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).propose(refs, opts.param, { offline: opts.offline, out: opts.out });
        for (const w of r.warnings) process.stderr.write(`dotctl: warning: ${w}\n`);
        if (opts.json) return outJson(r);
        out(`proposed ${r.id}: ${r.dots.join(' + ')} on ${r.address} (${r.target})`);
        out(`hash ${r.hash}`);
        const notRun = r.evidence.filter((e) => e.outcome === 'not_run');
        out(
          `evidence: ${r.evidence.length === 0 ? 'absent (offline)' : `${r.evidence.length - notRun.length} read-only check(s) passed${notRun.length > 0 ? `, ${notRun.length} not run (${notRun.map((e) => e.observed).join('; ')})` : ''}`}`,
        );
        out(`gate: ${r.requirements.minApprovals} approval(s) from reviewers${r.requirements.dualControl ? ' (dual control)' : ''}`);
        out(`wrote ${r.markdownPath}`);
      }),
    );

  program
    .command('admit [dot...]')
    .description("admit DOTs' current content (YAML, diffs, laws) as a reviewer, so they can be proposed")
    .option('--all', 'admit every DOT of the catalogue whose current content you have not admitted yet')
    .option('--comment <text>', 'comment recorded with the admission')
    .option('--json', 'machine-readable output')
    .action(
      action(async (refs: string[], opts: { all?: boolean; comment?: string; json?: boolean }, cmd: Command) => {
        if (opts.all === true && refs.length > 0) throw new InputError('name DOTs or pass --all, not both');
        if (opts.all !== true && refs.length === 0) throw new InputError('name the DOT(s) to admit (id or option label), or pass --all');
        const r = await (await engineFor(cmd)).admit(opts.all === true ? 'all' : refs, opts.comment);
        if (opts.json) return outJson(r);
        for (const a of r) {
          const verdict = a.decision.kind === 'admitted' ? 'may be proposed' : `not yet: ${a.decision.required} reviewer(s) needed, ${a.decision.admitters.length} so far`;
          out(`${a.dotId} v${a.version} content ${a.contentHash.slice(0, 16)}… ${a.outcome === 'already' ? 'already admitted by you' : 'admitted'}; ${verdict}`);
        }
      }),
    );

  program
    .command('admissions [dot]')
    .description('who admitted which content of each DOT, and whether its current content may be proposed')
    .option('--json', 'machine-readable output')
    .action(
      action(async (ref: string | undefined, opts: { json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).admissions(ref);
        if (opts.json) return outJson(r);
        for (const s of r.statuses) {
          const verdict =
            s.decision === null ? '' : s.decision.kind === 'admitted' ? ': admitted' : `: NOT admitted (${s.decision.required} reviewer(s) needed, ${s.decision.admitters.length} so far)`;
          out(`${s.dotId} v${s.version} current content ${s.contentHash.slice(0, 16)}…${verdict}`);
          for (const a of s.admissions) {
            out(`  ${a.at}  ${a.actor}  v${a.version} ${a.contentHash.slice(0, 16)}…${a.contentHash === s.contentHash ? ' (current)' : ''}${a.comment ? `  ${a.comment}` : ''}`);
          }
        }
        if (r.note) out(r.note);
      }),
    );

  for (const kind of ['approve', 'reject'] as const) {
    const c = program.command(`${kind} <proposal>`).description(kind === 'approve' ? 'sign the proposal hash as a reviewer' : 'reject a proposal (blocks it) as a reviewer');
    if (kind === 'approve') c.option('--comment <text>', 'comment recorded with the approval');
    else c.requiredOption('--reason <text>', 'why it is rejected');
    c.option('--json', 'machine-readable output').action(
      action(async (id: string, opts: { comment?: string; reason?: string; json?: boolean }, cmd: Command) => {
        const engine = await engineFor(cmd);
        const r = kind === 'approve' ? await engine.approve(id, opts.comment) : await engine.reject(id, opts.reason ?? '');
        if (opts.json) return outJson(r);
        out(`${r.actor} ${kind === 'approve' ? 'approved' : 'rejected'} ${r.id} (hash ${r.hash.slice(0, 16)}…)${r.expiresAt ? `; the approval expires at ${r.expiresAt}` : ''}`);
        out(r.gate.kind === 'allow' ? 'gate: ready to apply' : `gate: not ready — ${r.gate.unmet.map((u) => u.message).join('; ')}`);
      }),
    );
  }
}
