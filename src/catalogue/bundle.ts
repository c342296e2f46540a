/** Looking DOTs up in a validated catalogue. */
import { InputError } from '../model/errors.js';
import type { Catalogue, ValidDot } from './validate.js';

/** Finds a DOT by id (case-insensitive) or option label. */
export function findDot(cat: Catalogue, ref: string): ValidDot {
  const byId = cat.dots.get(ref) ?? cat.dots.get(ref.toUpperCase());
  if (byId) return byId;
  const byOption = [...cat.dots.values()].filter((d) => d.spec.option !== undefined && d.spec.option.toLowerCase() === ref.toLowerCase());
  if (byOption.length === 1 && byOption[0]) return byOption[0];
  const known = [...cat.dots.keys()].join(', ');
  throw new InputError(`no DOT ${JSON.stringify(ref)} in the catalogue; known DOTs: ${known} (or their option labels)`);
}

/** Resolves a bundle of DOT references, refusing duplicates. */
export function resolveBundle(cat: Catalogue, refs: readonly string[]): ValidDot[] {
  if (refs.length === 0) throw new InputError('name at least one DOT (id or option label)');
  const dots = refs.map((r) => findDot(cat, r));
  const ids = dots.map((d) => d.spec.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new InputError(`${dup} is named twice in the bundle; name each DOT once`);
  return orderBundle(dots);
}

/**
 * Orders a bundle so that each DOT's companions in the bundle come before it (the seed:
 * D is applied first or together), otherwise keeping the order given.
 */
export function orderBundle(dots: readonly ValidDot[]): ValidDot[] {
  const byId = new Map(dots.map((d) => [d.spec.id, d]));
  const out: ValidDot[] = [];
  const visiting = new Set<string>();
  const visit = (d: ValidDot): void => {
    if (out.includes(d) || visiting.has(d.spec.id)) return;
    visiting.add(d.spec.id);
    for (const c of d.spec.companions) {
      const comp = byId.get(c);
      if (comp) visit(comp);
    }
    out.push(d);
  };
  dots.forEach(visit);
  return out;
}
