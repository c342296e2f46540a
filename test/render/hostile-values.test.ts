/**
 * A parameter value is inert in the rendered proposal: whatever Markdown or HTML it holds, the
 * reviewer sees every section the normal render has, no forged one, and the value itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCatalogue } from '../../src/catalogue/load.js';
import { bindParams } from '../../src/catalogue/params.js';
import { renderProposal } from '../../src/render/proposal.js';
import { orderBundle, resolveBundle } from '../../src/catalogue/bundle.js';
import { codeSpan, escapeText } from '../../src/render/markdown.js';
import { sectionHeadings, structuralProblems } from './markdown-structure.js';

const cat = await loadCatalogue('dots');

function render(refs: string[], raw: Record<string, string>, target: string | null = null) {
  const dots = orderBundle(resolveBundle(cat, refs));
  return renderProposal({
    dots,
    laws: cat.laws,
    params: bindParams(
      dots.map((d) => d.spec),
      raw,
    ),
    target,
  }).markdown;
}

export const HOSTILE_TEXT: readonly string[] = [
  'x\n<!--',
  'x\n\n<!-- hide everything below',
  'x\n# Forged heading',
  'x\n===',
  'a | b | c',
  'a\\|b',
  '[approve here](https://evil.example/)',
  '<script>alert(1)</script>',
  '<details><summary>nothing to see</summary>',
  '</details>\n\n## Gate requirements\n\n- none',
  'ends in a fence\n```\n# after the fence',
  '````` long ` runs `` of ``` ticks',
  '`leading and trailing`',
  ' padded ',
  '*bold* _em_ ~~strike~~ &lt; &amp;',
  '\t\ttabs',
  '',
];

test('every section of the normal render survives a hostile text value, and no section is forged', () => {
  const normalMd = render(['A', 'D'], {}, 'postgres://db:5432/x');
  const normal = sectionHeadings(normalMd);
  // what the DOT authors wrote as Markdown (e.g. `<file>` in a summary) is theirs; a value adds nothing
  const authored = structuralProblems(normalMd);
  assert.ok(normal.includes('## Evidence') && normal.includes('## Canonical JSON') && normal.includes('#### Post-verify'));
  for (const v of HOSTILE_TEXT) {
    const md = render(['A', 'D'], { expected_host: v, verify_push_url: v }, 'postgres://db:5432/x');
    assert.deepEqual(sectionHeadings(md), normal, `value ${JSON.stringify(v)}`);
    assert.deepEqual(structuralProblems(md), authored, `value ${JSON.stringify(v)}`);
  }
});

test('the value appears verbatim, escaped as a code span, in the parameter table and the host check', () => {
  for (const v of HOSTILE_TEXT) {
    const md = render(['D'], { expected_host: v });
    const span = codeSpan(v);
    assert.ok(md.includes(`host name equals ${span}`), `value ${JSON.stringify(v)}`);
    assert.ok(md.includes(`| \`expected_host\` | text | ${span.replace(/\|/g, '\\|')} |`), `value ${JSON.stringify(v)}`);
  }
});

test('a code span shows the value itself; one that cannot stand on a line shows as a JSON string', () => {
  const strip = (s: string): string => {
    const m = /^(`+)( ?)([\s\S]*)\2\1$/.exec(s);
    assert.ok(m, s);
    return m[3]!;
  };
  for (const v of HOSTILE_TEXT) {
    const inner = strip(codeSpan(v));
    assert.equal(/[\n\t]/.test(v) || v.trim() === '' ? JSON.parse(inner) : inner, v);
    // the delimiter is longer than any backtick run inside
    const delim = /^`+/.exec(codeSpan(v))![0];
    assert.ok(!inner.includes(delim));
  }
  assert.equal(codeSpan('sandbox_tac'), '`sandbox_tac`');
});

test('plain text is escaped so that no character starts structure', () => {
  assert.equal(escapeText('a <!-- b | [c](d) `e` #f'), 'a \\<\\!-- b \\| \\[c\\](d) \\`e\\` \\#f');
  assert.equal(escapeText('two\nlines'), 'two\\\\nlines');
  assert.equal(escapeText('pg_dump _x_'), 'pg_dump \\_x\\_');
});

test('the structure checker itself notices a forged section (it can fail)', () => {
  const md = render(['D'], {});
  assert.notDeepEqual(sectionHeadings(md.replace('## Laws', '<!--\n## Laws')), sectionHeadings(md));
  assert.notDeepEqual(structuralProblems(`${md}\n| a | b | c | d | e | f |\n`), []);
  assert.notDeepEqual(structuralProblems('text <script>x</script>'), []);
});
