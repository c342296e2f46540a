/**
 * A small CommonMark/GFM block scanner for tests: what a reviewer's Markdown viewer would take
 * as headings, and which lines outside code would become raw HTML, links or broken table rows.
 * It follows the CommonMark rules that matter for injection: fenced code blocks (closing fence
 * of the same character, at least as long), HTML blocks (comments until `-->`, raw-text tags
 * until their closing tag, other tags until a blank line), ATX and setext headings, GFM tables.
 */

interface Line {
  readonly text: string;
  readonly where: 'text' | 'code' | 'html';
  readonly fenceLine?: boolean;
}

const OUR_HTML = new Set(['<details>', '</details>']);

function classify(md: string): Line[] {
  const out: Line[] = [];
  let fence: { ch: string; len: number } | null = null;
  let html: { end: (l: string) => boolean } | null = null;
  for (const text of md.split('\n')) {
    if (fence) {
      const m = /^ {0,3}(`+|~+)\s*$/.exec(text);
      const closes = m !== null && m[1]![0] === fence.ch && m[1]!.length >= fence.len;
      out.push({ text, where: 'code', fenceLine: closes });
      if (closes) fence = null;
      continue;
    }
    if (html) {
      const ends = html.end(text);
      // the blank line that ends an HTML block is not part of it
      out.push({ text, where: ends && text.trim() === '' ? 'text' : 'html' });
      if (ends) html = null;
      continue;
    }
    const open = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(text);
    if (open && !(open[1]![0] === '`' && open[2]!.includes('`'))) {
      fence = { ch: open[1]![0]!, len: open[1]!.length };
      out.push({ text, where: 'code', fenceLine: true });
      continue;
    }
    if (/^ {0,3}<!--/.test(text)) {
      out.push({ text, where: 'html' });
      if (!text.includes('-->', text.indexOf('<!--') + 4)) html = { end: (l) => l.includes('-->') };
      continue;
    }
    const raw = /^ {0,3}<(script|pre|style|textarea)(\s|>|$)/i.exec(text);
    if (raw) {
      out.push({ text, where: 'html' });
      const close = new RegExp(`</${raw[1]}>`, 'i');
      if (!close.test(text)) html = { end: (l) => close.test(l) };
      continue;
    }
    if (/^ {0,3}<\/?[A-Za-z][A-Za-z0-9-]*(\s|\/?>|$)/.test(text) || /^ {0,3}<[?!]/.test(text)) {
      out.push({ text, where: 'html' });
      if (text.trim() !== '') html = { end: (l) => l.trim() === '' };
      continue;
    }
    out.push({ text, where: 'text' });
  }
  return out;
}

/** Headings (ATX and setext) a Markdown viewer would show, in order. */
export function sectionHeadings(md: string): string[] {
  const lines = classify(md);
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (l.where !== 'text') return;
    if (/^ {0,3}#{1,6}(\s|$)/.test(l.text)) out.push(l.text.trim());
    const prev = lines[i - 1];
    if (/^ {0,3}(=+|-+)\s*$/.test(l.text) && prev && prev.where === 'text' && prev.text.trim() !== '' && !prev.text.trim().startsWith('|')) {
      out.push(`setext: ${prev.text.trim()}`);
    }
  });
  return out;
}

/** Removes inline code spans (a backtick run closed by a run of the same length). */
function stripCodeSpans(s: string): string {
  return s.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, '');
}

// cmark-gfm splits a row with `table_cell = (escaped_char|[^|\r\n])+` and re2c's longest
// match: a `|` right after a backslash always stays in the cell, whatever precedes that backslash
function unescapedPipes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s[i] === '|' && s[i - 1] !== '\\') n++;
  return n;
}

/** Lines outside code that would become raw HTML, a link or a table row of the wrong width. */
export function structuralProblems(md: string): string[] {
  const problems: string[] = [];
  let fenceOpen = false;
  let columns: number | null = null;
  for (const l of classify(md)) {
    if (l.fenceLine) fenceOpen = !fenceOpen;
    if (l.where === 'html' && !OUR_HTML.has(l.text.trim()) && !/^<details><summary>[^<]*<\/summary>$/.test(l.text.trim())) {
      problems.push(`HTML block: ${l.text}`);
    }
    if (l.where !== 'text') continue;
    const bare = stripCodeSpans(l.text);
    if (/(^|[^\\])<[A-Za-z/!?]/.test(bare)) problems.push(`inline HTML: ${l.text}`);
    if (/(^|[^\\])\[[^\]]*\]\(/.test(bare)) problems.push(`link: ${l.text}`);
    if (l.text.startsWith('|')) {
      const n = unescapedPipes(l.text);
      if (columns === null) columns = n;
      else if (n !== columns) problems.push(`table row with ${n - 1} cells instead of ${columns - 1}: ${l.text}`);
    } else columns = null;
  }
  if (fenceOpen) problems.push('a code fence is never closed');
  return problems;
}
