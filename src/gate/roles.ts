/**
 * The roles and the default quorum, apart from the zod schemas of identities.ts and registry.ts
 * so that a command that only names them (keygen's --role check) loads no schema library.
 */

/**
 * Roles of the pipeline. An `admin` signs changes of the identity registry (when a registry has
 * no admin, its reviewers do); it gives no right to propose, approve or apply. `automation` is an
 * unattended process (`dotctl watch`): it records invariant events and drafts proposals, and never
 * approves, admits, applies or rolls back.
 */
export const ROLES = ['operator', 'reviewer', 'auditor', 'admin', 'automation'] as const;
export type Role = (typeof ROLES)[number];

/** Signatures a registry change needs when the identities file names no quorum. */
export const DEFAULT_QUORUM = 2;
