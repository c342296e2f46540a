/**
 * Every test ledger starts with a genesis identity registry, as `dotctl ledger init` makes it:
 * the fixture's identities file, signed with every member's key. Fixtures register their keys
 * here once (`registerFixture`); `ensureGenesis` initialises a ledger (the fixture's own, or a
 * PostgreSQL one a suite swaps in) the first time a suite uses it.
 */
import { runCli } from './cli.js';

const keysOf = new Map<string, readonly string[]>();
const initialised = new Set<string>();

/** Remembers every member's key file of an identities file. */
export function registerFixture(identities: string, keys: readonly string[]): void {
  keysOf.set(identities, keys);
}

/** The key files registered for an identities file. */
export function fixtureKeys(identities: string): readonly string[] {
  const keys = keysOf.get(identities);
  if (!keys) throw new Error(`no keys registered for ${identities}; call registerFixture first`);
  return keys;
}

/**
 * Runs `dotctl ledger init` on `ledger` with `identities` and all its members' keys, once per
 * ledger in this process; a ledger that already has its registry is left as it is.
 */
export function ensureGenesis(ledger: string, identities: string, cwd?: string): void {
  if (initialised.has(ledger)) return;
  const r = runCli(['--ledger', ledger, '--identities', identities, ...fixtureKeys(identities).flatMap((k) => ['--key', k]), 'ledger', 'init'], { cwd });
  if (r.code !== 0 && !/already has an identity registry/.test(r.stderr)) throw new Error(`ledger init of ${ledger} failed (exit ${r.code}): ${r.stderr}`);
  initialised.add(ledger);
}

/** `ensureGenesis` for the `--ledger` and `--identities` of a set of CLI flags. */
export function ensureGenesisFor(flags: readonly string[], cwd?: string): void {
  const at = (name: string): string | undefined => {
    const i = flags.lastIndexOf(name);
    return i >= 0 ? flags[i + 1] : undefined;
  };
  const ledger = at('--ledger');
  const identities = at('--identities');
  if (ledger && identities && keysOf.has(identities)) ensureGenesis(ledger, identities, cwd);
}
