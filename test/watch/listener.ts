/**
 * A loopback HTTP listener standing in for Uptime Kuma and a webhook receiver: it records every
 * request (method, path, query, JSON body). Paths under /hang never answer (an endpoint that
 * hangs); /fail answers 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';
import { join } from 'node:path';
import { generateKeyFile } from '../../src/gate/keys.js';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly body: unknown;
}

export interface Listener {
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}

/** Starts the listener on an ephemeral loopback port. */
export async function startListener(): Promise<Listener> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      let body: unknown = null;
      try {
        body = text === '' ? null : JSON.parse(text);
      } catch {
        body = text;
      }
      received.push({ method: req.method ?? '', path: u.pathname, query: Object.fromEntries(u.searchParams), body });
      if (u.pathname.startsWith('/hang')) {
        hanging.push(res);
        return;
      }
      res.writeHead(u.pathname.startsWith('/fail') ? 500 : 200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async close() {
      for (const h of hanging) h.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Adds an identity with role automation (and a fresh key) to an identities file; returns its key file. */
export async function addAutomationIdentity(identities: string, name = 'wally', roles: readonly string[] = ['automation']): Promise<{ name: string; key: string }> {
  const dir = await mkdtemp(join(identities, '..', 'auto-'));
  const g = await generateKeyFile(name, dir);
  const text = await readFile(identities, 'utf8');
  await appendFile(identities, `${text.endsWith('\n') ? '' : '\n'}  - name: ${name}\n    roles: [${roles.join(', ')}]\n    public_key: ${g.publicKey}\n`);
  return { name, key: g.file };
}

/**
 * Makes an automation identity a member of a ledger that already has its registry, the governed
 * way: the current registry exported, the member added, the change proposed by one reviewer and
 * signed by another (the quorum of two).
 */
export async function registerAutomation(flags: readonly string[], reviewers: readonly [string, string], dir: string, name = 'wally'): Promise<{ name: string; key: string }> {
  const keyDir = await mkdtemp(join(dir, 'auto-'));
  const g = await generateKeyFile(name, keyDir);
  const exported = runCli([...flags, 'identities', 'export']);
  if (exported.code !== 0) throw new Error(`identities export failed: ${exported.stderr}`);
  const next = join(keyDir, 'next.yaml');
  await writeFile(next, `${exported.stdout}${exported.stdout.endsWith('\n') ? '' : '\n'}  - name: ${name}\n    roles: [automation]\n    public_key: ${g.publicKey}\n`);
  const proposed = runCli([...flags, '--key', reviewers[0], 'identities', 'change', next, '--json']);
  if (proposed.code !== 0) throw new Error(`identities change failed: ${proposed.stderr}`);
  const id = (JSON.parse(proposed.stdout) as { change_id: string }).change_id;
  const signed = runCli([...flags, '--key', reviewers[1], 'identities', 'approve', id]);
  if (signed.code !== 0) throw new Error(`identities approve failed: ${signed.stderr}`);
  return { name, key: g.file };
}
