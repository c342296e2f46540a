/**
 * The auditor's look outside the ledger: the target's witness compared with the ledger
 * (`dotctl log verify --target`), and a signed checkpoint of the head exported and proved
 * (`dotctl log checkpoint`, `dotctl log verify --checkpoint`). Public API only.
 */
import { join } from 'node:path';
import { short } from './print.js';
import { check, type DemoContext } from './stage.js';

/** Cross-checks the target's witness, writes a checkpoint and verifies it; returns the key facts. */
export async function auditWitness(ctx: DemoContext): Promise<Readonly<Record<string, unknown>>> {
  const engine = ctx.as(ctx.people.auditor);
  const crossed = await engine.verifyLog({ target: true });
  const t = crossed.target;
  check(t !== undefined, 'log verify --target returned no report of the target');
  check(t.problems.length === 0, `log verify --target: ${t.problems[0]?.message ?? ''}`);
  check(t.witnessRows >= 2, `the target must witness both applies, it holds ${t.witnessRows} row(s)`);
  ctx.say(
    `log verify --target: ${ctx.database} witnessed ${t.witnessRows} applies of ledger ${short(t.ledgerId, 16)} (dotctl.witness, written in each apply's transaction); every witnessed head is in the ledger with its hash, every apply in the ledger is witnessed`,
  );
  const file = join(ctx.paths.work, 'checkpoint.json');
  const cp = await engine.checkpoint({ out: file });
  const proved = await engine.verifyLog({ checkpoint: file });
  check(proved.checkpoint !== undefined && proved.checkpoint.problems.length === 0, `log verify --checkpoint: ${proved.checkpoint?.problems[0]?.message ?? 'no report'}`);
  ctx.say(`log checkpoint: seq ${cp.seq}, head ${short(cp.hash, 16)}, signed by ${cp.signer} → ${file}; log verify --checkpoint proves the ledger still contains it`);
  return { witnessRows: t.witnessRows, ledgerId: t.ledgerId, checkpoint: { seq: cp.seq, hash: cp.hash, signer: cp.signer } };
}
