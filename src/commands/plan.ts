import { join } from "node:path";
import type { CommandContext } from "./context.js";
import { ExitCode } from "../errors.js";
import { backupDirName } from "../backup/index.js";
import { buildPlan } from "../plan/build.js";
import { formatPlan, planJson, type PlannedStep } from "../plan/format.js";
import { evaluatePlan } from "../plan/runner.js";
import type { Reporter } from "../ui/reporter.js";
import { terminalWidth, wrapText } from "../ui/wrap.js";
import { withRunContext } from "./prepare.js";
import type { Inventory } from "../inventory/types.js";
import type { RunContext } from "../phases/context.js";
import { printReferences } from "./references.js";
import { referencesJson } from "../references/format.js";
import { entryPointSummary } from "../inventory/load-balancer.js";

export interface Plan {
  /** The address clients will use, and how it is served. */
  entryPoint: string;
  steps: PlannedStep[];
  backupDir: string;
}

async function planOf(runCtx: RunContext, inv: Inventory): Promise<Plan> {
  return {
    entryPoint: entryPointSummary(inv),
    steps: await evaluatePlan(runCtx, await buildPlan(runCtx)),
    backupDir: join(inv.options.stateDir, "backups", backupDirName()),
  };
}

/** Everything apply would do, computed from the live cluster; changes nothing. */
export function computePlan(ctx: CommandContext): Promise<Plan> {
  return withRunContext(ctx, planOf);
}

/** The plan on screen fitted to the terminal (summary, then details); in the log in full. */
export function printPlan(r: Reporter, plan: Plan): void {
  const width = terminalWidth();
  r.print(
    `${wrapText(plan.entryPoint, width)}\n\n${formatPlan(plan.steps, plan.backupDir, { width, elide: true })}`,
    `${plan.entryPoint}\n\n${formatPlan(plan.steps, plan.backupDir)}`,
  );
}

/** `kubeha plan`: the plan as text, or with `-o json` as a document, then what it leaves pointing at the primary. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  return withRunContext(ctx, async (runCtx, inv) => {
    const plan = await planOf(runCtx, inv);
    if (ctx.values.output !== "json") printPlan(ctx.reporter, plan);
    // Found now, so it can be changed with the conversion.
    const references = await printReferences(ctx, runCtx);
    if (ctx.values.output === "json")
      ctx.reporter.result({
        ...planJson(plan.steps, plan.backupDir),
        references: references && referencesJson(references),
      });
    return ExitCode.ok;
  });
}
