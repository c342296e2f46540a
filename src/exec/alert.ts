/**
 * Sending an alert: a GET to an Uptime Kuma push URL (`?status=up|down&msg=…`) or a JSON POST
 * to a webhook. Every attempt has a timeout, a failed one is retried with exponential backoff,
 * and nothing here throws: an endpoint that is down or hangs costs at most
 * (retries + 1) × timeout + the backoff, and is reported, never fatal.
 */

/** Where to send, resolved (the URL itself, never logged whole: it may carry a token). */
export interface AlertEndpoint {
  readonly kind: 'kuma_push' | 'webhook';
  readonly url: string;
  readonly timeoutMs: number;
  readonly retries: number;
}

/** What an alert says. */
export interface AlertMessage {
  /** the aggregate status after the change: down while anything fails */
  readonly status: 'up' | 'down';
  /** one line for a push monitor */
  readonly msg: string;
  /** the JSON a webhook receives */
  readonly body: Readonly<Record<string, unknown>>;
}

/** How one endpoint took it. */
export interface Delivery {
  readonly endpoint: string;
  readonly kind: AlertEndpoint['kind'];
  readonly status: 'up' | 'down';
  readonly ok: boolean;
  readonly attempts: number;
  /** why the last attempt failed (one sentence), or null */
  readonly error: string | null;
}

/** The URL as reports show it: scheme, host and port only (a push token lives in the path). */
export function endpointLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return 'an invalid URL';
  }
}

/** A Kuma push URL with `status` and `msg` set (other query parameters kept). */
export function kumaUrl(url: string, status: 'up' | 'down', msg: string): string {
  const u = new URL(url);
  u.searchParams.set('status', status);
  u.searchParams.set('msg', msg.length > 250 ? `${msg.slice(0, 249)}…` : msg);
  u.searchParams.set('ping', '');
  return u.toString();
}

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 4000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function attempt(e: AlertEndpoint, m: AlertMessage): Promise<string | null> {
  const signal = AbortSignal.timeout(e.timeoutMs);
  try {
    const res =
      e.kind === 'kuma_push'
        ? await fetch(kumaUrl(e.url, m.status, m.msg), { method: 'GET', signal })
        : await fetch(e.url, { method: 'POST', signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify(m.body) });
    await res.body?.cancel().catch(() => undefined);
    return res.ok ? null : `HTTP ${res.status}`;
  } catch (err) {
    const e2 = err as Error & { cause?: { code?: string; message?: string } };
    if (e2.name === 'TimeoutError' || e2.name === 'AbortError') return `no answer within ${e.timeoutMs} ms`;
    return e2.cause?.code ?? e2.cause?.message ?? e2.message;
  }
}

/** Sends one alert to one endpoint, retrying with backoff; never throws. */
export async function deliver(e: AlertEndpoint, m: AlertMessage): Promise<Delivery> {
  let error: string | null = null;
  let attempts = 0;
  for (let i = 0; i <= e.retries; i += 1) {
    if (i > 0) await sleep(Math.min(BACKOFF_BASE_MS * 2 ** (i - 1), BACKOFF_MAX_MS));
    attempts += 1;
    error = await attempt(e, m);
    if (error === null) break;
  }
  return {
    endpoint: endpointLabel(e.url),
    kind: e.kind,
    status: m.status,
    ok: error === null,
    attempts,
    error: error === null ? null : `${e.kind} ${endpointLabel(e.url)}: ${error} (${attempts} attempt(s))`,
  };
}

/** Sends one alert to every endpoint at once; resolves when each has answered or given up. */
export function deliverAll(endpoints: readonly AlertEndpoint[], m: AlertMessage): Promise<Delivery[]> {
  return Promise.all(endpoints.map((e) => deliver(e, m)));
}
