/**
 * A stand-in for the Uptime Kuma push monitor the backup script reports to (seed §3.3: the
 * heartbeat is pushed only after full success; §4.4: the hardened script pushes DOWN on
 * failure). It listens on loopback only, records every push and answers like Kuma does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One push the listener received. */
export interface Push {
  readonly path: string;
  /** `up`, `down`, or whatever `status=` said (null when absent) */
  readonly status: string | null;
  readonly msg: string | null;
  readonly at: string;
}

/** A running listener; `close()` stops it and drops open connections. */
export interface HeartbeatListener {
  /** base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** pushes received so far, oldest first */
  readonly pushes: readonly Push[];
  /** pushes received since `mark` (an earlier `pushes.length`) */
  since(mark: number): readonly Push[];
  close(): Promise<void>;
}

/** Starts a listener on 127.0.0.1 with an ephemeral port. */
export async function startHeartbeatListener(): Promise<HeartbeatListener> {
  const pushes: Push[] = [];
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    pushes.push({ path: u.pathname, status: u.searchParams.get('status'), msg: u.searchParams.get('msg'), at: new Date().toISOString() });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    pushes,
    since: (mark) => pushes.slice(mark),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
