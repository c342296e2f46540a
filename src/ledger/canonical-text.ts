/**
 * Deciding, without parsing, whether a stored JSON text is already canonical: true only when
 * `canonicalJson(JSON.parse(text))` would give back `text` byte for byte and the value is an
 * object. Verify uses it to hash a row's stored detail as it is instead of parsing and
 * re-encoding it; a false answer only sends the row to the full check, so the scanner may be
 * conservative (it refuses escaped object keys and escapes it does not expect) but must never
 * accept a text that is not canonical. Pure; no allocation besides number and key slices.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** True when `text` is a JSON object written exactly as canonicalJson writes it. */
export function isCanonicalObjectText(text: string): boolean {
  if (text.charCodeAt(0) !== 0x7b) return false;
  return value(text, 0, 0) === text.length;
}

/** Scans one canonical value at `i`; returns the index after it, or -1. */
function value(t: string, i: number, depth: number): number {
  if (depth > 64) return -1;
  const c = t.charCodeAt(i);
  if (c === 0x7b) return object(t, i, depth);
  if (c === 0x5b) return array(t, i, depth);
  if (c === QUOTE) return string(t, i, true);
  if (c === 0x74) return t.startsWith('true', i) ? i + 4 : -1;
  if (c === 0x66) return t.startsWith('false', i) ? i + 5 : -1;
  if (c === 0x6e) return t.startsWith('null', i) ? i + 4 : -1;
  return number(t, i);
}

function object(t: string, i: number, depth: number): number {
  let j = i + 1;
  if (t.charCodeAt(j) === 0x7d) return j + 1;
  let prev: string | null = null;
  for (;;) {
    if (t.charCodeAt(j) !== QUOTE) return -1;
    // Keys compare by code unit as written: only sound when a key has no escapes.
    const end = string(t, j, false);
    if (end < 0) return -1;
    const key = t.slice(j + 1, end - 1);
    if (prev !== null && !(prev < key)) return -1;
    prev = key;
    if (t.charCodeAt(end) !== 0x3a) return -1;
    j = value(t, end + 1, depth + 1);
    if (j < 0) return -1;
    const c = t.charCodeAt(j);
    if (c === 0x7d) return j + 1;
    if (c !== 0x2c) return -1;
    j += 1;
  }
}

function array(t: string, i: number, depth: number): number {
  let j = i + 1;
  if (t.charCodeAt(j) === 0x5d) return j + 1;
  for (;;) {
    j = value(t, j, depth + 1);
    if (j < 0) return -1;
    const c = t.charCodeAt(j);
    if (c === 0x5d) return j + 1;
    if (c !== 0x2c) return -1;
    j += 1;
  }
}

/**
 * Scans a string as JSON.stringify writes it: `"` `\` and \b \t \n \f \r as short escapes,
 * other control characters as \u00xx (lower-case hex), everything else (paired surrogates
 * included) as itself. With `escapes` false any backslash refuses.
 */
function string(t: string, i: number, escapes: boolean): number {
  let j = i + 1;
  for (;;) {
    const c = t.charCodeAt(j);
    if (Number.isNaN(c) || c < 0x20) return -1;
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) {
      if (!escapes) return -1;
      const e = t.charCodeAt(j + 1);
      if (e === QUOTE || e === BACKSLASH || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        j += 2;
        continue;
      }
      if (e !== 0x75 || !t.startsWith('00', j + 2)) return -1;
      const hex = t.slice(j + 4, j + 6);
      if (!/^[01][0-9a-f]$/.test(hex)) return -1;
      const code = Number.parseInt(hex, 16);
      // those five have short escapes, which JSON.stringify uses instead
      if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return -1;
      j += 6;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = t.charCodeAt(j + 1);
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return -1; // a lone surrogate is written escaped
      j += 2;
      continue;
    }
    j += 1;
  }
}

const DIGIT = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** A JSON number that is exactly how JSON.stringify writes its value (so no -0, 1.0, 1e2, 01). */
function number(t: string, i: number): number {
  let j = i;
  if (t.charCodeAt(j) === 0x2d) j += 1;
  if (!DIGIT(t.charCodeAt(j))) return -1;
  while (DIGIT(t.charCodeAt(j)) || t.charCodeAt(j) === 0x2e || t.charCodeAt(j) === 0x65 || t.charCodeAt(j) === 0x2b || t.charCodeAt(j) === 0x2d) {
    j += 1;
  }
  const text = t.slice(i, j);
  if (!/^-?(0|[1-9]\d*)(\.\d+)?(e[+-]\d+)?$/.test(text)) return -1;
  const n = Number(text);
  return Number.isFinite(n) && String(n) === text ? j : -1;
}
