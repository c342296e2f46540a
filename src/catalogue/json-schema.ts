/**
 * JSON Schema (authoring view: defaults optional) generated from the zod schemas, so editors
 * validate DOT files, the law registry and identities files as they are typed. Pure.
 */
import * as z from 'zod';
import { DotSchema, LawRegistrySchema } from './schema.js';
import { WorkspaceSchema } from './workspace.js';

/** Schemas written to `schemas/`, by file name. */
export function jsonSchemas(extra: Readonly<Record<string, z.ZodType>> = {}): Record<string, string> {
  const all: Record<string, [z.ZodType, string]> = {
    'dot.schema.json': [DotSchema, 'dotctl DOT spec (dots/<id>.yaml)'],
    'laws.schema.json': [LawRegistrySchema, 'dotctl law registry (dots/laws.yaml)'],
    'workspace.schema.json': [WorkspaceSchema, 'dotctl workspace (dotctl.yaml)'],
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, [v, `dotctl ${k.replace('.schema.json', '')}`]])),
  };
  const out: Record<string, string> = {};
  for (const [file, [schema, title]] of Object.entries(all)) {
    const js = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
    out[file] = `${JSON.stringify({ $id: file, title, ...js }, null, 2)}\n`;
  }
  return out;
}
