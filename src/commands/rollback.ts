import type { CommandContext } from "./context.js";
import type { ExitCode } from "../errors.js";
import { buildRollbackPlan } from "../plan/rollback.js";
import { formatStepChecks, verifyMembersAndSteps } from "../verify/steps.js";
import { carryOut, showPlan, type Procedure } from "./carry-out.js";

export const rollback: Procedure = {
  resume: "kubeha rollback",
  lockName: "rollback",
  build: buildRollbackPlan,
  verify: (run, steps) => verifyMembersAndSteps(run, [run.inventory.primary.name], steps),
  formatChecks: (checks) => formatStepChecks(checks, "the cluster is back to a single master"),
  // The new masters may be in any state (the rollback takes them apart): only the rest can refuse it.
  session: { blocks: (f, inv) => !inv.masters.some((m) => m.name === f.host) },
  effects: true,
};

/** `kubeha rollback`: the cluster back to its primary alone (`--dry-run`: the plan only). */
export function run(ctx: CommandContext): Promise<ExitCode> {
  return ctx.values.dryRun ? showPlan(ctx, rollback) : carryOut(ctx, rollback);
}
