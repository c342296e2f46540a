/**
 * The generic law library `dotctl init` writes into a new workspace's catalogue as `laws.yaml`:
 * the rules most teams want for changes to production databases, in plain English, each with
 * the requirements the engine checks. A team edits it like any other file of its catalogue
 * (reviewers admit it with every DOT that cites it). The incident's own laws stay in `dots/`.
 */

/** `laws.yaml` of a new workspace (validated by the law registry schema in a test). */
export const GENERIC_LAWS_YAML = `# The laws of this workspace. A DOT cites the laws it answers to (laws: [REVIEW, VERIFY, …]);
# \`dotctl validate\` refuses a DOT that cannot satisfy them, and the gate enforces them when it is
# applied. Whatever the laws say, dotctl always requires at least one approval by a reviewer who
# did not propose the change, an operator who did not approve it to apply it, and an action log
# entry for every step; a DOT whose diff destroys data is treated as irreversible (dual control,
# archive before the diff, a rollback) whatever its label says.
# Edit these to fit your team: changing this file changes the content of every DOT that cites a
# law, so reviewers admit it again (dotctl admit).
laws:
  - id: REVIEW
    title: A second person reviews every change
    text: >-
      No change reaches a database until someone other than its author has read the exact
      proposal — the SQL, the parameters and the target — and approved it. An approval covers
      only the proposal it was given for and lapses after a day; a proposal that changes is
      approved again.
    requires:
      min_approvals: 1
      separation_of_duties: true
      approval_ttl_hours: 24

  - id: VERIFY
    title: Check before, prove after
    text: >-
      Every change states what must be true before it runs (a pre-check of the live state) and
      proves afterwards that it did what it claims (a post-verify). A change that cannot say how
      to tell it worked is not ready to run.
    requires:
      pre_check_required: true
      post_verify_required: true

  - id: ROLLBACK-REQUIRED
    title: Every change can be undone
    text: >-
      Every change comes with the steps that undo it, written and reviewed together with the
      change itself, so that a failed change is undone by the pipeline and not by hand.
    requires:
      rollback_required: true

  - id: DUAL-CONTROL
    title: Two reviewers for dangerous changes
    text: >-
      A change that cannot be fully undone, or that touches something critical, needs two
      distinct reviewers, neither of them its author, and their approvals are fresh: given
      within four hours of the change being applied.
    requires:
      min_approvals: 2
      dual_control: true
      separation_of_duties: true
      approval_ttl_hours: 4

  - id: ARCHIVE-BEFORE-DESTROY
    title: Archive before anything is destroyed
    text: >-
      Before a change drops or overwrites data, a verified archive of everything it destroys is
      taken, and the change's undo is the restore from that archive. And the backups are proven
      to restore first: a restore drill (a DOT whose diff is a restore_drill step, such as
      DOT-PG-RESTORE-DRILL) passed on the same database within the last 24 hours.
    requires:
      archive_before_diff: true
      rollback_required: true
      pre_check_required: true
      restore_drill_hours: 24

  - id: DATA-OWNER
    title: The data's owner agrees
    text: >-
      A change that destroys or exposes data needs two reviewers, and at least one of them is
      one of the data's owners (an identity whose groups include data-owners in the identities
      file), since only the owner can say the data is no longer needed or may be shared.
    requires:
      min_approvals: 2
      group_approvals:
        - { group: data-owners, min: 1 }

  - id: ACTION-LOG
    title: Every change is on the record
    text: >-
      Every change runs through dotctl and is written step by step to the action log under its
      action code — who proposed, approved and applied it, what each check saw — so that an
      auditor can reconstruct what happened without asking anyone. No manual psql, no manual
      edits of scripts.
    requires:
      action_log: true

  - id: COMPANIONS
    title: Changes that depend on each other go together
    text: >-
      When a change needs another one to be safe (its companion), the companion is applied
      first or in the same proposal.
    requires:
      companions_applied: true

  - id: REGISTRY
    title: New things are registered
    text: >-
      A change that creates something new and lasting — a role, a schema, a script — records
      what it is, its name, its purpose and its owner, together with the change.
    requires:
      registry_entry: true
`;
