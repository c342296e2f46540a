/**
 * A command registers only the commands of its group (program.ts): the table of which group adds
 * which top-level command must say what the registrations do, or a command would go missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { buildProgram, COMMAND_GROUPS, groupsFor } from '../../src/cli/program.js';

test('each group names exactly the top-level commands its registration adds, and all are named', () => {
  for (const g of COMMAND_GROUPS) {
    const p = new Command();
    g.register(p);
    assert.deepEqual(
      p.commands.map((c) => c.name()),
      g.names,
    );
  }
  const named = new Set(COMMAND_GROUPS.flatMap((g) => g.names));
  for (const c of buildProgram().commands) assert.ok(named.has(c.name()), `${c.name()} is in no group`);
});

test('the command name is found past global options and their values; anything else registers every group', () => {
  const program = buildProgram([]);
  const names = (args: string[]): string[] => [...new Set(groupsFor(program, args).flatMap((g) => g.names))];
  assert.deepEqual(names(['list']), ['validate', 'list', 'show', 'render']);
  assert.deepEqual(names(['--dots', 'list', 'show', 'A']), ['validate', 'list', 'show', 'render']);
  assert.deepEqual(names(['--dots=x', '--key', 'a.key', '--key', 'b.key', 'apply', 'P-1']), ['apply', 'rollback']);
  assert.deepEqual(names(['ledger', 'init']), ['ledger', 'log', 'proposals', 'status', 'identities']);
  const all = [...new Set(COMMAND_GROUPS.flatMap((g) => g.names))];
  for (const args of [[], ['--version'], ['help', 'list'], ['lsit'], ['--', 'list'], ['--unknown', 'list']]) assert.deepEqual(names(args), all, args.join(' '));
});
