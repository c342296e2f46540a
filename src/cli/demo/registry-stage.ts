/**
 * The demo's identity registry: `ledger init` makes the four people the ledger's genesis
 * registry, signed by all four; a fifth person written into the identities file by hand is
 * nobody (editing the file changes nothing); the same person added by a registry change that
 * both reviewers sign (the quorum) can act. Public API only.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GateError, generateKeyFile, initLedger } from '../../engine.js';
import { check, type DemoContext, type Person } from './stage.js';

/** Creates the demo ledger with its genesis registry (every person signs it). */
export async function initDemoLedger(ctx: DemoContext): Promise<Readonly<Record<string, unknown>>> {
  const people = Object.values(ctx.people);
  const r = await initLedger({ ledger: ctx.paths.ledger, identities: ctx.paths.identities, keys: people.map((p) => p.key) });
  check(r.members.length === people.length && r.genesisSeq === 1, `ledger init must register the ${people.length} people as the genesis, it registered ${r.members.join(', ')}`);
  ctx.say(`dotctl ledger init: the ledger's genesis registry — ${r.members.join(', ')} — signed by all ${r.members.length}; registry changes need ${r.quorum} reviewers`);
  ctx.say(`ledger id ${r.ledgerId.slice(0, 16)}… (the hash of its first row); from here on the identities file is an import/export form only`);
  return { ledgerId: r.ledgerId, quorum: r.quorum };
}

/** A fifth member: nobody while only written into the file; a member once the quorum signed the change. */
export async function addMemberByQuorum(ctx: DemoContext): Promise<Readonly<Record<string, unknown>>> {
  const { reviewer1, reviewer2 } = ctx.people;
  const k = await generateKeyFile('vera', ctx.paths.keys);
  const vera: Person = { name: 'vera', role: 'reviewer', key: k.file };
  const entry = `  - name: vera\n    roles: [reviewer]\n    public_key: ${k.publicKey}\n`;
  // the insider's shortcut: write vera into the file
  await appendFile(ctx.paths.identities, entry);
  const byFile = await ctx
    .as(vera)
    .admit(['A'], 'vera, written into the file by hand')
    .then(
      () => null,
      (err: unknown) => err,
    );
  check(byFile instanceof GateError, 'a member written into the identities file by hand must be refused');
  ctx.say(`vera written into ${ctx.paths.identities.split(ctx.paths.work).join('$WORK')} by hand: refused — ${(byFile as Error).message.split(';')[0]}`);
  // the governed way: a registry change, proposed by rita and signed by raj (quorum 2)
  const current = await ctx.as(reviewer1).registry();
  const file = join(ctx.paths.work, 'identities-with-vera.yaml');
  await writeFile(file, current.yaml + entry);
  const proposed = await ctx.as(reviewer1).changeRegistry(file);
  check(!proposed.inForce, 'one signature must not put a registry change in force when the quorum is 2');
  ctx.say(`${reviewer1.name} proposes registry change ${proposed.changeId} (${proposed.changes.join('; ')}): ${proposed.signedBy.length} of ${proposed.required} signatures, not in force`);
  const done = await ctx.as(reviewer2).approveRegistryChange(proposed.changeId);
  check(done.inForce, `the second reviewer's signature must put ${proposed.changeId} in force`);
  ctx.say(`${reviewer2.name} signs it: in force from seq ${done.seq}, signed by ${done.signedBy.join(' and ')}`);
  const [admitted] = await ctx.as(vera).admit(['A'], 'vera, a member by a registry change');
  check(admitted?.outcome === 'admitted', 'vera, added by the quorum, must be able to admit');
  ctx.say(`vera, now a member, admits ${admitted.dotId}: her signature counts`);
  return { registryChange: done.changeId, members: (await ctx.as(reviewer1).registry()).members.map((m) => m.name) };
}

/** An automation identity (the watch's), made a member the governed way: a registry change both reviewers sign. */
export async function registerAutomation(ctx: DemoContext, name: string): Promise<Person> {
  const { reviewer1, reviewer2 } = ctx.people;
  const k = await generateKeyFile(name, ctx.paths.keys);
  const current = await ctx.as(reviewer1).registry();
  const file = join(ctx.paths.work, `identities-with-${name}.yaml`);
  await writeFile(file, `${current.yaml}${current.yaml.endsWith('\n') ? '' : '\n'}  - name: ${name}\n    roles: [automation]\n    public_key: ${k.publicKey}\n`);
  const proposed = await ctx.as(reviewer1).changeRegistry(file);
  const done = await ctx.as(reviewer2).approveRegistryChange(proposed.changeId);
  check(done.inForce, `the registry change adding ${name} must be in force after two signatures`);
  return { name, role: 'automation', key: k.file };
}
