/** The workspace file's name, apart from its parser (workspace.ts: yaml and zod), which only a workspace that exists needs. */

/** The workspace file's name; commands look for it from the current directory upwards. */
export const WORKSPACE_FILE = 'dotctl.yaml';
