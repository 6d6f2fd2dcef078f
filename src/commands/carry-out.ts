import { join } from "node:path";
import type { CommandContext } from "./context.js";
import { ExitCode, KubehaError } from "../errors.js";
import { backupDirName, takeBackup } from "../backup/index.js";
import { formatPlan, planJson, type PlannedStep } from "../plan/format.js";
import { Journal } from "../plan/journal.js";
import { evaluatePlan, runPlan, startPreparing, StepFailure } from "../plan/runner.js";
import type { Step } from "../engine/step.js";
import type { RunContext } from "../engine/context.js";
import { clusterState } from "../verify/state.js";
import type { Check } from "../verify/check.js";
import { ClusterLock, lockClients } from "../lock/lease.js";
import { withRunContext } from "./prepare.js";
import { plural } from "../ui/plural.js";
import type { Reporter } from "../ui/reporter.js";
import { terminalWidth, wrapText } from "../ui/wrap.js";
import type { Inventory } from "../inventory/types.js";
import { printReferences, scanReferences } from "./references.js";
import { referencesJson } from "../references/format.js";
import { deriveEffects, recordingSteps, writeEffects } from "../plan/effects.js";
import type { Effect } from "../effects/types.js";

/** What a changing command (apply, rollback, replace, remove) carries out, and how it checks the end. */
export interface Procedure {
  /** The command line that resumes it: "kubeha apply". */
  resume: string;
  /** Names the lock's holder: "apply". */
  lockName: string;
  build(run: RunContext): Promise<Step[]>;
  /** Under the lock, before the backup (the conversion pulls missing images here): no change yet. */
  prepare?(run: RunContext): Promise<void>;
  verify(run: RunContext, steps: Step[]): Promise<Check[]>;
  formatChecks(checks: Check[]): string;
  /** How the session starts: retired masters' names for discovery, which findings refuse. */
  session?: Parameters<typeof withRunContext>[2];
  /** A line heading the plan (the conversion: the address clients will use). */
  header?(inv: Inventory): string;
  /** After it: what still names the primary's apiserver directly (`kubeha references`). */
  references?: boolean;
  /** Its steps' effects are recorded from their own runs: the plan shows them, apply records them. */
  effects?: boolean;
}

export interface Plan {
  header?: string;
  steps: PlannedStep[];
  backupDir: string;
}

async function planOf(
  runCtx: RunContext,
  inv: Inventory,
  p: Procedure,
  evaluated?: PlannedStep[],
  backupDir = join(inv.options.stateDir, "backups", backupDirName()),
): Promise<Plan> {
  const planned = evaluated ?? (await evaluatePlan(runCtx, await p.build(runCtx)));
  if (p.effects) await deriveEffects(runCtx, planned);
  return { ...(p.header && { header: p.header(inv) }), steps: planned, backupDir };
}

/** Every step's `check`, at once: what must hold before the first change (they change nothing). */
async function checkBeforeChange(runCtx: RunContext, steps: Step[]): Promise<void> {
  await Promise.all(steps.map((s) => s.check?.(runCtx)));
}

/** Everything a procedure would do, computed from the live cluster; changes nothing. */
export function computePlan(ctx: CommandContext, p: Procedure): Promise<Plan> {
  return withRunContext(ctx, (runCtx, inv) => planOf(runCtx, inv, p), p.session);
}

/** The plan on screen fitted to the terminal (summary, then details); in the log in full. */
export function printPlan(r: Reporter, plan: Plan): void {
  const width = terminalWidth();
  const head = (w?: number) => (plan.header ? `${w ? wrapText(plan.header, w) : plan.header}\n\n` : "");
  r.print(
    head(width) + formatPlan(plan.steps, plan.backupDir, { width, elide: true }),
    head() + formatPlan(plan.steps, plan.backupDir),
  );
}

/** `kubeha plan` for a procedure: every step and its effects, computed from the live cluster; changes nothing. */
export async function showPlan(ctx: CommandContext, p: Procedure): Promise<ExitCode> {
  return withRunContext(
    ctx,
    async (runCtx, inv) => {
      const plan = await planOf(runCtx, inv, p);
      if (ctx.values.effectsJson) {
        const pending = plan.steps.filter((s) => !s.done);
        await writeEffects(
          ctx.values.effectsJson,
          pending.map((s) => ({ id: s.step.id, effects: s.effects ?? [] })),
        );
      }
      if (ctx.values.output !== "json") printPlan(ctx.reporter, plan);
      // Found now, so it can be changed with the conversion.
      const references = p.references ? await printReferences(ctx, runCtx) : undefined;
      if (ctx.values.output === "json")
        ctx.reporter.result({
          ...planJson(plan.steps, plan.backupDir),
          ...(references && { references: referencesJson(references) }),
        });
      return ExitCode.ok;
    },
    p.session,
  );
}

/**
 * Show the plan, ask (unless --yes), take the cluster lock, back up, carry out each step that the live
 * state says is not done yet (journaled), then verify. Running it again resumes or, when all is done,
 * changes nothing.
 */
export async function carryOut(ctx: CommandContext, p: Procedure): Promise<ExitCode> {
  const r = ctx.reporter;
  let lock: ClusterLock | undefined;
  // Ctrl-C: no step starts any more while the lock is released; the process then ends, and the
  // steps it was in are found done or redone by the next run.
  const interrupt = new AbortController();
  process.once("SIGINT", () => {
    interrupt.abort();
    r.error(
      `interrupted: the cluster is left as the last finished step made it; run \`${p.resume}\` again to resume`,
    );
    void (lock?.release(5000) ?? Promise.resolve()).finally(() => process.exit(ExitCode.interrupted));
  });
  return withRunContext(
    ctx,
    async (runCtx, inv) => {
      const steps = await p.build(runCtx);
      const backupDir = join(inv.options.stateDir, "backups", backupDirName());
      const evaluated = await evaluatePlan(runCtx, steps);
      const pending = evaluated.filter((s) => !s.done).map((s) => s.step);
      const backup = async (): Promise<void> => {
        r.info(`backup to ${backupDir} ...`);
        const b = await takeBackup(runCtx, backupDir);
        for (const f of b.files) r.info(`  backup ${f.name}: ${f.bytes} bytes, ${f.check}`);
        r.info(`backup done; how to restore: ${join(backupDir, "RESTORE.txt")}`);
      };
      // Before the first change: the backup streams and every step's check runs.
      const beforeChange = (): Promise<void> =>
        Promise.all([backup(), checkBeforeChange(runCtx, pending)]).then(() => undefined);
      const takeLock = async (): Promise<ClusterLock> => {
        const held = (lock = await ClusterLock.acquire(lockClients(runCtx), r, p.lockName));
        // The first keys the run needs (the first new etcd member's) now: with a small snapshot they
        // were the critical path's longest wait. The rest once the backup is checked (below).
        startPreparing(runCtx, pending.filter((s) => s.prepare).slice(0, 1));
        // Under the lock (two runs would pull twice) but before the backup.
        await p.prepare?.(runCtx).catch(async (err: unknown) => {
          await held.release();
          throw err;
        });
        return held;
      };
      // --yes: nobody is asked, so the lock is taken now and the backup and the checks go on beside
      // the making of the plan's effects (all of it only reads); the plan is still printed before any change.
      let before: Promise<void> | undefined;
      if (pending.length && ctx.values.yes) {
        await takeLock();
        before = beforeChange();
        // Awaited below; a failure meanwhile must not be an unhandled rejection.
        before.catch(() => undefined);
      }
      const plan = await planOf(runCtx, inv, p, evaluated, backupDir).catch(async (err: unknown) => {
        await before?.catch(() => undefined);
        await lock?.release();
        throw err;
      });
      if (ctx.planShown) {
        // The wizard has just shown this plan: said again only in the log.
        r.print(
          `the plan as shown above (in full in ${r.logFile ?? "the log"})`,
          formatPlan(evaluated, backupDir),
        );
      } else {
        printPlan(r, plan);
      }
      if (!pending.length) {
        r.info("nothing to do: the cluster already is what the plan describes");
      } else if (!ctx.values.yes) {
        if (!process.stdin.isTTY) {
          throw new KubehaError(
            "refusing to apply without confirmation: pass --yes (no terminal to ask on)",
            ExitCode.badInput,
          );
        }
        await ClusterLock.refuseIfHeld(lockClients(runCtx));
        // Loaded only when asked: its modules cost a run with --yes 40 ms before it connects.
        const { confirm } = await import("@inquirer/prompts");
        const ok = await confirm({ message: "Apply this plan?", default: false });
        if (!ok) {
          r.info("not applied; nothing was changed");
          return ExitCode.ok;
        }
      }
      if (pending.length) {
        // Without --yes: taken after the answer (no one waits on a prompt), before the backup.
        const held = lock ?? (await takeLock());
        // A refused check (exit 2) or a failed backup ends the run here: before any change, and
        // before the journal records a run.
        const ready = (before ??= beforeChange());
        await ready.catch(async (err: unknown) => {
          await held.release();
          throw err;
        });
        // The other keys (CPU-heavy) once the plan is made and the backup checked: beside the plan's
        // making or the snapshot's check (hashed, walked by etcd's tool) they slow them more than they gain.
        startPreparing(runCtx, pending);
        const journal = new Journal(inv.options.stateDir);
        r.info(`journal: ${journal.path}`);
        // The steps' own time: not the wizard's questions or the confirmation before them.
        const started = Date.now();
        const carried = new Map<string, Effect[]>();
        try {
          const result = await runPlan(runCtx, p.effects ? recordingSteps(steps, carried) : steps, journal, {
            beforeFirstChange: () => ready,
            atStepBoundary: () => held.checkpoint(),
            resume: p.resume,
            signal: interrupt.signal,
          });
          r.info(
            `${plural(result.ran, "step")} carried out, ${result.skipped} already done (${r.elapsed(started)})`,
          );
          journal.finish("done");
        } catch (err) {
          journal.finish("failed");
          if (err instanceof StepFailure) {
            throw new KubehaError(
              `${err.message}\ncluster now: ${await clusterState(runCtx)}`,
              err.exitCode,
              {
                cause: err,
              },
            );
          }
          throw err;
        } finally {
          await held.release();
          if (ctx.values.effectsJson) {
            const ran = [...carried].map(([id, effects]) => ({ id, effects }));
            await writeEffects(ctx.values.effectsJson, ran);
          }
        }
      }
      // kubeha's own clients are through the LB now; whatever else still names the primary is listed,
      // read while the checks run (both only read).
      const scanned = p.references ? scanReferences(runCtx, ctx.values.kubeconfig) : undefined;
      scanned?.catch(() => undefined);
      const checks = await p.verify(runCtx, steps);
      r.print(p.formatChecks(checks));
      if (scanned) await printReferences(ctx, runCtx, scanned);
      return checks.every((c) => c.ok) ? ExitCode.ok : ExitCode.failed;
    },
    p.session,
  );
}
