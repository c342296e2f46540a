/**
 * Analyses of SQL texts by the real parser, remembered by text. `sql-analysis.ts` installs the
 * analyser when it is loaded (which loads the parser's WASM); a catalogue taken from the cache
 * (`cache.ts`) primes the analyses its validation made, so a command that only reads the
 * catalogue (list, show, status) neither loads the parser nor parses again. Same text, same
 * analysis: the analysis is a pure function of the text.
 */
import type { SqlAnalysis } from './sql-analysis.js';

const memo = new Map<string, SqlAnalysis>();
let analyser: ((sql: string) => SqlAnalysis) | null = null;

/** Called once by `sql-analysis.ts` when the parser is loaded. */
export function installSqlAnalyser(fn: (sql: string) => SqlAnalysis): void {
  analyser = fn;
}

/** The analysis of `sql`: remembered, else made by the parser (loaded by whoever validated the catalogue). */
export function analysisOf(sql: string): SqlAnalysis {
  const known = memo.get(sql);
  if (known) return known;
  if (!analyser) throw new Error('the SQL parser is not loaded and this SQL was not analysed when the catalogue was validated');
  const a = analyser(sql);
  memo.set(sql, a);
  return a;
}

/** Every analysis made or primed so far (for the cache). */
export function knownAnalyses(): [string, SqlAnalysis][] {
  return [...memo.entries()];
}

/** Primes analyses taken from the cache. */
export function primeAnalyses(entries: readonly (readonly [string, SqlAnalysis])[]): void {
  for (const [sql, a] of entries) if (!memo.has(sql)) memo.set(sql, a);
}
