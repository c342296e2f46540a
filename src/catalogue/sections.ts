/**
 * The sections of a DOT spec and their order. Kept apart from the zod schemas (schema.ts) so that
 * rendering and listing a catalogue taken from the cache load no schema library.
 */
import type { Dot, Step } from './schema.js';

/** Sections of a DOT, in execution order. */
export const SECTIONS = ['hard_stops', 'pre_check', 'diff', 'rollback', 'post_verify'] as const;
export type Section = (typeof SECTIONS)[number];

/** Every section of a spec: the ones an apply runs, then the standing invariants (absent from a DOT that has none). */
export const SPEC_SECTIONS = [...SECTIONS, 'invariants'] as const;
export type SpecSection = (typeof SPEC_SECTIONS)[number];

/** The steps of a section (none when the DOT has no such section). */
export function stepsIn(dot: Pick<Dot, SpecSection>, section: SpecSection): readonly Step[] {
  return dot[section] ?? [];
}
