/**
 * Values an author has still to fill in: every string that starts with `TODO` (as `dotctl new`
 * writes them). Pure.
 */

type Path = readonly (string | number)[];

/**
 * Paths of every `TODO…` string in a parsed document, with the text after TODO. Walks with its
 * own stack (a hostile document may nest thousands deep) and visits a shared node once (YAML
 * aliases can share, or even loop, structure).
 */
export function findTodos(value: unknown, path: Path = []): { path: Path; hint: string }[] {
  interface Node {
    readonly value: unknown;
    readonly parent: Node | null;
    readonly key: string | number | null;
  }
  const pathOf = (n: Node): Path => {
    const out: (string | number)[] = [];
    for (let at: Node | null = n; at !== null && at.key !== null; at = at.parent) out.push(at.key);
    return [...path, ...out.reverse()];
  };
  const found: { path: Path; hint: string }[] = [];
  const seen = new Set<object>();
  const stack: Node[] = [{ value, parent: null, key: null }];
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    const v = n.value;
    if (typeof v === 'string') {
      if (/^TODO\b/.test(v)) found.push({ path: pathOf(n), hint: v.replace(/^TODO\s*/, '').trim() });
    } else if (v !== null && typeof v === 'object' && !seen.has(v)) {
      seen.add(v);
      const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i -= 1) {
        const [k, x] = entries[i] as [string | number, unknown];
        stack.push({ value: x, parent: n, key: k });
      }
    }
  }
  return found;
}

/** Whether `inner` lies at or below `outer` (a problem about a TODO field or its container is the TODO's). */
export function isWithin(inner: Path, outer: Path): boolean {
  return outer.length <= inner.length && outer.every((seg, i) => seg === inner[i]);
}
