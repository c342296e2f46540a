/** `hours` after the ISO time `iso`, as ISO (UTC). Pure. */
export function addHours(iso: string, hours: number): string {
  return new Date(Date.parse(iso) + hours * 3_600_000).toISOString();
}

/**
 * How far clocks may disagree: a signature dated more than this after the trusted clock's
 * `now` is refused, and a log row may be dated at most this much before the row preceding it.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Whether the ISO time `at` lies beyond the allowed skew after the ISO time `now`. Pure. */
export function isFutureDated(at: string, now: string): boolean {
  return Date.parse(at) > Date.parse(now) + CLOCK_SKEW_MS;
}

/** A PostgreSQL server's clock as ISO-8601 UTC text (independent of the session's time zone and type parsers). */
export const SERVER_TIME_SQL = `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS now`;
