/**
 * "Did you mean" for names an author mistyped (keys, step kinds, laws, parameters): the
 * closest known name by edit distance, offered only when it is close enough to be a typo.
 * Pure.
 */
import { distance } from 'fastest-levenshtein';

/**
 * The candidate closest to `word` (case-insensitively), when at most a third of its length
 * away (at least one edit), else null; ties go to the first candidate in sorted order.
 */
export function closestName(word: string, candidates: Iterable<string>): string | null {
  const limit = Math.max(1, Math.floor(word.length / 3));
  const lower = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of [...new Set(candidates)].sort()) {
    if (c === word) continue;
    const d = distance(lower, c.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean "x"?` (or `; did you mean x?` unquoted) when a close name exists, else ''. */
export function didYouMean(word: string, candidates: Iterable<string>, quote = true): string {
  const c = closestName(word, candidates);
  if (c === null) return '';
  return quote ? `; did you mean "${c}"?` : `; did you mean ${c}?`;
}
