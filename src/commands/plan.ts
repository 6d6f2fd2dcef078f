import type { CommandContext } from "./context.js";
import type { ExitCode } from "../errors.js";
import { computePlan as planOfProcedure, showPlan, type Plan } from "./carry-out.js";

/** The conversion's plan, for the wizard to show before it asks. */
export async function computePlan(ctx: CommandContext): Promise<Plan> {
  return planOfProcedure(ctx, (await import("./apply.js")).conversion);
}

/** `kubeha plan`: everything apply (or, with --rollback, rollback) would do, from the live cluster; changes nothing. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const procedure = ctx.values.rollback
    ? (await import("./rollback.js")).rollback
    : (await import("./apply.js")).conversion;
  return showPlan(ctx, procedure);
}
