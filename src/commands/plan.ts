import { join } from "node:path";
import type { CommandContext } from "./context.js";
import { ExitCode } from "../errors.js";
import { backupDirName } from "../backup/index.js";
import { buildPlan } from "../plan/build.js";
import { formatPlan, planJson } from "../plan/format.js";
import { evaluatePlan } from "../plan/runner.js";
import { withRunContext } from "./prepare.js";
import { entryPointSummary } from "../inventory/load-balancer.js";

/** `kubeha plan`: everything apply would do, computed from the live cluster; changes nothing. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  return withRunContext(ctx, async (runCtx, inv) => {
    const steps = await evaluatePlan(runCtx, await buildPlan(runCtx));
    const backupDir = join(inv.options.stateDir, "backups", backupDirName());
    if (ctx.values.output === "json") ctx.reporter.result(planJson(steps, backupDir));
    else ctx.reporter.print(`${entryPointSummary(inv)}\n\n${formatPlan(steps, backupDir)}`);
    return ExitCode.ok;
  });
}
