import { join } from "node:path";
import { confirm } from "@inquirer/prompts";
import type { CommandContext } from "./context.js";
import { ExitCode, KubehaError } from "../errors.js";
import { backupDirName, takeBackup } from "../backup/index.js";
import { formatPlan, planJson } from "../plan/format.js";
import { Journal } from "../plan/journal.js";
import { evaluatePlan, runPlan, StepFailure } from "../plan/runner.js";
import type { Step } from "../plan/types.js";
import type { RunContext } from "../phases/context.js";
import { clusterState } from "../verify/state.js";
import type { Check } from "../verify/check.js";
import { ClusterLock, lockClients } from "../lock/lease.js";
import { withRunContext } from "./prepare.js";
import { plural } from "../ui/plural.js";

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
}

/** `kubeha plan` for a procedure: every step and its effects, computed from the live cluster; changes nothing. */
export async function showPlan(ctx: CommandContext, p: Procedure): Promise<ExitCode> {
  return withRunContext(
    ctx,
    async (runCtx, inv) => {
      const steps = await evaluatePlan(runCtx, await p.build(runCtx));
      const backupDir = join(inv.options.stateDir, "backups", backupDirName());
      if (ctx.values.output === "json") ctx.reporter.result(planJson(steps, backupDir));
      else ctx.reporter.print(formatPlan(steps, backupDir));
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
  process.once("SIGINT", () => {
    r.error(
      `interrupted: the cluster is left as the last finished step made it; run \`${p.resume}\` again to resume`,
    );
    void (lock?.release(5000) ?? Promise.resolve()).finally(() => process.exit(ExitCode.interrupted));
  });
  return withRunContext(
    ctx,
    async (runCtx, inv) => {
      const steps = await p.build(runCtx);
      const evaluated = await evaluatePlan(runCtx, steps);
      const backupDir = join(inv.options.stateDir, "backups", backupDirName());
      r.print(formatPlan(evaluated, backupDir));
      if (evaluated.every((s) => s.done)) {
        r.info("nothing to do: the cluster already is what the plan describes");
      } else if (!ctx.values.yes) {
        if (!process.stdin.isTTY) {
          throw new KubehaError(
            "refusing to apply without confirmation: pass --yes (no terminal to ask on)",
            ExitCode.badInput,
          );
        }
        await ClusterLock.refuseIfHeld(lockClients(runCtx));
        const ok = await confirm({ message: "Apply this plan?", default: false });
        if (!ok) {
          r.info("not applied; nothing was changed");
          return ExitCode.ok;
        }
      }
      if (evaluated.some((s) => !s.done)) {
        // Taken after the plan (no one waits on a prompt) and before the backup, the first change.
        const held = (lock = await ClusterLock.acquire(lockClients(runCtx), r, p.lockName));
        await p.prepare?.(runCtx).catch(async (err: unknown) => {
          await held.release();
          throw err;
        });
        const journal = new Journal(inv.options.stateDir);
        r.info(`journal: ${journal.path}`);
        try {
          const result = await runPlan(
            runCtx,
            steps,
            journal,
            async () => {
              r.info(`backup to ${backupDir} ...`);
              const b = await takeBackup(runCtx, backupDir);
              for (const f of b.files) r.info(`  backup ${f.name}: ${f.bytes} bytes, ${f.check}`);
              r.info(`backup done; how to restore: ${join(backupDir, "RESTORE.txt")}`);
            },
            () => held.checkpoint(),
            p.resume,
          );
          r.info(
            `${plural(result.ran, "step")} carried out, ${result.skipped} already done (${r.elapsed()})`,
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
        }
      }
      const checks = await p.verify(runCtx, steps);
      r.print(p.formatChecks(checks));
      return checks.every((c) => c.ok) ? ExitCode.ok : ExitCode.failed;
    },
    p.session,
  );
}
