/**
 * Where the files dotctl ships with live: the `dots/` catalogue and `examples/` at the root of
 * the installed package (beside `dist/`, or beside `src/` when run from a checkout). Found from
 * this module's own location, never from the current directory, so `dotctl demo` and the
 * library work from anywhere, installed locally, globally or run through npx.
 */
import { fileURLToPath } from 'node:url';

// Both are two levels above this module, in src/model/ and in dist/model/ alike.

/** The catalogue shipped with the package: the incident's five DOTs and laws.yaml. */
export function shippedDotsDir(): string {
  return fileURLToPath(new URL('../../dots/', import.meta.url));
}

/** The example backup scripts shipped with the package. */
export function shippedExamplesDir(): string {
  return fileURLToPath(new URL('../../examples/', import.meta.url));
}

/** The JSON Schemas shipped with the package (DOT, laws, identities, workspace). */
export function shippedSchemasDir(): string {
  return fileURLToPath(new URL('../../schemas/', import.meta.url));
}
