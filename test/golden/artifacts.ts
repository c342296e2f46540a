/**
 * The generated artefacts reviewers read: JSON Schemas in `schemas/` and the rendered proposals
 * of the five seed DOTs, of A + D, of the restore drill and of the off-site script's D and C1 in `proposals/`. `npm run proposals` writes them; the golden
 * test fails when they are out of date.
 */
import { jsonSchemas } from '../../src/catalogue/json-schema.js';
import { renderDots } from '../../src/engine.js';

/** Bundles rendered into proposals/ (default parameters). */
export const GOLDEN_BUNDLES: readonly (readonly string[])[] = [
  ['DOT-PG-GRANT-SCHEMA'],
  ['DOT-PG-NEW-ROLE'],
  ['DOT-PG-BACKUP-EXCLUDE-SCHEMA'],
  ['DOT-PG-DROP-SCHEMA'],
  ['DOT-BACKUP-SCRIPT-HARDEN'],
  ['DOT-PG-GRANT-SCHEMA', 'DOT-BACKUP-SCRIPT-HARDEN'],
  ['DOT-PG-RESTORE-DRILL'],
  ['DOT-GDRIVE-SCRIPT-HARDEN'],
  ['DOT-GDRIVE-BACKUP-EXCLUDE-SCHEMA'],
];

/** Every generated file: path relative to the project root → content. */
export async function generateArtifacts(dotsDir = 'dots'): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  let identities: Record<string, import('zod').ZodType> = {};
  try {
    // the identities schema lands with the gates; generate it when it exists
    const mod = (await import('../../src/gate/identities.js' as string)) as { IdentitiesSchema?: import('zod').ZodType };
    if (mod.IdentitiesSchema) identities = { 'identities.schema.json': mod.IdentitiesSchema };
  } catch {
    identities = {};
  }
  for (const [name, text] of Object.entries(jsonSchemas(identities))) files.set(`schemas/${name}`, text);
  for (const bundle of GOLDEN_BUNDLES) {
    const r = await renderDots(dotsDir, bundle, []);
    const base = `proposals/${r.dots.join('+')}`;
    files.set(`${base}.md`, r.markdown);
    files.set(`${base}.json`, r.canonical);
  }
  return files;
}
