import type { Step } from "../engine/step.js";

/** How many steps run at once. */
export interface Limits {
  /** On one machine: a kubelet restart must not overlap a static pod written on the same host. */
  perHost: number;
  /** In all: bounds the SSH sessions, API calls and key generation of the operator's machine. */
  global: number;
  /**
   * Step.host names that are not one machine, bounded by `global` only: "cluster" (the API edits of
   * src/phases/clients.ts), "workers" (the roll of src/phases/workers.ts, with its own limit).
   */
  shared: ReadonlySet<string>;
}

/**
 * One step per machine at a time: the steps on one host mostly depend on each other anyway, and those
 * that do not (the primary's certificate and its etcd peer fix) restart a component the other relies
 * on; a step that only waits (`Step.waitsOnly`) takes no host slot. Eight in all: as many as the
 * largest wave of the conversion with two new masters holds.
 */
export const DEFAULT_LIMITS: Limits = { perHost: 1, global: 8, shared: new Set(["cluster", "workers"]) };

/** Each step after the one before it: for procedures whose order is their safety (rollback, retire). */
export function inSequence(steps: Step[]): Step[] {
  return steps.map((s, i) => (i === 0 ? s : { ...s, needs: [...(s.needs ?? []), steps[i - 1]!.id] }));
}

/** Refuses a graph the runner could never finish: a repeated id, a need not in the plan, a cycle. */
export function checkGraph(steps: Step[]): void {
  const byId = new Map<string, Step>();
  for (const s of steps) {
    if (byId.has(s.id)) throw new Error(`internal: two steps have the id ${s.id}`);
    byId.set(s.id, s);
  }
  for (const s of steps)
    for (const n of s.needs ?? [])
      if (!byId.has(n)) throw new Error(`internal: step ${s.id} needs ${n}, which is not in the plan`);
  // Depth-first: a step met again while its own needs are being walked closes a cycle.
  const state = new Map<string, "walking" | "ok">();
  const walk = (s: Step, path: string[]): void => {
    if (state.get(s.id) === "ok") return;
    if (state.get(s.id) === "walking")
      throw new Error(`internal: steps need each other: ${[...path, s.id].join(" → ")}`);
    state.set(s.id, "walking");
    for (const n of s.needs ?? []) walk(byId.get(n)!, [...path, s.id]);
    state.set(s.id, "ok");
  };
  for (const s of steps) walk(s, []);
}

/** What is running now, against the limits: whether one more step may start. */
export class Slots {
  private readonly perHost = new Map<string, number>();
  private readonly held = new Set<string>();
  private count = 0;

  constructor(private readonly limits: Limits) {}

  private machine(step: Step): boolean {
    return !this.limits.shared.has(step.host) && !step.waitsOnly;
  }

  admits(step: Step): boolean {
    if (this.count >= this.limits.global) return false;
    if (this.machine(step) && (this.perHost.get(step.host) ?? 0) >= this.limits.perHost) return false;
    return !(step.exclusive ?? []).some((r) => this.held.has(r));
  }

  take(step: Step): void {
    this.count++;
    if (this.machine(step)) this.perHost.set(step.host, (this.perHost.get(step.host) ?? 0) + 1);
    for (const r of step.exclusive ?? []) this.held.add(r);
  }

  release(step: Step): void {
    this.count--;
    if (this.machine(step)) this.perHost.set(step.host, this.perHost.get(step.host)! - 1);
    for (const r of step.exclusive ?? []) this.held.delete(r);
  }
}

/** The steps of `steps` (in order) whose needs are all in `finished` and that the slots admit now. */
export function readySteps(steps: Step[], finished: ReadonlySet<string>, slots: Slots): Step[] {
  const out: Step[] = [];
  for (const s of steps) {
    if (!(s.needs ?? []).every((n) => finished.has(n)) || !slots.admits(s)) continue;
    slots.take(s);
    out.push(s);
  }
  return out;
}

/**
 * The run as waves, for the plan: the steps that would start together if every step took as long,
 * by the runner's own rules (needs, exclusive resources, limits). `finished`: steps already done.
 */
export function waves(steps: Step[], finished: ReadonlySet<string>, limits = DEFAULT_LIMITS): Step[][] {
  checkGraph(steps);
  const done = new Set(finished);
  let left = steps.filter((s) => !done.has(s.id));
  const out: Step[][] = [];
  while (left.length) {
    const wave = readySteps(left, done, new Slots(limits));
    if (!wave.length) throw new Error("internal: no step can start (a limit below 1?)");
    for (const s of wave) done.add(s.id);
    left = left.filter((s) => !done.has(s.id));
    out.push(wave);
  }
  return out;
}
