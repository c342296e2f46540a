/**
 * Values an author has still to fill in: every string that starts with `TODO` (as `dotctl new`
 * writes them). Pure.
 */

type Path = readonly (string | number)[];

/** Paths of every `TODO…` string in a parsed document, with the text after TODO. */
export function findTodos(value: unknown, path: Path = []): { path: Path; hint: string }[] {
  if (typeof value === 'string') return /^TODO\b/.test(value) ? [{ path, hint: value.replace(/^TODO\s*/, '').trim() }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => findTodos(v, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => findTodos(v, [...path, k]));
  return [];
}

/** Whether `inner` lies at or below `outer` (a problem about a TODO field or its container is the TODO's). */
export function isWithin(inner: Path, outer: Path): boolean {
  return outer.length <= inner.length && outer.every((seg, i) => seg === inner[i]);
}
