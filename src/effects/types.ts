/**
 * What a step does to the world, as data: the plan shows these (recorded from the step's own `run`
 * against interfaces that change nothing) and apply records the same kinds while it carries them out,
 * so the two can be compared step by step. Secrets appear as a hash and a description, never content.
 */
export type Effect = FileEffect | CommandEffect | EtcdEffect | ApiEffect | WaitEffect;

export interface FileEffect {
  kind: "file";
  host: string;
  path: string;
  mode: number;
  owner: string;
  /** Where the replaced file is kept: "<path>.kubeha-<time>.bak" or "<dir>/<name>"; absent: not kept. */
  backup?: string;
  sha256: string;
  secret: boolean;
  /** The content, for files that hold no secret. */
  content?: string;
  /** Certificates, keys and kubeconfigs: what they hold, described from the content. */
  summary?: string;
  /** Shown by the plan only (the content it replaces; null: a new file); not part of the effect. */
  before?: string | null;
}

/** A command that changes something (marked `changes` at its call site). */
export interface CommandEffect {
  kind: "command";
  host: string;
  command: string;
}

export interface EtcdEffect {
  kind: "etcd";
  op: "add-learner" | "promote" | "remove" | "update-peer-urls";
  /** The member's node name ("" when not known). */
  member: string;
  /** Hex member ID; in a plan, a placeholder for an ID only the add will return. */
  id: string;
  peerUrls?: string[];
}

/** An edit of an API object: each changed field, before → after, against the resourceVersion read. */
export interface ApiEffect {
  kind: "api";
  verb: "update" | "create" | "delete" | "patch";
  object: string;
  resourceVersion?: string;
  changes: { field: string; before?: unknown; after?: unknown }[];
}

export interface WaitEffect {
  kind: "wait";
  /** The host the condition is about, when it is about one. */
  host?: string;
  condition: string;
}

/** Where a step's effects are recorded, and whether they are only recorded (plan) or also carried out. */
export interface EffectSink {
  readonly dry: boolean;
  record(effect: Effect): void;
}

/** A list of effects, in the order the step asked for them. */
export class EffectLog implements EffectSink {
  readonly effects: Effect[] = [];
  constructor(readonly dry: boolean) {}
  record(effect: Effect): void {
    this.effects.push(effect);
  }
}

/**
 * A step's effects with those on hosts listed host by host, in `hosts`' order, each host's own in the
 * order asked; effects on no host (etcd, the API) keep their places. A step that works on several
 * hosts at once (the worker roll) interleaves them by timing; this makes its record the same each run.
 */
export function hostByHost(effects: Effect[], hosts: string[]): Effect[] {
  const hostOf = (e: Effect): string | undefined => ("host" in e ? e.host : undefined);
  const rank = (e: Effect): number => {
    const i = hosts.indexOf(hostOf(e)!);
    return i < 0 ? hosts.length : i;
  };
  // Array.prototype.sort is stable: a host's effects keep their order.
  const onHosts = effects.filter((e) => hostOf(e) !== undefined).sort((a, b) => rank(a) - rank(b));
  let next = 0;
  return effects.map((e) => (hostOf(e) === undefined ? e : onHosts[next++]!));
}

/** The effect itself, without what only the plan's printout uses (a file's former content). */
export function effectOnly(e: Effect): Effect {
  if (e.kind !== "file" || !("before" in e)) return e;
  const copy = { ...e };
  delete copy.before;
  return copy;
}
