/** Formatting of the demo's output: stage headings, key/value lines, short hashes. Pure. */

/** Width of a stage heading line. */
const WIDTH = 88;

/** `── 2/6 · title ─────` */
export function stageHeading(n: number, total: number, title: string): string {
  const head = `── ${n}/${total} · ${title} `;
  return head + '─'.repeat(Math.max(3, WIDTH - head.length));
}

/** A hash or signature shortened for a person (the full value is in the ledger). */
export function short(hash: string, n = 12): string {
  return hash.length > n ? `${hash.slice(0, n)}…` : hash;
}

/** Milliseconds as seconds with one decimal. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Aligns rows of cells into columns (the last column is not padded). */
export function columns(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}

/** The first line of `text` matching `re`, trimmed (for quoting one line of stderr). */
export function firstLine(text: string, re: RegExp = /\S/): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => re.test(l)) ?? ''
  );
}
