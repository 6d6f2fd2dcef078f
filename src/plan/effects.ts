// The plan's effects and apply's record of them come from the same code: each step's own `run`, once
// against interfaces that record and change nothing (plan), once against the real ones, recorded.
import { writeFile } from "node:fs/promises";
import type { RunContext } from "../engine/context.js";
import { EffectLog, effectOnly, hostByHost, type Effect } from "../effects/types.js";
import { controlHosts } from "../inventory/types.js";
import { World } from "../effects/view.js";
import type { PlannedStep } from "./format.js";
import type { Step } from "../engine/step.js";
import { checkGraph } from "./graph.js";

/**
 * Runs every step still to do, each after the steps it needs, against the recording interfaces in dry
 * mode: what each would write, run, ask etcd and the API, and wait for. A step reads what the steps it
 * needs would have written; answers only a real change gives (a new member's ID) are predicted.
 */
export async function deriveEffects(ctx: RunContext, planned: PlannedStep[]): Promise<void> {
  const world = new World();
  const hostOrder = hostNames(ctx);
  const byId = new Map(planned.map((p) => [p.step.id, p]));
  const done = new Set(planned.filter((p) => p.done).map((p) => p.step.id));
  const derive = async (p: PlannedStep): Promise<void> => {
    const log = new EffectLog(true);
    try {
      await p.step.run(ctx.recording(log, world));
    } catch (err) {
      p.effectsError = err instanceof Error ? err.message : String(err);
    }
    p.effects = hostByHost(log.effects, hostOrder);
  };
  // Each step once the steps it needs are recorded, as the runner would start it: a step reads what
  // the steps it needs would have written, and nothing that a step it does not need writes (the
  // graph says so), so steps that need nothing of each other are recorded at once. Host limits do
  // not apply: nothing runs for real.
  const steps = planned.map((p) => p.step);
  checkGraph(steps);
  const recorded = new Map<string, Promise<void>>();
  const record = (s: Step): Promise<void> => {
    let r = recorded.get(s.id);
    if (!r) {
      const needs = (s.needs ?? []).filter((n) => !done.has(n)).map((n) => record(byId.get(n)!.step));
      r = Promise.all(needs).then(() => derive(byId.get(s.id)!));
      recorded.set(s.id, r);
    }
    return r;
  };
  await ctx.planningOnly(() => Promise.all(steps.filter((s) => !done.has(s.id)).map(record)).then(() => {}));
}

/** The same steps, each recording what it carries out into `record` under its id. */
export function recordingSteps(steps: Step[], record: Map<string, Effect[]>): Step[] {
  const world = new World();
  return steps.map((step) => ({
    ...step,
    run: async (c: RunContext) => {
      const log = new EffectLog(false);
      // Set first: a step that fails leaves what it did carry out.
      record.set(step.id, log.effects);
      try {
        await step.run(c.recording(log, world));
      } finally {
        record.set(step.id, hostByHost(log.effects, hostNames(c)));
      }
    },
  }));
}

/** Every host in the inventory's order: the order a step's effects are listed in. */
function hostNames(ctx: RunContext): string[] {
  return [...controlHosts(ctx.inventory), ...ctx.inventory.workers].map((h) => h.name);
}

/** For a test harness (the hidden --effects-json): each step's effects, without what the plan only shows. */
export async function writeEffects(file: string, steps: { id: string; effects: Effect[] }[]): Promise<void> {
  const plain = steps.map(({ id, effects }) => ({ id, effects: effects.map(effectOnly) }));
  await writeFile(file, `${JSON.stringify({ steps: plain }, null, 2)}\n`, { mode: 0o600 });
}
