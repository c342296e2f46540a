/**
 * The one naming convention of dotctl's JSON output: snake_case keys, as the README documents
 * (`proposal_id`, `dot_id`, `left_to_do`, …). The engine's records are camelCase TypeScript; this
 * is the one place they are converted, at the CLI's JSON boundary. Pure.
 */

/** Keys whose value is passed through untouched: the canonical JSON of a proposal is hashed as it is. */
const VERBATIM = new Set(['canonical']);

/** `dotId` → `dot_id`; keys that are not lower camelCase (`PGPASSWORD`, `Đ32`, `already_snake`) stay as they are. */
export function snakeKey(key: string): string {
  return /^[a-z][a-zA-Z0-9]*$/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : key;
}

/** A deep copy of `value` with every object key in snake_case (arrays and scalars kept; `toJSON` honoured). */
export function toSnakeKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const v = value as { toJSON?: () => unknown };
  if (typeof v.toJSON === 'function') return toSnakeKeys(v.toJSON());
  if (Array.isArray(value)) return value.map(toSnakeKeys);
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, x]) => [snakeKey(k), VERBATIM.has(k) ? x : toSnakeKeys(x)]));
}
