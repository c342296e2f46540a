/**
 * Texts an author starts from, pure: the skeleton of a new DOT (every value to fill begins with
 * `TODO`, which `validate` reports as one "fill this in" problem each) and the patch steps for a
 * diff made from an edited file.
 */
import { createTwoFilesPatch, parsePatch } from 'diff';

/** The skeleton of a DOT; `laws` are the ids of the catalogue's law registry, listed in a comment. */
export function dotSkeleton(id: string, laws: readonly string[]): string {
  const known = laws.length > 0 ? laws.join(', ') : 'none yet: create laws.yaml';
  return `# yaml-language-server: $schema=../schemas/dot.schema.json
#
# ${id}: a DOT made by \`dotctl new\`. Every value starting with TODO is yours to fill in;
# \`dotctl validate\` lists what is left, \`dotctl test ${id} -p …\` proves its rollback on a
# scratch copy of the target. Then ask reviewers to admit it (\`dotctl admit\`).
id: ${id}
version: 1
option: TODO a short label such as A, B or C1
title: TODO one line saying what the change does
summary: >-
  TODO why the change is needed, what it changes and what it does not
applies_when: TODO when to choose this DOT over another
risk: reversible                # irreversible ⇒ dual control and an archive before the diff
action_code: ${id}              # written on every dot_action_log row
laws: [TODO cite laws by id]    # known laws: ${known}
companions: []                  # DOTs that must be applied with or before this one

params:
  schema:
    type: identifier            # identifier, text, integer, boolean, path or secret
    description: TODO what the schema is
    # default: my_schema        # without a default, -p schema=… is required

# Each section is a list of steps; kinds: sql, patch, command, archive, restore, restore_drill, file, host.
hard_stops:
  - kind: sql
    name: Schema exists
    sql: SELECT 1 FROM pg_namespace WHERE nspname = :'schema'
    expect: { kind: rows, count: 1 }   # rows, value, empty, non_empty, every_row

pre_check:
  - kind: sql
    name: TODO what must be true before the change (the drift guard)
    sql: TODO one read-only SELECT
    expect: { kind: empty }

diff:
  - kind: sql
    name: TODO the change
    sql: TODO the statement; :'name' is a literal, :"name" an identifier

rollback:                       # undoes the diff, newest change first; make it idempotent (IF EXISTS)
  - kind: sql
    name: TODO undo the change
    sql: TODO the statement that puts the target back

post_verify:
  - kind: sql
    name: TODO what proves the change worked
    sql: TODO one read-only SELECT
    expect: { kind: non_empty }
`;
}

/** The unified diff from `before` to `after` of `file`, and its hunk count. */
export function makeUnifiedDiff(file: string, before: string, after: string): { text: string; hunks: number } {
  const text = createTwoFilesPatch(file, file, before, after, '', '', { context: 3 });
  // the diff library writes an `Index:`-less header with ===; keep only --- / +++ and the hunks
  const body = text.slice(text.indexOf('--- '));
  return { text: body, hunks: parsePatch(body)[0]?.hunks.length ?? 0 };
}

/** The diff and rollback steps to paste for a patch made by `dotctl patch make`. */
export function patchStepsYaml(p: { file: string; diffFile: string; shaBefore: string; shaAfter: string }): string {
  const file = JSON.stringify(p.file);
  return `diff:
  - kind: patch
    name: TODO what the edit does
    file: ${file}               # or "{{a_path_parameter}}"
    diff_file: ${p.diffFile}
    sha256: ${p.shaBefore}   # the file as it was
rollback:
  - kind: patch
    name: TODO undo the edit
    file: ${file}
    diff_file: ${p.diffFile}
    reverse: true
    sha256: ${p.shaAfter}   # the file as the diff leaves it
`;
}
