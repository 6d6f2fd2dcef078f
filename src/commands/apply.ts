import { join } from "node:path";
import { confirm } from "@inquirer/prompts";
import type { CommandContext } from "./context.js";
import { ExitCode, KubehaError } from "../errors.js";
import { backupDirName, takeBackup } from "../backup/index.js";
import { buildPlan } from "../plan/build.js";
import { formatPlan } from "../plan/format.js";
import { entryPointSummary } from "../inventory/load-balancer.js";
import { Journal } from "../plan/journal.js";
import { evaluatePlan, runPlan, StepFailure } from "../plan/runner.js";
import { pullMissingImages } from "../phases/images.js";
import { clusterState } from "../verify/state.js";
import { formatChecks, verifyCluster } from "../verify/index.js";
import { ClusterLock, lockClients } from "../lock/lease.js";
import { withRunContext } from "./prepare.js";
import { printPlan } from "./plan.js";
import { printReferences } from "./references.js";
import { plural } from "../ui/plural.js";

/**
 * `kubeha apply`: show the plan, ask (unless --yes), back up, carry out each step that the live
 * state says is not done yet, then verify. Running it again resumes or, when all is done, changes nothing.
 */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const r = ctx.reporter;
  let lock: ClusterLock | undefined;
  process.once("SIGINT", () => {
    r.error(
      "interrupted: the cluster is left as the last finished step made it; run `kubeha apply` again to resume",
    );
    void (lock?.release(5000) ?? Promise.resolve()).finally(() => process.exit(ExitCode.interrupted));
  });
  return withRunContext(ctx, async (runCtx, inv) => {
    const steps = await buildPlan(runCtx);
    const evaluated = await evaluatePlan(runCtx, steps);
    const backupDir = join(inv.options.stateDir, "backups", backupDirName());
    if (ctx.planShown) {
      // The wizard has just shown this plan: said again only in the log.
      r.print(
        `the plan as shown above (in full in ${r.logFile ?? "the log"})`,
        formatPlan(evaluated, backupDir),
      );
    } else {
      printPlan(r, { entryPoint: entryPointSummary(inv), steps: evaluated, backupDir });
    }
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
      const held = (lock = await ClusterLock.acquire(lockClients(runCtx), r, "apply"));
      // Images are pulled under the lock (two runs would pull twice) but before the backup: no change yet.
      await pullMissingImages(runCtx).catch(async (err: unknown) => {
        await held.release();
        throw err;
      });
      const journal = new Journal(inv.options.stateDir);
      r.info(`journal: ${journal.path}`);
      // The steps' own time: not the wizard's questions or the confirmation before them.
      const started = Date.now();
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
        );
        r.info(
          `${plural(result.ran, "step")} carried out, ${result.skipped} already done (${r.elapsed(started)})`,
        );
        journal.finish("done");
      } catch (err) {
        journal.finish("failed");
        if (err instanceof StepFailure) {
          throw new KubehaError(`${err.message}\ncluster now: ${await clusterState(runCtx)}`, err.exitCode, {
            cause: err,
          });
        }
        throw err;
      } finally {
        await held.release();
      }
    }
    const checks = await verifyCluster(runCtx);
    r.print(formatChecks(checks));
    // kubeha's own clients are through the LB now; whatever else still names the primary is listed.
    await printReferences(ctx, runCtx);
    return checks.every((c) => c.ok) ? ExitCode.ok : ExitCode.failed;
  });
}
