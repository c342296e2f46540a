/**
 * Reading a small YAML file (identities, `dotctl.yaml`) with positions: its value, a problem at a
 * character offset, and the offset of a node by its path. Pure.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { Problem } from '../model/errors.js';

/** A YAML document read with positions, or every problem that stopped it. */
export type PositionedYaml =
  | {
      readonly kind: 'ok';
      readonly value: unknown;
      /** a problem at a character offset of the file */
      readonly at: (offset: number, message: string) => Problem;
      /** the offset of the node at `path` (0 when there is none) */
      readonly nodeAt: (path: readonly PropertyKey[]) => number;
    }
  | { readonly kind: 'invalid'; readonly problems: readonly Problem[] };

/** Parses `text` (unique keys, at most 50 aliases); malformed YAML is reported line by line. */
export function readPositionedYaml(file: string, text: string): PositionedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const at = (offset: number, message: string): Problem => ({ file, ...lines.linePos(offset), message });
  if (doc.errors.length > 0) return { kind: 'invalid', problems: doc.errors.map((e) => at(e.pos[0], `malformed YAML: ${e.message.split('\n')[0]}`)) };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    return { kind: 'invalid', problems: [at(0, `YAML cannot be read: ${(err as Error).message}`)] };
  }
  const nodeAt = (path: readonly PropertyKey[]): number => {
    const n = doc.getIn(path as (string | number)[], true) as { range?: [number, number] } | undefined;
    return n?.range?.[0] ?? 0;
  };
  return { kind: 'ok', value, at, nodeAt };
}
