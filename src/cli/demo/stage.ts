/**
 * What every demo stage is given and how it says it did not do what it claims. A stage prints
 * a short section, asserts its own outcome with `check`, and returns the key facts (for --json).
 */
import type { Catalogue, Engine, Role } from '../../engine.js';
import type { HeartbeatListener } from './heartbeat.js';
import type { Scratch, ServerInfo } from './scratch.js';

/** A stage did not do what it claims; the demo stops with this message. */
export class DemoFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoFailure';
  }
}

/** Asserts a stage's claim. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DemoFailure(message);
}

/** One identity of the demo. */
export interface Person {
  readonly name: string;
  readonly role: Role;
  /** private key file */
  readonly key: string;
}

/** The people of the pipeline (seed §5: operator proposes, reviewers approve, an auditor reads). */
export const PEOPLE = {
  operator: { name: 'olga', role: 'operator' },
  reviewer1: { name: 'rita', role: 'reviewer' },
  reviewer2: { name: 'raj', role: 'reviewer' },
  auditor: { name: 'ada', role: 'auditor' },
} as const;

/** Files and directories of the demo's work directory. */
export interface DemoPaths {
  readonly work: string;
  readonly script: string;
  readonly backups: string;
  readonly archive: string;
  readonly keys: string;
  readonly identities: string;
  readonly ledger: string;
  readonly proposals: string;
}

/** Everything a stage works with. */
export interface DemoContext {
  readonly scratch: Scratch;
  readonly server: ServerInfo;
  /** the shipped DOT catalogue and example scripts */
  readonly dotsDir: string;
  readonly examplesDir: string;
  /** the catalogue loaded from dotsDir (the engine loads it again for every call) */
  readonly catalogue: Catalogue;
  readonly paths: DemoPaths;
  /** the incident database and its roles (names under the scratch prefix) */
  readonly database: string;
  readonly ownerRole: string;
  readonly dumpRole: string;
  /** login password of the dump role (the script's PGPASSWORD; never printed) */
  readonly dumpPassword: string;
  /** --target of every engine call: the incident database */
  readonly targetUrl: string;
  readonly listener: HeartbeatListener;
  /** parameter values pointing the seed's DOTs at the scratch incident */
  readonly params: Readonly<Record<string, string>>;
  readonly people: Readonly<Record<keyof typeof PEOPLE, Person>>;
  readonly signal: AbortSignal;
  /** prints a line of the stage's section */
  say(line?: string): void;
  /** the engine acting with `who`'s key (built through the public API) */
  as(who: Person): Engine;
}

/** A stage: prints its section, asserts its outcome, returns its key facts. */
export interface Stage {
  readonly title: string;
  run(ctx: DemoContext): Promise<Readonly<Record<string, unknown>>>;
}
