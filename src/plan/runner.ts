import { KubehaError, ExitCode } from "../errors.js";
import type { RunContext } from "../engine/context.js";
import type { Journal } from "./journal.js";
import type { PlannedStep } from "./format.js";
import { checkGraph, DEFAULT_LIMITS, readySteps, Slots, type Limits } from "./graph.js";
import type { Step } from "../engine/step.js";

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

const prepared = new WeakSet<Step>();

/**
 * Starts each step's `prepare` (keys) once, not awaited: only a head start, the step does the work
 * itself when it runs.
 */
export function startPreparing(ctx: RunContext, steps: Step[]): void {
  for (const s of steps) {
    if (!s.prepare || prepared.has(s)) continue;
    prepared.add(s);
    s.prepare(ctx).catch((err: unknown) => {
      ctx.reporter.debug(`[${s.host}] ${s.id}: prepare: ${(err as Error).message}`);
    });
  }
}

/** A step that was running when another failed, and how it ended (the runner waits for it). */
export interface RunningOutcome {
  id: string;
  outcome: "done" | "failed" | "not started";
}

export class StepFailure extends KubehaError {
  constructor(
    readonly step: Step,
    readonly completed: string[],
    cause: unknown,
    undo = step.rollback,
    resume = "kubeha apply",
    readonly running: RunningOutcome[] = [],
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const during = running.length
      ? `; running when it failed, then let finish: ${running.map((r) => `${r.id} (${r.outcome})`).join(", ")}`
      : "";
    super(
      [
        `step ${step.id} on ${step.host} failed: ${reason}`,
        `state: ${completed.length ? `done before it: ${completed.join(", ")}` : "no step had completed"}${during}; ` +
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

export interface RunOptions {
  /** Once, before the first step that changes something, with no step running yet (the backup). */
  beforeFirstChange: () => Promise<void>;
  /** Before each step starts; may stop the run (the cluster lock). */
  atStepBoundary?: () => Promise<void>;
  /** The command that resumes the run, for the failure report: "kubeha apply". */
  resume?: string;
  /** Aborted (Ctrl-C): no step starts any more; those running are let finish. */
  signal?: AbortSignal;
  limits?: Limits;
}

/**
 * Carries out the steps as a graph: every step whose needs are finished starts at once, within the
 * limits and its exclusive resources. A step already done (by the live state, asked when it is
 * ready) is skipped; the others run, then check their own result. `beforeFirstChange` runs once,
 * before the first step that changes something. After a failure (or an abort, or a stop at a step boundary) no step starts; the ones
 * running are let finish, so the journal and the report say how each ended.
 */
export async function runPlan(
  ctx: RunContext,
  steps: Step[],
  journal: Journal,
  options: RunOptions,
): Promise<{ ran: number; skipped: number }> {
  checkGraph(steps);
  const r = ctx.reporter;
  const slots = new Slots(options.limits ?? DEFAULT_LIMITS);
  /** Done or found done, in the order they finished: what the steps that need them wait for. */
  const finished = new Set<string>();
  const failures: { step: Step; err: unknown }[] = [];
  const running = new Map<string, Promise<void>>();
  let waiting: Step[] = [...steps];
  let runningAtFailure: string[] = [];
  let completedAtFailure: string[] = [];
  let boundaryError: { err: unknown } | undefined;
  let firstChange: Promise<void> | undefined;
  let ran = 0;
  let skipped = 0;
  const stopped = () => failures.length > 0 || boundaryError !== undefined || !!options.signal?.aborted;

  const beforeChange = (): Promise<void> => (firstChange ??= options.beforeFirstChange());

  const execute = async (step: Step): Promise<"done" | "failed" | "not started"> => {
    try {
      await options.atStepBoundary?.();
    } catch (err) {
      boundaryError ??= { err };
      return "not started";
    }
    let began = false;
    try {
      // A wait is carried out even when its condition already holds (one look): what the plan showed
      // is what apply does, whichever finished first, the wait or the run reaching it.
      if (!step.waitsOnly && (await step.isDone(ctx).catch(() => false))) {
        r.step(step.host, `${step.title}: already done`);
        journal.record(step.id, "already-done");
        finished.add(step.id);
        skipped++;
        return "done";
      }
      try {
        await beforeChange();
      } catch (err) {
        // A failed backup is the failure of the first step that waited for it; the others never began.
        if (failures.some((f) => f.err === err)) return "not started";
        throw err;
      }
      // Another step failed (or the run was stopped) while this one waited for the backup.
      if (stopped()) return "not started";
      const started = Date.now();
      began = true;
      r.begin(step.host, step.title);
      journal.record(step.id, "started");
      await step.run(ctx);
      await step.verify(ctx);
      r.end(step.host, step.title);
      journal.record(step.id, "done");
      r.step(step.host, `${step.title}: done (${((Date.now() - started) / 1000).toFixed(1)}s)`);
      finished.add(step.id);
      ran++;
      return "done";
    } catch (err) {
      if (began) r.end(step.host, step.title);
      journal.record(step.id, "failed", err instanceof Error ? err.message : String(err));
      // The first failure decides the report.
      if (!failures.length) {
        runningAtFailure = [...running.keys()].filter((id) => id !== step.id);
        completedAtFailure = [...finished];
        if (runningAtFailure.length)
          r.warn(`${step.id} failed; waiting for the steps still running: ${runningAtFailure.join(", ")}`);
      }
      failures.push({ step, err });
      return "failed";
    }
  };

  const outcomes = new Map<string, "done" | "failed" | "not started">();
  for (;;) {
    if (!stopped()) {
      for (const step of readySteps(waiting, finished, slots)) {
        waiting = waiting.filter((s) => s !== step);
        running.set(
          step.id,
          execute(step).then((o) => {
            outcomes.set(step.id, o);
            slots.release(step);
            running.delete(step.id);
          }),
        );
      }
    }
    if (!running.size) break;
    await Promise.race(running.values());
  }

  const first = failures[0];
  if (first) {
    const { step, err } = first;
    const undo = step.undo ? await step.undo(ctx).catch(() => step.rollback) : step.rollback;
    const others = runningAtFailure.map((id) => ({ id, outcome: outcomes.get(id) ?? "not started" }));
    throw new StepFailure(step, completedAtFailure, err, undo, options.resume, others);
  }
  if (boundaryError) throw boundaryError.err;
  if (waiting.length && !options.signal?.aborted)
    throw new Error(`internal: steps never ready: ${waiting.map((s) => s.id).join(", ")}`);
  if (waiting.length)
    throw new KubehaError(
      `interrupted: ${waiting.length} steps not started; run \`${options.resume ?? "kubeha apply"}\` again to resume`,
      ExitCode.interrupted,
    );
  return { ran, skipped };
}
