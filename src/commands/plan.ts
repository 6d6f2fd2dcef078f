import { join } from "node:path";
import type { CommandContext } from "./context.js";
import { ExitCode } from "../errors.js";
import { backupDirName } from "../backup/index.js";
import { buildPlan } from "../plan/build.js";
import { formatPlan, planJson } from "../plan/format.js";
import { evaluatePlan } from "../plan/runner.js";
import { withRunContext } from "./prepare.js";
import { printReferences } from "./references.js";
import { referencesJson } from "../references/format.js";

/** `kubeha plan`: everything apply would do, computed from the live cluster; changes nothing. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  return withRunContext(ctx, async (runCtx, inv) => {
    const steps = await evaluatePlan(runCtx, await buildPlan(runCtx));
    const backupDir = join(inv.options.stateDir, "backups", backupDirName());
    if (ctx.values.output !== "json") ctx.reporter.print(formatPlan(steps, backupDir));
    // What the plan leaves pointing at the primary: found now, so it can be changed with the conversion.
    const references = await printReferences(ctx, runCtx);
    if (ctx.values.output === "json")
      ctx.reporter.result({
        ...planJson(steps, backupDir),
        references: references && referencesJson(references),
      });
    return ExitCode.ok;
  });
}
