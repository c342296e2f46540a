/**
 * Inert Markdown for text the proposal's author did not write as Markdown: parameter values,
 * step names, what a check observed on the server. Whatever the text holds (`<!--`, `<script>`,
 * `#`, `|`, `[x](y)`, backticks, line breaks), it shows as itself and creates no structure.
 * Pure.
 */

// CommonMark ends a line at LF or CR; a code span cannot hold one without the next line
// being parsed as a block of its own (`# heading`, `<!--`)
const NOT_INLINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function longestRun(s: string, ch: string): number {
  let best = 0;
  let run = 0;
  for (const c of s) {
    run = c === ch ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

/**
 * A code span showing `s` verbatim: delimited by one backtick more than its longest backtick
 * run. A value that cannot stand on one line (a line break, a tab, a control character) or is
 * empty or blank is shown as a JSON string literal (`"a\nb"`), which can.
 */
export function codeSpan(s: string): string {
  const shown = NOT_INLINE.test(s) || s.trim() === '' ? JSON.stringify(s) : s;
  const ticks = '`'.repeat(longestRun(shown, '`') + 1);
  // one space each side is stripped by the viewer: pad when the text starts or ends with a
  // backtick or a space, so neither is lost nor merged with the delimiter
  const pad = /^[` ]|[` ]$/.test(shown) ? ' ' : '';
  return `${ticks}${pad}${shown}${pad}${ticks}`;
}

/** A fenced code block holding `body` verbatim: its fence is longer than any backtick run in it. */
export function codeBlock(lang: string, body: string): string {
  const ticks = '`'.repeat(Math.max(3, longestRun(body, '`') + 1));
  return `${ticks}${lang}\n${body.replace(/\n+$/, '')}\n${ticks}`;
}

/**
 * Plain text shown as itself, for an inline position (never the start of a line): every ASCII
 * punctuation character that Markdown or HTML could read as inline structure is
 * backslash-escaped (`_` only where it could open or close emphasis, so snake_case stays
 * readable in the raw file), and a line break or control character shows escaped on the same line.
 */
export function escapeText(s: string): string {
  return s
    .replace(/[\\`*{}[\]<>#!|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (c) => `\\${c}`)
    .replace(/\r\n|[\n\r\u2028\u2029]/g, '\\\\n')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Inline Markdown placed in a GFM table cell: a pipe, even inside a code span, would split the cell. */
export function tableCell(inline: string): string {
  return inline.replace(/\|/g, '\\|');
}
