/**
 * Separate processes appending to one ledger at once — a fresh one, so they also race to create
 * and migrate it: the chain must verify, gapless, with exactly every row each worker wrote.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { verifyChain } from '../../src/ledger/chain.js';
import { sqlBackends, type Backend } from './helpers.js';

const WORKER = fileURLToPath(new URL('./fixtures/append-worker.ts', import.meta.url));
const WORKERS = 5;
const EACH = 60;

interface Exit {
  readonly code: number | null;
  readonly stderr: string;
}

function runWorker(spec: string, actor: string, startAt: number): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, spec, String(EACH), actor, String(startAt)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

function concurrencySuite(backend: Backend): void {
  describe(`concurrent appenders: ${backend.name}`, () => {
    after(() => backend.cleanup());

    test(`${WORKERS} processes × ${EACH} appends to one fresh ledger never fork the chain`, async (t) => {
      const site = await backend.fresh();
      const startAt = Date.now() + 2500; // past every worker's start-up, so the appends overlap
      const exits = await Promise.all(Array.from({ length: WORKERS }, (_, w) => runWorker(site.spec, `worker-${w}`, startAt)));
      for (const [w, e] of exits.entries()) assert.equal(e.code, 0, `worker-${w} failed: ${e.stderr}`);

      const ledger = await site.open({ mode: 'read' });
      try {
        const total = WORKERS * EACH;
        assert.deepEqual(await verifyChain(ledger.iterateEvents()), {
          kind: 'intact',
          rows: total,
          headHash: (await ledger.readEvents({ limit: 1 }))[0]?.hash,
        });
        const rows = await ledger.readEvents();
        assert.deepEqual(
          rows.map((r) => r.seq),
          Array.from({ length: total }, (_, i) => i + 1),
        );
        for (let w = 0; w < WORKERS; w += 1) {
          const mine = rows.filter((r) => r.actor === `worker-${w}`).map((r) => r.detail.i);
          assert.deepEqual(
            mine,
            Array.from({ length: EACH }, (_, i) => i + 1),
            `worker-${w} rows lost or reordered`,
          );
        }
        // The appends really interleaved: otherwise this test would prove nothing about locking.
        const switches = rows.filter((r, i) => i > 0 && rows[i - 1]?.actor !== r.actor).length;
        assert.ok(switches >= 2 * WORKERS, `appends did not interleave (${switches} switches)`);
        t.diagnostic(`${switches} switches between workers`);
      } finally {
        await ledger.close();
      }
      assert.deepEqual(await site.raw.versions(), [1, 2, 3, 4]);
    });
  });
}

for (const backend of sqlBackends()) concurrencySuite(backend);
