/**
 * Governed files: every file a DOT patched, with the sha256 its apply left (recorded in the
 * `applied` event). A file whose bytes differ now was changed outside dotctl; the watch names the
 * proposal that last set it. Only files patched on this host are checked (a shared ledger serves
 * several hosts), and only for proposals still applied (a rolled-back one set nothing that stands).
 */
import type { LedgerStore } from '../../ledger/port.js';
import type { ProposalRecord } from '../../model/records.js';
import { fileSha256 } from '../../exec/checks.js';
import type { WatchCheck } from './types.js';

interface Recorded {
  readonly dot: string;
  readonly path: string;
  readonly sha256: string | null;
}

const isRecorded = (x: unknown): x is Recorded => {
  const r = x as Recorded;
  return typeof r === 'object' && r !== null && typeof r.path === 'string' && typeof r.dot === 'string' && (typeof r.sha256 === 'string' || r.sha256 === null);
};

/** The governed files of the applied proposals on `host`, each checked against the sha256 its last setter recorded. */
export async function governedChecks(ledger: LedgerStore, applied: readonly ProposalRecord[], host: string): Promise<WatchCheck[]> {
  const byId = new Map(applied.map((p) => [p.id, p]));
  const last = new Map<string, { g: Recorded; p: ProposalRecord; at: string }>();
  for (const e of await ledger.readEvents({ event: 'applied' })) {
    const p = e.proposalId === null ? undefined : byId.get(e.proposalId);
    if (!p || e.detail.host !== host || !Array.isArray(e.detail.governed_files)) continue;
    for (const g of e.detail.governed_files) if (isRecorded(g)) last.set(g.path, { g, p, at: e.at });
  }
  const out: WatchCheck[] = [];
  for (const [path, { g, p, at }] of [...last.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const setter = `${p.id} (${g.dot}) set it at ${at}`;
    const want = g.sha256 ?? 'unknown';
    let status: 'holding' | 'failing' = 'holding';
    let observed: string;
    const now = await fileSha256(path).catch((err: NodeJS.ErrnoException) => ({ error: err.code ?? err.message }));
    if (typeof now !== 'string') {
      status = 'failing';
      observed = `${path} cannot be read (${now.error}): it was removed or moved outside dotctl; ${setter}`;
    } else if (now !== g.sha256) {
      status = 'failing';
      observed = `${path} was changed outside dotctl: its sha256 is now ${now.slice(0, 16)}…, but ${setter} as ${want.slice(0, 16)}…; review the edit, then undo it or propose it as a DOT`;
    } else observed = `${path}: sha256 ${now.slice(0, 16)}… as ${setter}`;
    out.push({
      id: `file:${path}`,
      kind: 'governed_file',
      name: `governed file ${path}`,
      status,
      observed,
      expected: `sha256 ${want.slice(0, 16)}… (${p.id})`,
      proposalId: p.id,
      dotId: g.dot,
      actionCode: null,
      proposalHash: p.hash,
    });
  }
  return out;
}
