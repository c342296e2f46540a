/**
 * The identity registry from the command line: `ledger init` / `ledger upgrade` write the genesis
 * registry (signed by every member: one --key each), `identities change FILE` proposes a new one,
 * `identities approve ID` signs it (in force at the quorum), `identities export` prints the one in
 * force as an identities file and `identities pending` the changes waiting for signatures.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import type { LedgerInitResult, RegistryChangeResult } from '../../engine.js';
import { action, engineFor, globalOptions, out, outJson } from '../context.js';
import { initLedger, upgradeLedger, provisionLedgerRoles, InputError } from '../../engine.js';

function parseQuorum(v: string | undefined, InputError: new (m: string) => Error): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 100) throw new InputError(`--quorum ${JSON.stringify(v)} is not a whole number from 1 to 100; pass e.g. --quorum 2`);
  return Number(v);
}

function printInit(r: LedgerInitResult, ledger: string, upgraded: boolean): void {
  out(`${upgraded ? 'upgraded' : 'initialised'} the ledger ${ledger}: identity registry of ${r.members.length} member(s) (${r.members.join(', ')}), quorum ${r.quorum}, signed by every member`);
  if (upgraded) out(`the ${r.legacyRows} earlier row(s) are legacy, unsigned; every row from seq ${r.genesisSeq - 1} on is signed by its actor`);
  out(`ledger id ${r.ledgerId}`);
  out('from now on the identities file is an import/export form only: editing it changes nothing (dotctl identities change FILE proposes a change)');
}

function printChange(r: RegistryChangeResult, verb: string): void {
  out(`${verb} registry change ${r.changeId}: ${r.changes.join('; ') || 'no difference'}`);
  out(
    r.inForce
      ? `in force from seq ${r.seq}: signed by ${r.signedBy.join(', ')} (quorum ${r.required})`
      : `signed by ${r.signedBy.join(', ')}: ${r.signedBy.length} of ${r.required}; another signer runs dotctl identities approve ${r.changeId}`,
  );
}

/** Registers `ledger init`, `ledger upgrade` and `identities change|approve|export|pending`. */
export function registerRegistryCommands(program: Command): void {
  const ledger = program.commands.find((c) => c.name() === 'ledger') ?? program.command('ledger');
  ledger.description('administer the ledger itself: init, upgrade (its identity registry), roles (PostgreSQL least privilege)');
  for (const mode of ['init', 'upgrade'] as const) {
    ledger
      .command(mode)
      .description(
        mode === 'init'
          ? 'create the ledger with its genesis identity registry from --identities FILE, signed by every member (one --key per member)'
          : 'give a ledger of an earlier dotctl its identity registry (--identities FILE, one --key per member); its history is kept as legacy, unsigned',
      )
      .option('--quorum <n>', "signatures a registry change needs (default: the file's quorum:, else 2)")
      .option('--owner-role <name>', 'PostgreSQL ledger: first make this NOLOGIN role own it (as `ledger roles` does; needs --writer-role)')
      .option('--writer-role <name>', 'PostgreSQL ledger: the login operators use afterwards; it may only read and append')
      .option('--json', 'machine-readable output')
      .action(
        action(async (opts: { quorum?: string; ownerRole?: string; writerRole?: string; json?: boolean }, cmd: Command) => {
          const g = await globalOptions(cmd);
          if (!g.identities) throw new InputError(`pass the first members with --identities FILE (or DOTCTL_IDENTITIES): dotctl ledger ${mode} --identities identities.yaml --key a.key --key b.key …`);
          const quorum = parseQuorum(opts.quorum, InputError);
          if ((opts.ownerRole === undefined) !== (opts.writerRole === undefined)) throw new InputError('pass --owner-role and --writer-role together (or neither)');
          if (opts.ownerRole !== undefined && opts.writerRole !== undefined) {
            if (!/^postgres(ql)?:\/\//.test(g.ledger)) throw new InputError('--owner-role and --writer-role are for a PostgreSQL ledger; pass --ledger postgres://…');
            const roles = await provisionLedgerRoles(g.ledger, { owner: opts.ownerRole, writer: opts.writerRole });
            if (!opts.json) out(`ledger ${roles.database}: owned by ${roles.owner} (NOLOGIN); writer ${roles.writer} may only read and append`);
          }
          const run = mode === 'init' ? initLedger : upgradeLedger;
          const r = await run({ ledger: g.ledger, identities: g.identities, keys: g.signers, ...(quorum !== undefined ? { quorum } : {}) });
          if (opts.json) return outJson({ ledger: g.ledger, ...r });
          printInit(r, g.ledger, mode === 'upgrade');
        }),
      );
  }

  const ids = program.command('identities').description("the ledger's identity registry: export it, propose a change, sign one, list those pending");
  ids
    .command('export')
    .description('print the identity registry in force as an identities file (import/export only: editing it changes nothing)')
    .option('--out <file>', 'write it to FILE instead of stdout')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { out?: string; json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).registry();
        if (opts.json) return outJson({ seq: r.seq, at: r.at, quorum: r.quorum, identities: r.members });
        if (opts.out) {
          await writeFile(opts.out, r.yaml);
          return out(`wrote the registry in force (seq ${r.seq}) to ${opts.out}`);
        }
        process.stdout.write(r.yaml);
      }),
    );
  ids
    .command('change <file>')
    .description('propose FILE (a whole identities file) as the new registry: add or disable a member, change roles or groups, rotate a key, change quorum:')
    .option('--json', 'machine-readable output')
    .action(
      action(async (file: string, opts: { json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).changeRegistry(file);
        if (opts.json) return outJson(r);
        printChange(r, 'proposed');
      }),
    );
  ids
    .command('approve <change>')
    .description('sign a proposed registry change as an admin (a reviewer when the registry has no admin); the signature that reaches the quorum puts it in force')
    .option('--json', 'machine-readable output')
    .action(
      action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).approveRegistryChange(id);
        if (opts.json) return outJson(r);
        printChange(r, 'signed');
      }),
    );
  ids
    .command('pending')
    .description('list the registry changes waiting for signatures')
    .option('--json', 'machine-readable output')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const r = await (await engineFor(cmd)).registry();
        if (opts.json) return outJson(r.pending);
        if (r.pending.length === 0) return out(`no registry change is waiting; the registry in force is that of seq ${r.seq} (quorum ${r.quorum})`);
        for (const p of r.pending) {
          out(`${p.changeId}  proposed by ${p.proposedBy} at ${p.at}  signed by ${p.signedBy.join(', ')}${p.stale ? '  STALE (proposed against an older registry)' : ''}`);
          for (const c of p.changes) out(`  ${c}`);
        }
      }),
    );
}
