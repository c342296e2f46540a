/** `hours` after the ISO time `iso`, as ISO (UTC). Pure. */
export function addHours(iso: string, hours: number): string {
  return new Date(Date.parse(iso) + hours * 3_600_000).toISOString();
}
