/**
 * Generators of malformed input for the fuzz suite, driven by a seeded PRNG so that every failure
 * reproduces from the seed the suite prints. Each generator returns inputs that are invalid by
 * construction (a required key gone, a wrong type, an unknown key, a broken reference, broken
 * YAML…), so "the CLI reported a problem for it" is a real assertion, not a tautology.
 */

/** A small, fast, seedable PRNG (mulberry32). */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(0, xs.length - 1)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }

  /** A lower-case word of `n` letters. */
  word(n = this.int(3, 10)): string {
    let s = '';
    for (let i = 0; i < n; i += 1) s += String.fromCharCode(97 + this.int(0, 25));
    return s;
  }
}

/** A generated input and what was done to it (shown when an assertion fails). */
export interface Mutant {
  readonly label: string;
  readonly text: string;
}

/** Replaces the first match of `re` in `text`, or returns null when there is none. */
function replaceFirst(text: string, re: RegExp, by: string | ((m: string, ...g: string[]) => string)): string | null {
  if (!re.test(text)) return null;
  return text.replace(re, by as (m: string) => string);
}

/** Lines of `text` matching `re`, with their index. */
function linesMatching(text: string, re: RegExp): number[] {
  return text.split('\n').flatMap((l, i) => (re.test(l) ? [i] : []));
}

/** The billion-laughs shape: `levels` anchors, each aliasing the previous one 9 times. */
export function anchorBomb(key: string, levels: number): string {
  const names = Array.from({ length: levels + 1 }, (_, i) => `l${i}`);
  let out = `${key}:\n  ${names[0]}: &${names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n`;
  for (let i = 1; i <= levels; i += 1)
    out += `  ${names[i]}: &${names[i]} [${Array(9)
      .fill(`*${names[i - 1]}`)
      .join(', ')}]\n`;
  return out;
}

/** `depth` nested flow sequences (or maps). */
export function deepNesting(depth: number, map: boolean): string {
  return map ? `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

type DotMutation = (p: Prng, text: string) => Mutant | null;

const WRONG_TYPES: readonly [RegExp, readonly string[], string][] = [
  [/^version: .*$/m, ['version: "one"', 'version: 1.5', 'version: -3', 'version: [1]', 'version: {}', 'version: null', 'version: 99999999999999999999', 'version: .inf', 'version: 0x'], 'version'],
  [/^risk: .*$/m, ['risk: maybe', 'risk: 42', 'risk: [reversible]', 'risk: ""', 'risk: Reversible'], 'risk'],
  [/^laws: .*$/m, ['laws: Đ32', 'laws: [42]', 'laws: {}', 'laws: []', 'laws: [""]'], 'laws'],
  [/^title: .*$/m, ['title: [a, b]', 'title: {x: 1}', 'title: null', 'title: ""'], 'title'],
  [/^option: .*$/m, ['option: a', 'option: AA1', 'option: 7', 'option: [A]'], 'option'],
  [/^action_code: .*$/m, ['action_code: grant', 'action_code: DOT_PG', 'action_code: 12'], 'action_code'],
  [/^companions: .*$/m, ['companions: DOT-BACKUP-SCRIPT-HARDEN', 'companions: [dot-lower]', 'companions: [1]'], 'companions'],
  [/^(\s+)timeout_ms: .*$/m, ['timeout_ms: -1', 'timeout_ms: 1e12', 'timeout_ms: "60s"', 'timeout_ms: 0.5'], 'timeout_ms'],
  [/^(\s+)type: identifier$/m, ['type: uuid', 'type: [identifier]', 'type: Identifier', 'type: 3'], 'param type'],
  [/^(\s+)kind: sql$/m, ['kind: SQL', 'kind: sqll', 'kind: 7', 'kind: [sql]', 'kind: ""'], 'step kind'],
  [/count: \d+/, ['count: -1', 'count: 1.5', 'count: "1"', 'count: null'], 'expect count'],
  [/exit_code: \d+/, ['exit_code: 256', 'exit_code: -1', 'exit_code: "0"'], 'exit code'],
];

const mutations: readonly [string, DotMutation][] = [
  [
    'truncated before diff',
    (p, t) => {
      const end = t.indexOf('\ndiff:');
      if (end <= 0) return null;
      const at = p.int(0, end);
      return { label: `truncated at byte ${at} of ${t.length}`, text: t.slice(0, at) };
    },
  ],
  [
    'wrong type',
    (p, t) => {
      const [re, options, what] = p.pick(WRONG_TYPES);
      const by = p.pick(options);
      const out = replaceFirst(t, re, (m) => `${/^\s*/.exec(m)?.[0] ?? ''}${by}`);
      return out === null ? null : { label: `${what} → ${by}`, text: out };
    },
  ],
  [
    'unknown key',
    (p, t) => {
      const key = `${p.word()}_${p.word(3)}`;
      if (p.next() < 0.5) return { label: `unknown top-level key ${key}`, text: t.replace(/^(id: .*)$/m, `$1\n${key}: ${p.pick(['1', 'yes', '[a]', '{b: c}', '"text"'])}`) };
      const steps = linesMatching(t, /^ {2}- kind: /);
      if (steps.length === 0) return null;
      const lines = t.split('\n');
      const i = p.pick(steps);
      lines.splice(i + 1, 0, `    ${key}: ${p.word()}`);
      return { label: `unknown step key ${key} after line ${i + 1}`, text: lines.join('\n') };
    },
  ],
  [
    'duplicate key',
    (p, t) => {
      const keys = ['title', 'summary', 'risk', 'version', 'action_code'];
      const k = p.pick(keys);
      const out = replaceFirst(t, new RegExp(`^(${k}: .*)$`, 'm'), `$1\n${k}: ${p.word()}`);
      return out === null ? null : { label: `duplicate top-level key ${k}`, text: out };
    },
  ],
  [
    'required key removed',
    (p, t) => {
      const k = p.pick(['id', 'version', 'summary', 'title', 'risk', 'action_code', 'laws', 'applies_when']);
      const out = replaceFirst(t, new RegExp(`^${k}: .*$`, 'm'), `# ${k} removed`);
      return out === null ? null : { label: `required key ${k} removed`, text: out };
    },
  ],
  [
    'step name removed',
    (p, t) => {
      const names = linesMatching(t, /^ {4}name: /);
      if (names.length === 0) return null;
      const lines = t.split('\n');
      const i = p.pick(names);
      lines[i] = `    # name removed`;
      return { label: `step name on line ${i + 1} removed`, text: lines.join('\n') };
    },
  ],
  [
    'bad reference',
    (p, t) => {
      const options: [RegExp, string, string][] = [
        [/:'([a-z_]+)'/, `:$1`, 'literal made bare (would be pasted raw)'],
        [/:"([a-z_]+)"/, `:"undeclared_${p.word(4)}"`, 'identifier of an undeclared parameter'],
        [/\{\{([a-z_]+)\}\}/, `{{nope_${p.word(4)}}}`, 'placeholder of an undeclared parameter'],
        [/^laws: \[/m, 'laws: [Đ999, ', 'unknown law'],
        [/^companions: \[/m, 'companions: [DOT-NOPE-NOPE, ', 'unknown companion'],
      ];
      const [re, by, what] = p.pick(options);
      const out = replaceFirst(t, re, by);
      return out === null ? null : { label: what, text: out };
    },
  ],
  [
    'broken quote',
    (p, t) => {
      const q = p.pick(['"', "'"]);
      const out = replaceFirst(t, /^title: (.*)$/m, `title: ${q}$1`);
      return out === null ? null : { label: `unbalanced ${q} in title`, text: out };
    },
  ],
  [
    'huge value',
    (p, t) => {
      const n = p.int(121, 20_000);
      const kind = p.pick(['step name', 'identifier default', 'number']);
      if (kind === 'step name') {
        const out = replaceFirst(t, /^ {4}name: .*$/m, `    name: ${'N'.repeat(n)}`);
        return out === null ? null : { label: `step name of ${n} characters`, text: out };
      }
      if (kind === 'identifier default') {
        const out = replaceFirst(t, /^(\s+)default: [a-z_]+$/m, (m) => `${/^\s*/.exec(m)?.[0] ?? ''}default: ${'x'.repeat(Math.max(64, n % 5000))}`);
        return out === null ? null : { label: `a default of ${Math.max(64, n % 5000)} characters`, text: out };
      }
      return { label: 'version of 400 digits', text: t.replace(/^version: .*$/m, `version: ${'9'.repeat(400)}`) };
    },
  ],
  [
    'deep nesting',
    (p, t) => {
      const depth = p.int(100, 4000);
      const map = p.next() < 0.5;
      return { label: `summary nested ${depth} deep (${map ? 'maps' : 'sequences'})`, text: t.replace(/^summary:/m, `summary: ${deepNesting(depth, map)}\nx_old_summary:`) };
    },
  ],
  [
    'anchor bomb',
    (p, t) => {
      const levels = p.int(6, 12);
      return { label: `billion laughs, ${levels} levels`, text: `${anchorBomb('x_bomb', levels)}${t}` };
    },
  ],
  [
    'tab indentation',
    (p, t) => {
      // a mapping key or sequence entry indented by a tab (tabs before comments or inside block
      // scalars are legal YAML, so those lines are not candidates)
      const indented = linesMatching(t, /^ {2,}(- )?[a-z_]+:( |$)/);
      if (indented.length === 0) return null;
      const lines = t.split('\n');
      const i = p.pick(indented);
      lines[i] = (lines[i] ?? '').replace(/^ +/, '\t');
      return { label: `tab indentation on line ${i + 1}`, text: lines.join('\n') };
    },
  ],
  [
    'garbage',
    (p) => {
      const n = p.int(0, 400);
      let s = '';
      for (let i = 0; i < n; i += 1) s += String.fromCharCode(p.pick([p.int(0x20, 0x7e), p.int(0xa0, 0x2fff), 0x3a, 0x2d, 0x20, 0x0a]));
      return { label: `${n} characters of garbage`, text: s };
    },
  ],
  ['second document', (p, t) => ({ label: 'a second YAML document', text: `${t}\n---\n${p.word()}: 1\n` })],
];

/** `n` malformed variants of the DOT texts in `bases`, each with `id: DOT-FUZZ-<k>` so its file name matches. */
export function malformedDots(p: Prng, bases: readonly string[], n: number, idOf: (k: number) => string): Mutant[] {
  const out: Mutant[] = [];
  while (out.length < n) {
    const k = out.length;
    const base = p.pick(bases).replace(/^id: .*$/m, `id: ${idOf(k)}`);
    const [name, mutate] = p.pick(mutations);
    const m = mutate(p, base);
    if (m) out.push({ label: `${name}: ${m.label}`, text: m.text });
  }
  return out;
}

/** About `limit` raw `-p` values that their parameter's type must refuse (a seeded sample of every kind). */
export function badParamValues(p: Prng, limit = 32): { param: string; value: string; label: string }[] {
  const huge = (n: number): string => 'x'.repeat(n);
  const ctrl = (): string => String.fromCharCode(p.pick([1, 2, 7, 8, 11, 12, 27, 31, 127]));
  const out: { param: string; value: string; label: string }[] = [];
  const add = (param: string, value: string, label: string): void => {
    out.push({ param, value, label });
  };
  for (const v of ['', 'a b', 'a"b', "a'b", 'a;b', '1abc', 'x-y', 'drop table x', `${huge(64)}`, 'é', `a${ctrl()}b`, '"quoted"', 'a\nb', `${huge(p.int(65, 9000))}`]) {
    add('ident', v, `identifier ${JSON.stringify(v.slice(0, 20))}`);
  }
  // text allows tab and newline by design (multi-line comments); every other control character is refused
  for (const v of [`a${ctrl()}b`, huge(4097), huge(p.int(4098, 100_000)), `esc${String.fromCharCode(27)}[31m`, `cr\rhere`, `del${String.fromCharCode(127)}`, `csi\u009b2J`, `nel\u0085`]) {
    add('txt', v, `text ${JSON.stringify(v.slice(0, 20))}`);
  }
  for (const v of ['', '1.5', '1e3', 'one', '0x10', '9999999999999999', '-', '+1', ' 1', '1 ', 'NaN', 'Infinity', `${p.int(0, 9)}${ctrl()}`]) {
    add('n', v, `integer ${JSON.stringify(v)}`);
  }
  for (const v of ['', 'yes', 'TRUE', '1', 'false ', 'nope', 'True']) add('flag', v, `boolean ${JSON.stringify(v)}`);
  for (const v of ['', '/a/../b', '../x', 'a/..', `/a${ctrl()}b`, '/a\nb', '/a\tb', `/${huge(4097)}`, '/a\u2028b', '/a\u0085b']) add('p', v, `path ${JSON.stringify(v.slice(0, 20))}`);
  // option injection: a path a command would read as an option (find -delete)
  for (const v of optionInjection(p)) add('p', v, `path ${JSON.stringify(v.slice(0, 20))}`);
  add('pw', 'hunter2', 'secret passed on the command line');
  add(`undeclared_${p.word(5)}`, '1', 'undeclared parameter');
  add('', 'x', 'empty parameter name');
  // a seeded sample, every parameter kind kept, so the suite stays fast
  const byParam = new Map<string, typeof out>();
  for (const c of out) byParam.set(c.param, [...(byParam.get(c.param) ?? []), c]);
  const sample: typeof out = [];
  for (const list of byParam.values()) {
    const keep = Math.min(list.length, Math.max(1, Math.round((list.length * limit) / out.length)));
    const pool = [...list];
    for (let i = 0; i < keep; i += 1) sample.push(...pool.splice(p.int(0, pool.length - 1), 1));
  }
  return sample;
}

/** Malformed identities files built around `valid` (a correct one-identity file). */
export function malformedIdentities(p: Prng, valid: string, n: number): Mutant[] {
  const key = /public_key: (\S+)/.exec(valid)?.[1] ?? 'ed25519:AAAA';
  const b64 = key.slice('ed25519:'.length);
  const gen: (() => Mutant)[] = [
    () => ({ label: 'truncated', text: valid.slice(0, p.int(0, valid.length - 2)) }),
    () => ({ label: 'roles not a list', text: valid.replace(/roles: \[.*\]/, `roles: ${p.pick(['operator', '7', '{a: b}', 'null'])}`) }),
    () => ({ label: 'unknown role', text: valid.replace(/roles: \[.*\]/, `roles: [${p.pick(['admin', 'root', 'Operator', 'operator, god'])}]`) }),
    () => ({ label: 'empty roles', text: valid.replace(/roles: \[.*\]/, 'roles: []') }),
    () => ({ label: 'unknown key', text: valid.replace(/(\n\s+roles:)/, `\n    ${p.word()}: ${p.word()}$1`) }),
    () => ({ label: 'unknown top-level key', text: `${valid}${p.word()}: 1\n` }),
    () => ({ label: 'duplicate key', text: valid.replace(/(\n(\s+)roles: .*)/, '$1$1') }),
    () => ({ label: 'bad name', text: valid.replace(/name: \S+/, `name: ${p.pick(['Olga', 'o lga', '-olga', 'ol"ga', "o'lga", 'x'.repeat(64), '""', '7'])}`) }),
    () => ({
      label: 'public key not ed25519:',
      text: valid.replace(key, p.pick([`rsa:${b64}`, b64, `ed25519:${b64.slice(0, p.int(0, 42))}=`, `ed25519:${b64}${b64}`, 'ed25519:', `ed25519:${'!'.repeat(43)}=`])),
    }),
    () => ({ label: 'same identity twice', text: `${valid}${valid.replace(/^identities:\n/, '')}` }),
    () => ({ label: 'identities not a list', text: `identities: ${p.pick(['olga', '7', '{a: 1}', 'null', '""'])}\n` }),
    () => ({ label: 'deep nesting', text: `identities: ${deepNesting(p.int(200, 5000), p.next() < 0.5)}\n` }),
    () => ({ label: 'anchor bomb', text: `${anchorBomb('x', p.int(6, 12))}identities: []\n` }),
    () => ({ label: 'tab indentation', text: valid.replace(/\n {4}roles/, '\n\troles') }),
    () => ({ label: 'unbalanced quote', text: valid.replace(/name: (\S+)/, 'name: "$1') }),
    () => ({ label: 'garbage', text: Array.from({ length: p.int(1, 300) }, () => String.fromCharCode(p.int(0x20, 0x7e))).join('') }),
    () => ({ label: 'empty file', text: '' }),
    () => ({ label: 'a second document', text: `${valid}---\nidentities: []\n` }),
    () => ({ label: 'disabled not a boolean', text: valid.replace(/(\n(\s+)roles: .*)/, `$1\n    disabled: ${p.pick(['yes please', '1', '"true"', '[]'])}`) }),
    () => ({ label: 'huge public key', text: valid.replace(key, `ed25519:${'A'.repeat(p.int(100, 200_000))}=`) }),
  ];
  const out: Mutant[] = [];
  for (let i = 0; i < n; i += 1) {
    const g = p.pick(gen);
    out.push(g());
  }
  return out;
}

/** Values that a command would read as an option if they started an argument. */
export function optionInjection(p: Prng): string[] {
  const opts = ['-delete', '--help', '-', '--', '-rf', '-exec', '--output=/etc/passwd', '-n', '-e', '--version'];
  return [...opts, `-${p.word(p.int(1, 8))}`, `--${p.word(p.int(1, 12))}=${p.word(4)}`];
}

/** Text values carrying Markdown or HTML structure; valid text, to be rendered inert. */
export function markdownStructure(p: Prng, n: number): string[] {
  const pieces = [
    '<!--',
    '-->',
    '<script>alert(1)</script>',
    '# heading',
    '## Evidence',
    '===',
    '---',
    '| a | b |',
    '\\|',
    '[x](javascript:alert(1))',
    '![i](http://e/x.png)',
    '`',
    '``',
    '```',
    '````',
    '~~~',
    '<details>',
    '</details>',
    '*',
    '_',
    '&lt;',
    '&#x3C;',
    '\\',
    '> quote',
    '1. item',
    '- item',
    '<img src=x onerror=alert(1)>',
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i += 1) {
    const parts: string[] = [];
    for (let j = p.int(1, 6); j > 0; j -= 1) parts.push(p.pick(pieces), p.pick(['', ' ', '\n', '\n\n', '\t', p.word(3)]));
    out.push(parts.join(''));
  }
  return out;
}

/** Target URLs whose query or authority would reach another server than the URL names. */
export function redirectingUrls(p: Prng, base: string): { url: string; param: string }[] {
  const u = new URL(base);
  const params = ['host', 'hostaddr', 'port', 'dbname', 'database', 'user', 'service', 'servicefile', 'options', 'replication'];
  const values: Record<string, string> = {
    host: '10.0.0.1',
    hostaddr: '10.0.0.1',
    port: '6543',
    dbname: 'other',
    database: 'other',
    user: 'postgres',
    service: 'prod',
    servicefile: '/tmp/pg_service.conf',
    options: '-c%20search_path%3Devil',
    replication: 'database',
  };
  return params.map((param) => {
    const name = p.pick([param, param.toUpperCase()]);
    const harmless = p.pick(['', 'sslmode=disable&', 'application_name=x&']);
    return { url: `${u.protocol}//${u.username}@${u.host}${u.pathname}?${harmless}${name}=${values[param]}`, param: name };
  });
}
