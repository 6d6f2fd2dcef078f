import { KubehaError, ExitCode } from "../errors.js";
import type { RunContext } from "../phases/context.js";
import type { Journal } from "./journal.js";
import type { PlannedStep } from "./format.js";
import type { Step } from "./types.js";

/** Asks the live state which steps are already done: reads only, so all at once. */
export async function evaluatePlan(ctx: RunContext, steps: Step[]): Promise<PlannedStep[]> {
  return Promise.all(
    steps.map(async (step) => {
      try {
        return { step, done: await step.isDone(ctx) };
      } catch (err) {
        // Cannot tell (the member or apiserver it asks does not exist yet): not done.
        ctx.reporter.debug(`[${step.host}] ${step.id}: isDone: ${(err as Error).message}`);
        return { step, done: false };
      }
    }),
  );
}

export class StepFailure extends KubehaError {
  constructor(
    readonly step: Step,
    readonly completed: string[],
    cause: unknown,
    undo = step.rollback,
    resume = "kubeha apply",
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      [
        `step ${step.id} on ${step.host} failed: ${reason}`,
        `state: ${completed.length ? `done before it: ${completed.join(", ")}` : "no step had completed"}; ` +
          `this step may be partly done.`,
        `next: fix the cause, then run \`${resume}\` again to resume (finished steps are skipped); ` +
          `to undo this step by hand: ${undo}`,
      ].join("\n"),
      ExitCode.failed,
      { cause },
    );
    this.name = "StepFailure";
  }
}

/**
 * Carries out the steps in order. A step already done (by the live state) is skipped; the others run,
 * then check their own result. `beforeFirstChange` runs once, before the first step that changes
 * something (the backup); `atStepBoundary` before every step, and may stop the run (the cluster lock).
 */
export async function runPlan(
  ctx: RunContext,
  steps: Step[],
  journal: Journal,
  beforeFirstChange: () => Promise<void>,
  atStepBoundary: () => Promise<void> = async () => {},
  resume?: string,
): Promise<{ ran: number; skipped: number }> {
  const completed: string[] = [];
  let ran = 0;
  let skipped = 0;
  let prepared = false;
  for (const [i, step] of steps.entries()) {
    await atStepBoundary();
    let started = Date.now();
    try {
      if (await step.isDone(ctx).catch(() => false)) {
        ctx.reporter.step(step.host, `${step.title}: already done`);
        journal.record(step.id, "already-done");
        completed.push(step.id);
        skipped++;
        continue;
      }
      if (!prepared) {
        for (const later of steps.slice(i)) {
          later.prepare?.(ctx).catch((err: unknown) => {
            // Only a head start: the step does the work itself when it runs.
            ctx.reporter.debug(`[${later.host}] ${later.id}: prepare: ${(err as Error).message}`);
          });
        }
        await beforeFirstChange();
        prepared = true;
        started = Date.now();
      }
      ctx.reporter.begin(step.host, step.title);
      journal.record(step.id, "started");
      await step.run(ctx);
      await step.verify(ctx);
      ctx.reporter.end();
      journal.record(step.id, "done");
      ctx.reporter.step(step.host, `${step.title}: done (${((Date.now() - started) / 1000).toFixed(1)}s)`);
      completed.push(step.id);
      ran++;
    } catch (err) {
      ctx.reporter.end();
      journal.record(step.id, "failed", err instanceof Error ? err.message : String(err));
      const undo = step.undo ? await step.undo(ctx).catch(() => step.rollback) : step.rollback;
      throw new StepFailure(step, completed, err, undo, resume);
    }
  }
  return { ran, skipped };
}
